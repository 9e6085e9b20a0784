"""The model registry: names, immutable numbered versions, aliases and tags.

A version's artifact is written to the content-addressed store *before* its
metadata commits, and removed again if the commit fails, so the registry never
points at bytes it does not have. Version numbers are handed out atomically by
the store (``core/store/registry``): concurrent writers — threads, processes,
machines sharing PostgreSQL — each get their own number.

NumPy, the signature and the model formats are imported by the functions that
handle a model, not by the module: ``modelport models list`` only reads rows,
and a command line starts in a fraction of a second only without them.

>>> version = modelport.register_model("iris", clf, X=frame)   # doctest: +SKIP
>>> modelport.set_alias("iris", "champion", version.version)   # doctest: +SKIP
>>> modelport.load("iris@champion").predict(frame.head(3))      # doctest: +SKIP
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from modelport.core.store.registry import (
    Model,
    NewVersion,
    Registration,
    VersionRecord,
    missing_model,
)
from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError, NotFoundError
from modelport.lifecycle.refs import (
    DEFAULT_ALIAS,
    LATEST,
    Ref,
    check_alias,
    check_name,
    parse_ref,
)
from modelport.lifecycle.tracking import _key, _text

log = logging.getLogger("modelport.registry")

if TYPE_CHECKING:
    import numpy as np

    from modelport.core.formats.base import Predictor
    from modelport.core.logfiles import KeptLogFiles
    from modelport.core.signature import ColumnSpec, Signature

SAMPLE_ROWS = 200
EXAMPLE_ROWS = 5


@dataclass
class ModelVersion:
    name: str
    version: int
    format: str
    artifact_digest: str
    artifact_size: int
    signature: Signature
    input_example: list[dict[str, Any]] | None
    metrics: dict[str, float]
    run_id: str | None
    dataset_digest: str | None
    description: str
    onnx: dict[str, Any] | None
    created: float
    sample_digest: str | None = None
    profile_digest: str | None = None  # the training data's profile (lifecycle/profile.py)
    aliases: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def incarnation(self) -> str:
        """This registration of ``name:version`` as its log files name it
        (``core/incarnation.py``): a later model of the name reuses the number, not this."""
        from modelport.core.incarnation import incarnation

        return incarnation(self.name, self.version, self.created, self.artifact_digest)

    @property
    def onnx_ready(self) -> bool:
        return bool(self.onnx and self.onnx.get("passed"))

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "signature"}
        out["signature"] = self.signature.to_dict()
        return out


# ---------------------------------------------------------------- registering

@dataclass
class Described:
    """A trained model ready to store: its bytes and what the registry records of it."""

    format: str
    data: bytes
    signature: Signature
    example: list[dict[str, Any]]
    sample: np.ndarray
    profile: bytes  # the training data's profile (lifecycle/profile.py), JSON
    model: Any  # the native model ``Format.load_model`` built from ``data``


@dataclass(frozen=True)
class Stored:
    """A model as it was stored: the digest of its bytes and the native object that
    ``Format.load_model`` built from exactly those bytes (so through the format's checks:
    skops' types from modelport's allow-list, the trees' structure), never the object
    that was trained. Registration hands it to the ONNX export (``loading.export_onnx``)
    so the export need not load the same bytes again; the export takes it only for the
    version whose artifact has this digest."""

    digest: str
    model: Any


def describe(model: Any, X: Any, sample: Any = None, inputs: Sequence[ColumnSpec] | None = None
             ) -> Described:
    """Bytes, signature, input example and parity sample of ``model`` trained on frame
    ``X`` (the raw frame: its text columns give the example; ``inputs`` their categories).
    The signature records whether the model takes missing values (``takes_missing``)."""
    import numpy as np
    import pandas as pd

    from modelport.core.formats import format_for
    from modelport.core.signature import Signature
    from modelport.lifecycle.estimators import task_of

    if not isinstance(X, pd.DataFrame):
        X = pd.DataFrame(np.asarray(X)).rename(columns=lambda i: f"f{i}")
    classes = getattr(model, "classes_", None) if task_of(model) == "classification" else None
    prediction_dtype = np.asarray(classes).dtype.name if classes is not None else "float64"
    signature = Signature.infer(X, classes=classes, prediction_dtype=prediction_dtype,
                                inputs=inputs)
    example = json.loads(X.head(EXAMPLE_ROWS).to_json(orient="records"))
    rows = X if sample is None else sample
    matrix = signature.to_matrix(rows.head(SAMPLE_ROWS) if hasattr(rows, "head")
                                 else np.asarray(rows)[:SAMPLE_ROWS])
    fmt = format_for(model)
    data = fmt.dump(model)
    stored = fmt.load_model(data)  # as every runtime will see it
    predictor = fmt.predictor(stored, signature)
    signature = replace(signature, takes_missing=takes_missing(predictor, matrix))
    return Described(fmt.name, data, signature, example, matrix,
                     training_profile(predictor, signature, X), stored)


def training_profile(predictor: Predictor, signature: Signature, X: Any) -> bytes:
    """The profile monitoring compares served traffic with: the training rows (a random
    sample of ``profile.MAX_ROWS`` at most) and the model's predictions on a part of them.
    Rows the model may not take (a missing value it cannot answer) are profiled as
    features but not predicted."""
    import numpy as np

    from modelport.lifecycle import profile

    if len(X) > profile.MAX_ROWS:
        X = X.sample(n=profile.MAX_ROWS, random_state=0)
    matrix = signature.to_matrix(X, check=False)
    rows = profile.sample_rows(matrix, profile.MAX_PREDICTED_ROWS)
    rows = rows[~np.isin(np.arange(len(rows)), list(signature.refused(rows)))]
    predictions = predictor.outputs_of_matrix(np.asarray(rows, predictor.input_dtype))
    return profile.encode(profile.build(signature, matrix, predictions["prediction"]))


def takes_missing(predictor: Predictor, sample: np.ndarray) -> bool:
    """Whether a model answers rows with missing values (NaN) — asked of the model itself.

    Estimator tags cannot say it for a pipeline (scikit-learn's Pipeline reports no
    ``allow_nan`` even behind an imputer), so the model's own predictor gets a few rows
    of the sample with a NaN in every column: a model that raises, or answers NaN,
    cannot take them, and its signature refuses them at the door (``Signature.to_matrix``).
    """
    import warnings

    import numpy as np

    width = len(predictor.signature.inputs)
    if not width:
        return True
    base = sample[:1] if len(sample) else np.zeros((1, width))
    rows = min(width, 16)
    probe = np.repeat(np.asarray(base, predictor.input_dtype), rows, axis=0)
    for j in range(width):
        probe[j % rows, j] = np.nan
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outputs = predictor.outputs_of_matrix(probe)
    except Exception:  # whatever the model raises on NaN: it cannot take them
        return False
    return all(np.isfinite(out).all() for out in map(np.asarray, outputs.values())
               if out.dtype.kind == "f")


def _npy(matrix: np.ndarray) -> bytes:
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(matrix, dtype=np.float64), allow_pickle=False)
    return buf.getvalue()


def register_model(name: str, model: Any, *, X: Any, sample: Any = None,
                   metrics: Mapping[str, float] | None = None, run_id: str | None = None,
                   dataset_digest: str | None = None, description: str = "",
                   tags: Mapping[str, str] | None = None, ws: Workspace | None = None
                   ) -> ModelVersion:
    """Register a trained model as the next version of ``name``.

    ``X`` is (a sample of) the training features: it gives the signature, the
    input example and the rows on which exports are checked.
    """
    check_name(name)
    d = describe(model, X, sample)
    return register_artifact(
        name, d.format, d.data, d.signature, example=d.example, sample=d.sample,
        metrics=metrics, run_id=run_id, dataset_digest=dataset_digest, description=description,
        tags=tags, profile=d.profile, ws=ws)


def register_artifact(name: str, format: str, data: bytes, signature: Signature, *,
                      example: list[dict[str, Any]] | None = None, sample: np.ndarray | None = None,
                      metrics: Mapping[str, float] | None = None, run_id: str | None = None,
                      dataset_digest: str | None = None, description: str = "",
                      tags: Mapping[str, str] | None = None, profile: bytes | None = None,
                      ws: Workspace | None = None) -> ModelVersion:
    """Register already-serialised model bytes; the common path of every registration.

    ``profile``: the training data's profile (``training_profile``), stored as an artifact
    the version names (``profile_digest``); monitoring compares served traffic with it."""
    ws = current(ws)
    entry = store_artifacts(
        ws, name, format, data, signature, example=example, sample=sample, metrics=metrics,
        run_id=run_id, dataset_digest=dataset_digest, description=description, tags=tags,
        profile=profile)
    version = ws.store.registry.create_version(name, entry.version, entry.tags, time.time())
    return get_version(Ref(name, version=version), ws=ws)


def store_artifacts(ws: Workspace, name: str, format: str, data: bytes, signature: Signature, *,
                    example: list[dict[str, Any]] | None = None,
                    sample: np.ndarray | None = None,
                    metrics: Mapping[str, float] | None = None, run_id: str | None = None,
                    dataset_digest: str | None = None, description: str = "",
                    tags: Mapping[str, str] | None = None, profile: bytes | None = None
                    ) -> Registration:
    """Check a version and store its blobs (the model's bytes, its sample, its profile):
    what registering it records.

    If recording it then fails, the blobs stay: nothing names them, but a writer of the
    same bytes (models trained on the same rows share their sample and profile) may have
    found them stored a moment ago, for a version it is about to record. The collector
    (``modelport gc``) removes them once no record names them and the grace period
    since they were last stored — or found stored — has passed."""
    from modelport.core.formats import get_format

    check_name(name)
    get_format(format).check(data)
    tag_rows = {_key(k): _text(k, v, 8000, "tag") for k, v in (tags or {}).items()}
    artifact_digest = ws.artifacts.put(data)
    sample_digest = ws.artifacts.put(_npy(sample)) if sample is not None else None
    profile_digest = ws.artifacts.put(profile) if profile is not None else None
    record = NewVersion(
        format=format, artifact_digest=artifact_digest, artifact_size=len(data),
        sample_digest=sample_digest, profile_digest=profile_digest,
        signature=signature.to_dict(),
        input_example=example, metrics={k: float(v) for k, v in (metrics or {}).items()},
        run_id=run_id, dataset_digest=dataset_digest, description=description)
    return Registration(name, record, tag_rows)


# ---------------------------------------------------------------- reading

def version_of(record: VersionRecord) -> ModelVersion:
    from modelport.core.signature import Signature

    data: dict[str, Any] = dict(record)
    data["signature"] = Signature.from_dict(record["signature"])
    return ModelVersion(**data)


def resolve(ref: str | Ref, ws: Workspace | None = None) -> Ref:
    """The ``NAME:VERSION`` that a reference points at now."""
    ws = current(ws)
    ref = parse_ref(ref) if isinstance(ref, str) else ref
    if ref.version is not None:
        return ref
    named = ref.alias if ref.alias and ref.alias != LATEST else None
    aliases = [named] if named else [DEFAULT_ALIAS] if ref.alias is None else []
    version = ws.store.registry.pick_version(ref.name, aliases, latest=named is None)
    if version is not None:
        return Ref(ref.name, version=version)
    _require_model(ws, ref.name)
    if named:
        raise NotFoundError(f"model {ref.name!r} has no alias {named!r} — set one with: "
                            f"modelport models alias {ref.name} {named} VERSION")
    raise NotFoundError(f"model {ref.name!r} has no versions yet")


def _require_model(ws: Workspace, name: str) -> None:
    if not ws.store.registry.has_model(name):
        raise missing_model(name)


def get_version(ref: str | Ref, ws: Workspace | None = None) -> ModelVersion:
    ws = current(ws)
    ref = resolve(ref, ws=ws)
    return version_of(ws.store.registry.get_version(ref.name, ref.version or 0))


def list_versions(name: str, ws: Workspace | None = None) -> list[ModelVersion]:
    ws = current(ws)
    check_name(name)
    return [version_of(r) for r in ws.store.registry.list_versions(name)]


def list_models(ws: Workspace | None = None) -> list[Model]:
    ws = current(ws)
    return ws.store.registry.list_models()


def get_model(name: str, ws: Workspace | None = None) -> Model:
    check_name(name)
    for model in list_models(ws=ws):
        if model.name == name:
            return model
    raise missing_model(name)


# ---------------------------------------------------------------- changing

def set_alias(name: str, alias: str, version: int, ws: Workspace | None = None) -> None:
    """Point ``NAME@ALIAS`` at ``version`` (moving it if it pointed elsewhere)."""
    ws = current(ws)
    check_alias(alias)
    ws.store.registry.set_alias(check_name(name), alias, version)


def delete_alias(name: str, alias: str, ws: Workspace | None = None) -> None:
    current(ws).store.registry.delete_alias(name, alias)


def set_tag(ref: str, key: str, value: str, ws: Workspace | None = None) -> None:
    """Tag a model (``NAME``) or one version (``NAME:VERSION`` / ``NAME@ALIAS``)."""
    ws = current(ws)
    parsed = parse_ref(ref)
    number = 0
    if parsed.version is not None or parsed.alias is not None:
        number = resolve(parsed, ws=ws).version or 0
    ws.store.registry.set_tag(parsed.name, number, _key(key), _text(key, value, 8000, "tag"))


def set_profile(ref: str, data: bytes, ws: Workspace | None = None) -> str:
    """Store ``data`` as the profile of a version that has none (monitoring builds one from
    its first logged traffic); a recorded training profile is never replaced."""
    ws = current(ws)
    resolved = resolve(ref, ws=ws)
    assert resolved.version is not None  # resolve always names one
    digest = ws.artifacts.put(data)
    ws.store.registry.set_profile(resolved.name, resolved.version, digest)
    return digest


def set_description(ref: str, description: str, ws: Workspace | None = None) -> None:
    ws = current(ws)
    parsed = parse_ref(ref)
    number = None
    if parsed.version is not None or parsed.alias is not None:
        number = resolve(parsed, ws=ws).version
    ws.store.registry.set_description(parsed.name, number, description)


def delete_model(ref: str, ws: Workspace | None = None) -> None:
    """Delete a whole model (``NAME``) or one version (``NAME:VERSION``).

    Deleting a whole model erases its prediction logs and delayed labels, every
    version's, where the workspace keeps them (its artifact store's directory or object
    store; behind a server, the server erases them — and asks an ``admin`` key for a
    model that has any). They are kept by name and number, and a deleted model's
    numbering goes with its records: a model made later under the name — in any
    project — starts at version 1 again and would read them as its own.

    The files go *first*, the records after: if the records' delete then fails, the
    model stays without its logs (as retention would leave it); the other order could
    leave the files of a model no longer recorded, for the next one of its name to read.
    A file still listed after the erase (one that would not go, one uploaded meanwhile)
    stops the delete with the model kept. Once the records are gone the files are erased
    *again*: an upload whose body was still arriving may have put one in place between
    the first erase and the records' delete, and it checks the records only after (the
    server takes back what arrives once they are gone:
    ``interfaces/team/logfiles.py``), so this second pass is what catches it. A file
    that second pass cannot remove is logged; ``modelport logs prune-orphans``
    (``core/log_orphans.py``) erases what a deleted model left.

    Deleting one version keeps its files: version numbers within a model are never
    reused, so no later version reads them (an admin removes them, or retention does).
    Artifacts stay in the content-addressed store: other versions or runs may share them.
    """
    from modelport.core.log_stores import kept_here
    from modelport.core.logfiles import erase_model

    ws = current(ws)
    parsed = parse_ref(ref)
    if parsed.alias is not None:
        raise InvalidInputError(f"delete takes NAME or NAME:VERSION, not an alias ({ref})")
    if parsed.version is None:
        _require_model(ws, parsed.name)  # another project's, or none: its files stay
        kinds = kept_here(ws.settings.artifacts_url)
        erase_model(kinds, parsed.name)
        ws.store.registry.delete_model(parsed.name)
        _sweep(kinds, parsed.name)
    else:
        ws.store.registry.delete_version(parsed.name, parsed.version)


def _sweep(kinds: Sequence[KeptLogFiles], name: str) -> None:
    """Erase what an upload put in place while a model's records were being deleted; what
    will not go is logged (the model is deleted: ``modelport logs prune-orphans`` erases
    a deleted model's leftovers)."""
    from modelport.core.logfiles import holds, remove_model

    try:
        remove_model(kinds, name)
        left = any(holds(files, name) for files in kinds)
    except Exception:  # a store that failed now: what it holds waits for the prune
        log.exception("erasing the last log files of deleted model %r failed", name)
        return
    if left:
        log.error("model %r is deleted but some of its log files remain — erase them with: "
                  "modelport logs prune-orphans", name)


# ---------------------------------------------------------------- runs ↔ registry

MODEL_PATH = "model/model"
MODEL_META = "model/meta.json"


def log_model(run: Any, model: Any, X: Any, sample: Any = None,
              inputs: Sequence[ColumnSpec] | None = None) -> Stored:
    """Store a trained model with its run, ready to be registered later with
    ``register_run`` (or ``modelport models register NAME --run RUN_ID``).

    Returns the model as stored, for the ONNX export of the version registered from
    this run (``loading.add_onnx_copy``)."""
    d = describe(model, X, sample, inputs)
    stored = Stored(run.log_artifact(d.data, MODEL_PATH), d.model)
    sample_digest = run.log_artifact(_npy(d.sample), "model/sample.npy")
    meta = {"format": d.format, "signature": d.signature.to_dict(), "input_example": d.example,
            "sample_digest": sample_digest,
            "profile_digest": run.log_artifact(d.profile, "model/profile.json")}
    run.log_artifact(json.dumps(meta).encode(), MODEL_META)
    return stored


def register_run(name: str, run_id: str, description: str = "",
                 tags: Mapping[str, str] | None = None, ws: Workspace | None = None
                 ) -> ModelVersion:
    """Register the model a run logged as the next version of ``name``."""
    import numpy as np

    from modelport.core.signature import Signature
    from modelport.lifecycle.search import get_run

    ws = current(ws)
    run = get_run(run_id, ws=ws)
    if MODEL_PATH not in run.artifacts or MODEL_META not in run.artifacts:
        raise NotFoundError(f"run {run.id} logged no model — train one with modelport train")
    meta = json.loads(ws.artifacts.get(run.artifacts[MODEL_META]))
    sample = np.load(io.BytesIO(ws.artifacts.get(meta["sample_digest"])), allow_pickle=False)
    metrics = {k: v for k, v in run.metrics.items() if k.startswith(("test_", "cv_"))}
    # a run logged before profiles were recorded has none: monitoring builds one later
    profile_data = ws.artifacts.get(meta["profile_digest"]) if "profile_digest" in meta else None
    return register_artifact(
        name, meta["format"], ws.artifacts.get(run.artifacts[MODEL_PATH]),
        Signature.from_dict(meta["signature"]), example=meta["input_example"], sample=sample,
        metrics=metrics, run_id=run.id, dataset_digest=run.dataset_digest,
        description=description, tags=tags, profile=profile_data, ws=ws)
