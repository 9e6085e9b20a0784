"""Building a signed bundle from a registered version: ONNX, optional int8, manifest, signature.

The bundle's model is the version's checked ONNX export (made on the spot if
there is none yet), or that export dynamically quantized to int8. Either way
the copy is compared with the *source* model on the version's example and
sample rows, and the result goes into the manifest: a device, or a person,
can see how far the bundle is from what was trained. Quantization is refused
when it moves labels on more than ``MIN_LABEL_AGREEMENT`` of the rows (or a
regressor's values by more than ``MAX_REL_ERROR`` of their range).

The smoke rows a device replays in its health check carry the outputs of the
bundle's own model, computed by the same ``modelport_edge`` code the device
runs — so a healthy device reproduces them exactly, quantized or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelport.core.artifacts import write_whole
from modelport.core.formats import get_format
from modelport.core.formats.onnx import check_parity
from modelport.core.workspace import Workspace, current
from modelport.errors import ExportError, InvalidInputError, require
from modelport.lifecycle.loading import export_onnx, load_sample
from modelport.lifecycle.registry import ModelVersion, get_version
from modelport.runtimes.edge import signing
from modelport.runtimes.edge.quantize import quantize_int8

QUANTIZE = ("int8",)
SMOKE_ROWS = 16
MIN_LABEL_AGREEMENT = 0.98
MAX_REL_ERROR = 0.05
SMOKE_ATOL = 1e-4


@dataclass(frozen=True)
class ExportedBundle:
    data: bytes
    digest: str
    manifest: dict[str, Any]
    path: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        m = self.manifest
        return {"path": str(self.path) if self.path else None, "digest": self.digest,
                "size": len(self.data), "model": m["model"], "version": m["version"],
                "key_id": m["key_id"], "quantized": m["quantized"], "parity": m["parity"],
                "sizes": m["sizes"]}


def build_bundle(ref: str, key: str | None = None, quantize: str | None = None,
                 ws: Workspace | None = None) -> ExportedBundle:
    """A signed bundle of ``ref`` (bytes, digest and manifest), not yet written anywhere."""
    require("onnxruntime", "onnx")
    if quantize not in (None, *QUANTIZE):
        raise InvalidInputError(f"unknown quantization {quantize!r} — use int8")
    ws = current(ws)
    private = signing.load_private(signing.choose(key))
    version = get_version(ref, ws=ws)
    if version.signature.tensors is not None:  # imported: the graph is the model
        from modelport.runtimes.edge.graph_export import graph_part

        part = graph_part(version, quantize, ws)
        manifest = _manifest(version, {"format": "onnx", "artifact_sha256":
                                       version.artifact_digest}, part.quantized,
                             part.parity,
                             {"source_onnx": version.artifact_size, "model": len(part.data)})
        if part.tokenizer is not None:
            manifest["tokenizer"] = part.tokenizer
        return _signed(manifest, part.data, part.smoke, private)
    if not version.onnx_ready:
        version = export_onnx(version.ref, ws=ws)
    assert version.onnx is not None
    onnx_bytes = ws.artifacts.get(version.onnx["digest"])
    # before the quantizer loads it from a file: no external data, no custom operators
    get_format("onnx").check(onnx_bytes)
    model_bytes, quantized = onnx_bytes, None
    if quantize == "int8":
        model_bytes, quantized = quantize_int8(onnx_bytes)
    rows = _rows(version, ws)
    source = get_format(version.format).load(ws.artifacts.get(version.artifact_digest),
                                              version.signature)
    copy = get_format("onnx").load(model_bytes, version.signature)
    parity = check_parity(source, copy, rows).to_dict()
    if quantized:
        _accept_quantized(version, parity, source.predict_outputs(rows), copy, rows)
    manifest = _manifest(version, {"format": version.format,
                                   "artifact_sha256": version.artifact_digest,
                                   "onnx_sha256": version.onnx["digest"]}, quantized,
                         {"against": "source model", **parity},
                         {"source_onnx": len(onnx_bytes), "model": len(model_bytes)})
    return _signed(manifest, model_bytes, rows[:SMOKE_ROWS].astype(np.float32).tolist(),
                   private)


def _manifest(version: ModelVersion, source: dict[str, Any], quantized: dict[str, Any] | None,
              parity: dict[str, Any], sizes: dict[str, int]) -> dict[str, Any]:
    # no timestamp: the same version, key and options give the same bytes, so
    # re-publishing (widening a canary) announces the same digest
    return {"model": version.name, "version": version.version,
            "signature": version.signature.to_dict(), "source": source,
            "quantized": quantized, "parity": parity, "sizes": sizes}


def _signed(manifest: dict[str, Any], model_bytes: bytes, smoke: Any, private: Any
            ) -> ExportedBundle:
    """The bundle signed, its smoke inputs answered by the very code a device runs."""
    from modelport_edge.bundle import Bundle, pack, read_bundle, sha256
    from modelport_edge.runtime import EdgeModel
    from modelport_edge.trust import Trust

    own = EdgeModel(Bundle({**manifest, "smoke": {}}, model_bytes, "", "", 0))
    expected = own.predict(smoke)
    manifest["smoke"] = {"inputs": smoke, "atol": SMOKE_ATOL, "rtol": SMOKE_ATOL,
                         "expected": {k: np.asarray(v).tolist() for k, v in expected.items()}}
    data = pack(manifest, model_bytes, private)
    # read back as a device would: what we hand out must verify
    verified = read_bundle(data, Trust([private.public_key()]))
    return ExportedBundle(data, sha256(data), verified.manifest)


def export_bundle(ref: str, out: str | Path, key: str | None = None,
                  quantize: str | None = None, ws: Workspace | None = None) -> ExportedBundle:
    """Build the bundle of ``ref`` and write it to ``out`` (atomically)."""
    bundle = build_bundle(ref, key=key, quantize=quantize, ws=ws)
    path = Path(out)
    write_whole(path, bundle.data)
    return ExportedBundle(bundle.data, bundle.digest, bundle.manifest, path)


def _rows(version: ModelVersion, ws: Workspace) -> np.ndarray:
    parts = []
    if version.input_example:
        parts.append(version.signature.to_matrix(version.input_example))
    sample = load_sample(version, ws=ws)
    if sample is not None:
        parts.append(sample)
    if not parts:
        raise ExportError(f"{version.ref} has no input example or sample rows to check a "
                          "bundle on")
    return np.vstack(parts).astype(np.float64)


def _accept_quantized(version: ModelVersion, parity: dict[str, Any],
                      reference: dict[str, np.ndarray], copy: Any, rows: np.ndarray) -> None:
    if version.signature.classes is not None:
        if parity["labels_agree"] < MIN_LABEL_AGREEMENT:
            raise ExportError(
                f"int8 quantization of {version.ref} changes the label of "
                f"{1 - parity['labels_agree']:.1%} of {parity['rows']} rows (limit "
                f"{1 - MIN_LABEL_AGREEMENT:.0%}) — export it without --quantize")
        return
    ref = np.asarray(reference["prediction"], dtype=np.float64)
    got = np.asarray(copy.predict_outputs(rows.astype(np.float32))["prediction"], dtype=float)
    spread = float(np.ptp(ref)) or 1.0
    rel = float(np.max(np.abs(ref - got))) / spread
    parity["max_rel_error"] = rel
    if rel > MAX_REL_ERROR:
        raise ExportError(f"int8 quantization of {version.ref} moves predictions by up to "
                          f"{rel:.1%} of their range (limit {MAX_REL_ERROR:.0%}) — export it "
                          "without --quantize")
