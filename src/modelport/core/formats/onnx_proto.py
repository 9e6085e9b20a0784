"""The part of ONNX's file format that serving reads, parsed with protobuf alone.

Why not the ``onnx`` package: serving an ONNX copy only has to walk the graph
before onnxruntime gets it (``onnx_check``) and read a linear model's
coefficients (``linear``). ``onnx`` brings 55 MB for that (its reference
implementation, its backend test data, ``ml_dtypes``) — a fifth of a serving
image. The messages below are the subset of ``onnx.proto`` those two readers
use, built at import in a private descriptor pool, as the OIP gRPC messages
are (``grpc_messages``): protobuf keeps any field not named here as an unknown
field, so a model parses whatever else it holds, and the field numbers are
checked against ``onnx``'s own descriptors in the tests.

The parsed messages have ``onnx``'s field names, so the walkers take either
these or ``onnx.ModelProto`` (``modelport models import`` reads files with
``onnx`` itself, where the exporters and converters are installed anyway).
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

PACKAGE = "modelport.onnx_subset"  # never ``onnx``: that package's pool stays its own

# TensorProto.data_location: the tensor's bytes are in another file
EXTERNAL = 1
# AttributeProto.type → the field holding the value, for the types ``attribute_value`` reads
_VALUE_FIELDS = {1: "f", 2: "i", 3: "s", 6: "floats", 7: "ints", 8: "strings"}
_REPEATED = frozenset({6, 7, 8})

_F = descriptor_pb2.FieldDescriptorProto
_SCALARS = {"int32": _F.TYPE_INT32, "int64": _F.TYPE_INT64, "float": _F.TYPE_FLOAT,
            "double": _F.TYPE_DOUBLE, "string": _F.TYPE_STRING, "bytes": _F.TYPE_BYTES,
            "uint64": _F.TYPE_UINT64}
# message: [(field, number, type)], "*T" a repeated T; enums are read as their int32
_ENTRY = [("key", 1, "string"), ("value", 2, "string")]
MESSAGES: dict[str, list[tuple[str, int, str]]] = {
    "StringStringEntryProto": _ENTRY,
    "OperatorSetIdProto": [("domain", 1, "string"), ("version", 2, "int64")],
    "TensorProto": [("dims", 1, "*int64"), ("data_type", 2, "int32"),
                    ("float_data", 4, "*float"), ("int32_data", 5, "*int32"),
                    ("string_data", 6, "*bytes"), ("int64_data", 7, "*int64"),
                    ("name", 8, "string"), ("raw_data", 9, "bytes"),
                    ("double_data", 10, "*double"), ("uint64_data", 11, "*uint64"),
                    ("external_data", 13, "*StringStringEntryProto"),
                    ("data_location", 14, "int32")],
    "SparseTensorProto": [("values", 1, "TensorProto"), ("indices", 2, "TensorProto"),
                          ("dims", 3, "*int64")],
    "AttributeProto": [("name", 1, "string"), ("f", 2, "float"), ("i", 3, "int64"),
                       ("s", 4, "bytes"), ("t", 5, "TensorProto"), ("g", 6, "GraphProto"),
                       ("floats", 7, "*float"), ("ints", 8, "*int64"),
                       ("strings", 9, "*bytes"), ("tensors", 10, "*TensorProto"),
                       ("graphs", 11, "*GraphProto"), ("type", 20, "int32"),
                       ("sparse_tensor", 22, "SparseTensorProto"),
                       ("sparse_tensors", 23, "*SparseTensorProto")],
    "NodeProto": [("input", 1, "*string"), ("output", 2, "*string"), ("name", 3, "string"),
                  ("op_type", 4, "string"), ("attribute", 5, "*AttributeProto"),
                  ("domain", 7, "string")],
    "ValueInfoProto": [("name", 1, "string")],
    "GraphProto": [("node", 1, "*NodeProto"), ("name", 2, "string"),
                   ("initializer", 5, "*TensorProto"), ("input", 11, "*ValueInfoProto"),
                   ("output", 12, "*ValueInfoProto"),
                   ("sparse_initializer", 15, "*SparseTensorProto")],
    "FunctionProto": [("name", 1, "string"), ("node", 7, "*NodeProto"),
                      ("opset_import", 9, "*OperatorSetIdProto"), ("domain", 10, "string"),
                      ("attribute_proto", 11, "*AttributeProto")],
    "ModelProto": [("ir_version", 1, "int64"), ("producer_name", 2, "string"),
                   ("producer_version", 3, "string"), ("graph", 7, "GraphProto"),
                   ("opset_import", 8, "*OperatorSetIdProto"),
                   ("metadata_props", 14, "*StringStringEntryProto"),
                   ("functions", 25, "*FunctionProto")],
}


def _build() -> dict[str, Any]:
    file = descriptor_pb2.FileDescriptorProto(name="modelport/onnx_subset.proto",
                                              package=PACKAGE, syntax="proto2")
    for name, fields in MESSAGES.items():
        message = file.message_type.add(name=name)
        for field_name, number, kind in fields:
            field = message.field.add(name=field_name, number=number, label=_F.LABEL_OPTIONAL)
            if kind.startswith("*"):
                kind, field.label = kind[1:], _F.LABEL_REPEATED
            if kind in _SCALARS:
                field.type = _SCALARS[kind]
            else:
                field.type, field.type_name = _F.TYPE_MESSAGE, f".{PACKAGE}.{kind}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.{name}"))
            for name in MESSAGES}


TYPES = _build()


def parse_model(data: bytes) -> Any:
    """The ``ModelProto`` in ``data`` (protobuf's ``DecodeError`` when it is not one)."""
    model = TYPES["ModelProto"]()
    model.ParseFromString(data)
    return model


def attribute_value(attr: Any) -> Any:
    """A number, bytes, or a list of them: the value of a node attribute of those types
    (None for tensors, graphs and the rest, which the readers here never use)."""
    field = _VALUE_FIELDS.get(attr.type)
    if field is None:
        return None
    value = getattr(attr, field)
    return list(value) if attr.type in _REPEATED else value
