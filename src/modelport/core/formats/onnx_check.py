"""What an ONNX artifact may contain before onnxruntime sees it.

A version's artifact is one blob in the content-addressed store: it has no
directory of its own, so a tensor stored as *external data* can only point at
some other file — and onnxruntime, given bytes, resolves a relative
``location`` against the process's working directory (a crafted model read the
workspace's signing key that way). So every tensor must be inside the model,
in the main graph, in subgraphs (``If``/``Loop``/``Scan`` bodies), in node
attributes and in model-local functions. Operators must come from the
standard domains: a custom domain names code outside the ONNX standard
(a contrib or custom-op library).

``modelport_edge.sessions.session_options`` adds the second layer: it points
onnxruntime's external data folder at an empty private directory, so even a
tensor the walk missed resolves nowhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from modelport.errors import InvalidInputError, UnsafeArtifactError, first_line

STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})
EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL: the bytes are in another file


def check_model(data: bytes) -> None:
    """Raise UnsafeArtifactError if ``data`` refers to external data or a custom domain.

    Read with protobuf alone (``onnx_proto``): serving needs no ``onnx`` package."""
    from modelport.core.formats.onnx_proto import parse_model

    try:
        model = parse_model(data)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise InvalidInputError(f"not a loadable ONNX model: {first_line(exc)}") from None
    nodes, tensors = walk_model(model)
    for node in nodes:  # first: the message names the operator, not only its domain
        _domain(node.domain, f"uses operator {node.op_type!r} from domain")
    for opset in model.opset_import:
        _domain(opset.domain, "imports opset domain")
    for function in model.functions:
        _domain(function.domain, f"defines function {function.name!r} in domain")
    for tensor in tensors:
        if is_external(tensor):
            raise UnsafeArtifactError(
                f"ONNX tensor {tensor.name!r} is stored outside the model "
                f"(external data {external_location(tensor)!r}) — embed it before "
                "registering: onnx.load(path) reads external data into the model")


def walk_model(model: Any) -> tuple[list[Any], list[Any]]:
    """Every node and every tensor of ``model`` (an ``onnx.ModelProto`` or one parsed by
    ``onnx_proto``): its graph, subgraphs and functions — the model's own messages, so a
    caller may fill a tensor in place."""
    nodes, tensors = _walk([model.graph], [])
    for function in model.functions:  # a function's body, and its attributes' defaults
        more_nodes, more_tensors = _walk([], list(function.node))
        nodes.extend(more_nodes)
        tensors.extend(more_tensors)
        for attr in function.attribute_proto:
            tensors.extend(_attribute_tensors(attr))
            more_nodes, more_tensors = _walk(_attribute_graphs(attr), [])
            nodes.extend(more_nodes)
            tensors.extend(more_tensors)
    return nodes, tensors


def is_external(tensor: Any) -> bool:
    return tensor.data_location == EXTERNAL or len(tensor.external_data) > 0


def external_location(tensor: Any) -> str:
    return next((e.value for e in tensor.external_data if e.key == "location"), "?")


def _domain(domain: str, what: str) -> None:
    if domain not in STANDARD_DOMAINS:
        raise UnsafeArtifactError(
            f"ONNX model {what} {domain!r}: only the standard domains (ai.onnx, ai.onnx.ml) "
            "are served")


def _walk(graphs: list[Any], body: list[Any]) -> tuple[list[Any], list[Any]]:
    """Every node and every tensor of ``graphs``, of the nodes ``body`` (a function's),
    and of their subgraphs."""
    nodes: list[Any] = []
    tensors: list[Any] = []
    stack = list(graphs)
    pending = list(body)
    while stack or pending:
        if stack:
            g = stack.pop()
            tensors.extend(g.initializer)
            for sparse in g.sparse_initializer:
                tensors.extend((sparse.values, sparse.indices))
            pending.extend(g.node)
        for node in pending:
            nodes.append(node)
            for attr in node.attribute:
                tensors.extend(_attribute_tensors(attr))
                stack.extend(_attribute_graphs(attr))
        pending = []
    return nodes, tensors


def _attribute_tensors(attr: Any) -> Iterator[Any]:
    if attr.HasField("t"):
        yield attr.t
    yield from attr.tensors
    for sparse in ([attr.sparse_tensor] if attr.HasField("sparse_tensor") else []):
        yield from (sparse.values, sparse.indices)
    for sparse in attr.sparse_tensors:
        yield from (sparse.values, sparse.indices)


def _attribute_graphs(attr: Any) -> list[Any]:
    return ([attr.g] if attr.HasField("g") else []) + list(attr.graphs)
