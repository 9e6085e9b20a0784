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


def check_model(data: bytes) -> None:
    """Raise UnsafeArtifactError if ``data`` refers to external data or a custom domain."""
    import onnx

    try:
        model = onnx.load_from_string(data)
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
    """Every node and every tensor of ``model``: its graph, subgraphs and functions."""
    nodes: list[Any] = []
    tensors: list[Any] = []
    for graph in [model.graph, *(_function_graph(f) for f in model.functions)]:
        more_nodes, more_tensors = _walk(graph)
        nodes.extend(more_nodes)
        tensors.extend(more_tensors)
    return nodes, tensors


def is_external(tensor: Any) -> bool:
    import onnx

    return tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data) > 0


def external_location(tensor: Any) -> str:
    return next((e.value for e in tensor.external_data if e.key == "location"), "?")


def _domain(domain: str, what: str) -> None:
    if domain not in STANDARD_DOMAINS:
        raise UnsafeArtifactError(
            f"ONNX model {what} {domain!r}: only the standard domains (ai.onnx, ai.onnx.ml) "
            "are served")


def _function_graph(function: Any) -> Any:
    import onnx

    return onnx.helper.make_graph(list(function.node), function.name, [], [])


def _walk(graph: Any) -> tuple[list[Any], list[Any]]:
    """Every node and every tensor of ``graph`` and its subgraphs."""
    nodes: list[Any] = []
    tensors: list[Any] = []
    stack = [graph]
    while stack:
        g = stack.pop()
        tensors.extend(g.initializer)
        for sparse in g.sparse_initializer:
            tensors.extend((sparse.values, sparse.indices))
        for node in g.node:
            nodes.append(node)
            for attr in node.attribute:
                tensors.extend(_attribute_tensors(attr))
                stack.extend(_attribute_graphs(attr))
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
