"""Reading an ONNX file trained elsewhere into the one blob a version keeps.

A graph exported from PyTorch or TensorFlow may keep its weights as *external
data*: files beside the ``.onnx`` that its tensors name by relative path. A
version's artifact has no directory, so the import reads those files into the
model — but only files inside the imported file's own directory: a location
that is absolute, climbs out with ``..`` or goes through a symbolic link to
elsewhere is refused (a crafted model would otherwise copy any readable file
into the registry). The embedded model then passes the same checks as every
ONNX artifact (``onnx_check``), and every operator must be one the installed
ONNX standard defines at the graph's opset — refused naming the operator, at
import, not at the first request.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelport.core.formats import onnx_check
from modelport.errors import InvalidInputError, UnsafeArtifactError, first_line, require

STANDARD_OPSET_DOMAINS = ("", "ai.onnx")


@dataclass(frozen=True)
class ImportedGraph:
    """A graph ready to register: its self-contained bytes and what it says of itself."""

    data: bytes
    opset: int
    producer: str
    metadata: dict[str, str]
    external_files: int


def read_graph(path: Path) -> ImportedGraph:
    """The checked, self-contained bytes of the ONNX file at ``path``."""
    onnx = require("onnx", "onnx")
    if not path.is_file():
        raise InvalidInputError(f"no ONNX file at {path}")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise InvalidInputError(f"{path.name} is not an ONNX model: {first_line(exc)}") from None
    nodes, tensors = onnx_check.walk_model(model)
    opset = _check_operators(model, nodes)
    files = _embed_external(tensors, path.parent)
    try:
        data = bytes(model.SerializeToString())
    except ValueError as exc:  # protobuf's 2 GB limit
        raise InvalidInputError(f"{path.name} is too large to keep as one model: "
                                f"{first_line(exc)}") from None
    onnx_check.check_model(data)
    producer = " ".join(p for p in (model.producer_name, model.producer_version) if p)
    return ImportedGraph(data, opset, producer or "unknown",
                         {p.key: p.value for p in model.metadata_props}, files)


def embedding_rows(data: bytes, ids: str) -> int | None:
    """The rows of the embedding table the graph looks ``ids`` up in (a ``Gather`` of
    an initializer by that input), or None when the graph has no such lookup."""
    import onnx

    model = onnx.load_from_string(data)
    tables = {t.name: t for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Gather" and len(node.input) == 2 and node.input[1] == ids \
                and node.input[0] in tables and tables[node.input[0]].dims:
            return int(tables[node.input[0]].dims[0])
    return None


def _check_operators(model: Any, nodes: list[Any]) -> int:
    """The graph's standard opset; every operator must be defined at it."""
    import onnx

    newest = onnx.defs.onnx_opset_version()
    versions = {o.domain: o.version for o in model.opset_import}
    opset = next((versions[d] for d in STANDARD_OPSET_DOMAINS if d in versions), None)
    if opset is None:
        raise InvalidInputError("the graph imports no standard ONNX opset (ai.onnx)")
    if not 1 <= opset <= newest:
        raise InvalidInputError(f"the graph uses opset {opset}; this installation supports "
                                f"opsets 1 to {newest}")
    for node in nodes:
        if node.domain not in onnx_check.STANDARD_DOMAINS:
            raise UnsafeArtifactError(
                f"operator {node.op_type!r} is from domain {node.domain!r}, not from the ONNX "
                "standard (ai.onnx, ai.onnx.ml) — a custom operator is not served; export "
                "the model with standard operators only")
        domain_version = versions.get(node.domain, opset)
        if not onnx.defs.has(node.op_type, node.domain) or \
                _since(node.op_type, domain_version, node.domain) is None:
            raise InvalidInputError(f"operator {node.op_type!r} is not defined at opset "
                                    f"{domain_version} of the ONNX standard — it is not served")
    return int(opset)


def _since(op_type: str, version: int, domain: str) -> int | None:
    import onnx

    try:
        return int(onnx.defs.get_schema(op_type, version, domain).since_version)
    except onnx.defs.SchemaError:  # defined only at later opsets
        return None


def _embed_external(tensors: list[Any], folder: Path) -> int:
    """Read every external tensor's bytes into the model (from inside ``folder`` only)."""
    import onnx
    from onnx.external_data_helper import load_external_data_for_tensor

    root = folder.resolve()
    files = set()
    for tensor in tensors:
        if not onnx_check.is_external(tensor):
            continue
        location = onnx_check.external_location(tensor)
        target = (root / location).resolve()
        if Path(location).is_absolute() or not target.is_relative_to(root) \
                or not target.is_file():
            raise UnsafeArtifactError(
                f"ONNX tensor {tensor.name!r} names external data {location!r}, which is not "
                "a file inside the model's own directory — only files beside the model are "
                "imported with it")
        try:
            load_external_data_for_tensor(tensor, str(root))
        except Exception as exc:  # a short file, a bad offset
            raise InvalidInputError(f"external data {location!r} of tensor {tensor.name!r} "
                                    f"cannot be read: {first_line(exc)}") from None
        tensor.data_location = onnx.TensorProto.DEFAULT
        del tensor.external_data[:]
        files.add(target)
    return len(files)
