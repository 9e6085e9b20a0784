"""Loading models for prediction, and exporting them to ONNX with a parity proof.

Every byte loaded here comes through the artifact store, which re-hashes it
against the digest the registry recorded — a tampered file never reaches a
deserialiser.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from modelport.config import DEFAULT_RUNTIME, RUNTIMES
from modelport.core.formats import Predictor, get_format
from modelport.core.workspace import Workspace, current
from modelport.errors import ExportError, InvalidInputError, MissingDependencyError, NotFoundError
from modelport.lifecycle.refs import Ref
from modelport.lifecycle.registry import ModelVersion, Stored, get_version


def load_sample(version: ModelVersion, ws: Workspace | None = None) -> np.ndarray | None:
    """The rows recorded at registration for checking exports and warming servers."""
    if not version.sample_digest:
        return None
    ws = current(ws)
    return np.load(io.BytesIO(ws.artifacts.get(version.sample_digest)), allow_pickle=False)


def check_runtime(runtime: str) -> None:
    if runtime not in RUNTIMES:
        raise InvalidInputError(f"unknown runtime {runtime!r} — use one of {', '.join(RUNTIMES)}")


def artifact_for(version: ModelVersion, runtime: str = DEFAULT_RUNTIME) -> tuple[str, str]:
    """(format, digest) of the bytes ``runtime`` loads for ``version`` — the one place
    that choice is made, for in-process loads and for batch workers that load bytes.

    ``"onnx"``: the version's checked ONNX export (an error naming the command that makes
    one when there is none); ``"auto"``: that export when there is one, else the native
    artifact; ``"native"``: the artifact as registered."""
    check_runtime(runtime)
    if runtime == "onnx" and not version.onnx_ready and version.format != "onnx":
        raise NotFoundError(f"{version.ref} has no ONNX export that passed its parity check — "
                            f"create one with: modelport models export-onnx {version.ref}")
    if runtime != "native" and version.onnx_ready:
        assert version.onnx is not None
        return "onnx", str(version.onnx["digest"])
    return version.format, version.artifact_digest


def load(ref: str | Ref, runtime: str = DEFAULT_RUNTIME, ws: Workspace | None = None
         ) -> Predictor:
    """A ``Predictor`` for ``ref``, from the copy ``artifact_for`` chooses for ``runtime``."""
    check_runtime(runtime)
    ws = current(ws)
    return load_version(get_version(ref, ws=ws), runtime, ws)


def load_version(version: ModelVersion, runtime: str = DEFAULT_RUNTIME,
                 ws: Workspace | None = None) -> Predictor:
    """A ``Predictor`` for the version whose record ``version`` is: for a caller that keeps
    the record too (a stream stamps its log with the record's incarnation — the one it
    loaded, not whichever a second lookup would find)."""
    check_runtime(runtime)
    ws = current(ws)
    fmt, digest = artifact_for(version, runtime)
    predictor = get_format(fmt).load(ws.artifacts.get(digest), version.signature)
    if version.signature.text is not None:  # the tokenizer goes before the graph
        from modelport.core.formats.onnx_text import text_model

        predictor = text_model(getattr(predictor, "session", None), version.signature,
                               ws.artifacts.get(version.signature.text.tokenizer))
    predictor.name, predictor.version = version.name, version.version
    return predictor


def export_onnx(ref: str | Ref, ws: Workspace | None = None, stored: Stored | None = None
                ) -> ModelVersion:
    """Convert a version to ONNX, check parity on its example and sample rows, and
    record the result on the version (a failure is recorded too, then raised).

    ``stored``: the model as registration stored it (``registry.log_model``), already
    loaded from its bytes. It is converted only when its digest is the version's
    artifact digest; otherwise the artifact is loaded from the store as always."""
    from modelport.core.formats.onnx import check_parity, convert

    ws = current(ws)
    version = get_version(ref, ws=ws)
    if version.format == "onnx":
        raise InvalidInputError(f"{version.ref} is already an ONNX model")
    fmt = get_format(version.format)
    if stored is not None and stored.digest == version.artifact_digest:
        native = stored.model  # built by load_model from these very bytes: not loaded twice
    else:
        native = fmt.load_model(ws.artifacts.get(version.artifact_digest))
    rows = [r for r in (version.signature.to_matrix(version.input_example)
                        if version.input_example else None, load_sample(version, ws=ws))
            if r is not None]
    if not rows:
        raise ExportError(f"{version.ref} has no input example or sample to check an export on")
    try:
        data = convert(version.format, native, version.signature)
        onnx_fmt = get_format("onnx")
        parity = check_parity(fmt.predictor(native, version.signature),
                              onnx_fmt.load(data, version.signature), np.vstack(rows))
    except ExportError as exc:
        _record_onnx(ws, version, {"passed": False, "error": exc.message})
        raise
    digest = ws.artifacts.put(data)
    _record_onnx(ws, version, {"digest": digest, "size": len(data), **parity.to_dict()})
    if not parity.passed:
        raise ExportError(
            f"the ONNX copy of {version.ref} disagrees with the original (max abs difference "
            f"{parity.max_abs_diff:.3g}, labels agree on {parity.labels_agree:.1%} of "
            f"{parity.rows} rows) — it will not be served; the native runtime stays")
    return get_version(Ref(version.name, version=version.version), ws=ws)


def add_onnx_copy(ref: str | Ref, ws: Workspace | None = None, stored: Stored | None = None
                  ) -> ModelVersion:
    """The fast path by default: ``train``, ``tune`` and ``automl`` give the version they
    register its parity-checked ONNX copy, so serving it at once uses onnxruntime.

    A model that does not convert, or whose copy disagrees, is still registered and keeps
    its native runtime: the reason is recorded on the version (``onnx_note`` says it in
    one line), not raised. Without the ``onnx`` extra nothing is tried. ``stored``: as
    for ``export_onnx``.
    """
    try:
        return export_onnx(ref, ws=ws, stored=stored)
    except (ExportError, MissingDependencyError):
        return get_version(ref, ws=ws)


def onnx_note(version: ModelVersion) -> str:
    """One line on which runtime serves ``version``, and why not ONNX when it is not."""
    onnx = version.onnx
    if onnx is None:
        return (f"{version.ref} has no ONNX copy — its native runtime serves it "
                "(install modelport[onnx], then: modelport models export-onnx "
                f"{version.ref})")
    if onnx.get("passed"):
        return (f"{version.ref}: ONNX copy checked (max abs difference "
                f"{onnx['max_abs_diff']:.1g} on {onnx['rows']} rows) — onnxruntime serves it")
    reason = onnx.get("error") or (
        f"the copy disagrees with the original (max abs difference "
        f"{onnx['max_abs_diff']:.3g}, labels agree on {onnx['labels_agree']:.1%} of "
        f"{onnx['rows']} rows)")
    if "native runtime" not in reason:  # converters' own messages say it already
        reason += " — its native runtime serves it"
    return f"{version.ref} has no ONNX copy: {reason}"


def _record_onnx(ws: Workspace, version: ModelVersion, onnx: dict[str, Any]) -> None:
    ws.store.registry.set_onnx(version.name, version.version, onnx)
