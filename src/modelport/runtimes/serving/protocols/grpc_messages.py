"""The Open Inference Protocol's gRPC messages, built at import from the table below.

Why not ``protoc``-generated ``_pb2`` modules, as most servers ship: generated
code refuses to load under a protobuf runtime of another major version, and
the packages users install beside us pull protobuf both ways (``onnx`` takes
7.x, ``tritonclient`` pins 6.x). A descriptor built at run time loads on
either. The messages live in a private descriptor pool, so a client's own
copy of the ``inference`` package (``tritonclient.grpc``) in the same process
never collides with ours; on the wire only field numbers and the service's
method paths matter.

The table follows the KServe / Open Inference Protocol ``grpc_predict_v2``
definition, plus Triton's ``ModelStreamInfer`` response, which
``tritonclient``'s streaming API uses.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

PACKAGE = "inference"
SERVICE = f"{PACKAGE}.GRPCInferenceService"

_F = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    "bool": _F.TYPE_BOOL, "int32": _F.TYPE_INT32, "int64": _F.TYPE_INT64,
    "uint32": _F.TYPE_UINT32, "uint64": _F.TYPE_UINT64, "float": _F.TYPE_FLOAT,
    "double": _F.TYPE_DOUBLE, "string": _F.TYPE_STRING, "bytes": _F.TYPE_BYTES,
}

# message: [(field, number, type)], where a type is a scalar, a message name, "*T" for a
# repeated T, "{T}" for map<string, T>, or "|T" for a member of the message's one oneof
_TENSOR = [("name", 1, "string"), ("datatype", 2, "string"), ("shape", 3, "*int64"),
           ("parameters", 4, "{InferParameter}"), ("contents", 5, "InferTensorContents")]
MESSAGES: dict[str, list[tuple[str, int, str]]] = {
    "ServerLiveRequest": [],
    "ServerLiveResponse": [("live", 1, "bool")],
    "ServerReadyRequest": [],
    "ServerReadyResponse": [("ready", 1, "bool")],
    "ModelReadyRequest": [("name", 1, "string"), ("version", 2, "string")],
    "ModelReadyResponse": [("ready", 1, "bool")],
    "ServerMetadataRequest": [],
    "ServerMetadataResponse": [("name", 1, "string"), ("version", 2, "string"),
                               ("extensions", 3, "*string")],
    "ModelMetadataRequest": [("name", 1, "string"), ("version", 2, "string")],
    "TensorMetadata": [("name", 1, "string"), ("datatype", 2, "string"), ("shape", 3, "*int64")],
    "ModelMetadataResponse": [("name", 1, "string"), ("versions", 2, "*string"),
                              ("platform", 3, "string"), ("inputs", 4, "*TensorMetadata"),
                              ("outputs", 5, "*TensorMetadata"),
                              ("properties", 6, "{string}")],
    "InferParameter": [("bool_param", 1, "|bool"), ("int64_param", 2, "|int64"),
                       ("string_param", 3, "|string"), ("double_param", 4, "|double"),
                       ("uint64_param", 5, "|uint64")],
    "InferTensorContents": [("bool_contents", 1, "*bool"), ("int_contents", 2, "*int32"),
                            ("int64_contents", 3, "*int64"), ("uint_contents", 4, "*uint32"),
                            ("uint64_contents", 5, "*uint64"), ("fp32_contents", 6, "*float"),
                            ("fp64_contents", 7, "*double"), ("bytes_contents", 8, "*bytes")],
    "InferInputTensor": _TENSOR,
    "InferOutputTensor": _TENSOR,
    "InferRequestedOutputTensor": [("name", 1, "string"), ("parameters", 2, "{InferParameter}")],
    "ModelInferRequest": [("model_name", 1, "string"), ("model_version", 2, "string"),
                          ("id", 3, "string"), ("parameters", 4, "{InferParameter}"),
                          ("inputs", 5, "*InferInputTensor"),
                          ("outputs", 6, "*InferRequestedOutputTensor"),
                          ("raw_input_contents", 7, "*bytes")],
    "ModelInferResponse": [("model_name", 1, "string"), ("model_version", 2, "string"),
                           ("id", 3, "string"), ("parameters", 4, "{InferParameter}"),
                           ("outputs", 5, "*InferOutputTensor"),
                           ("raw_output_contents", 6, "*bytes")],
    "ModelStreamInferResponse": [("error_message", 1, "string"),
                                 ("infer_response", 2, "ModelInferResponse")],
}


def _field(message: descriptor_pb2.DescriptorProto, name: str, number: int, kind: str) -> None:
    field = message.field.add(name=name, number=number, label=_F.LABEL_OPTIONAL)
    if kind.startswith("|"):
        kind = kind[1:]
        if not message.oneof_decl:
            message.oneof_decl.add(name="choice")
        field.oneof_index = 0
    elif kind.startswith("*"):
        kind, field.label = kind[1:], _F.LABEL_REPEATED
    elif kind.startswith("{"):  # map<string, T>: a repeated nested entry message
        value, entry_name = kind[1:-1], name.title().replace("_", "") + "Entry"
        entry = message.nested_type.add(name=entry_name)
        entry.options.map_entry = True
        _field(entry, "key", 1, "string")
        _field(entry, "value", 2, value)
        kind, field.label = f"{message.name}.{entry_name}", _F.LABEL_REPEATED
    if kind in _SCALARS:
        field.type = _SCALARS[kind]
    else:
        field.type, field.type_name = _F.TYPE_MESSAGE, f".{PACKAGE}.{kind}"


def _build() -> dict[str, Any]:
    file = descriptor_pb2.FileDescriptorProto(name="modelport/oip_grpc.proto", package=PACKAGE,
                                              syntax="proto3")
    for name, fields in MESSAGES.items():
        message = file.message_type.add(name=name)
        for field_name, number, kind in fields:
            _field(message, field_name, number, kind)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.{name}"))
            for name in MESSAGES}


TYPES = _build()
