"""The model registry: names, immutable numbered versions, aliases and tags.

A version's artifact is written to the content-addressed store *before* its
metadata commits, and removed again if the commit fails, so the registry never
points at bytes it does not have. Version numbers come from an atomic
``UPDATE … RETURNING`` on the model's row: concurrent writers — threads,
processes, machines sharing PostgreSQL — each get their own number.

>>> version = modelport.register_model("iris", clf, X=frame)   # doctest: +SKIP
>>> modelport.set_alias("iris", "champion", version.version)   # doctest: +SKIP
>>> modelport.load("iris@champion").predict(frame.head(3))      # doctest: +SKIP
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select, update

from modelport.core.formats import format_for, get_format
from modelport.core.formats.base import Predictor
from modelport.core.signature import ColumnSpec, Signature
from modelport.core.store import schema as t
from modelport.core.store.sql import insert_ignore, upsert
from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError, NotFoundError
from modelport.lifecycle import profile
from modelport.lifecycle.refs import (
    DEFAULT_ALIAS,
    LATEST,
    Ref,
    check_alias,
    check_name,
    parse_ref,
)
from modelport.lifecycle.tracking import _key, _text

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
    def onnx_ready(self) -> bool:
        return bool(self.onnx and self.onnx.get("passed"))

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "signature"}
        out["signature"] = self.signature.to_dict()
        return out


@dataclass
class Model:
    name: str
    description: str
    created: float
    updated: float
    latest_version: int | None
    versions: int
    aliases: dict[str, int] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


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


def describe(model: Any, X: Any, sample: Any = None, inputs: Sequence[ColumnSpec] | None = None
             ) -> Described:
    """Bytes, signature, input example and parity sample of ``model`` trained on frame
    ``X`` (the raw frame: its text columns give the example; ``inputs`` their categories).
    The signature records whether the model takes missing values (``takes_missing``)."""
    import pandas as pd

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
    predictor = fmt.load(data, signature)  # as every runtime will see it
    signature = replace(signature, takes_missing=takes_missing(predictor, matrix))
    return Described(fmt.name, data, signature, example, matrix,
                     training_profile(predictor, signature, X))


def training_profile(predictor: Predictor, signature: Signature, X: Any) -> bytes:
    """The profile monitoring compares served traffic with: the training rows (a random
    sample of ``profile.MAX_ROWS`` at most) and the model's predictions on a part of them.
    Rows the model may not take (a missing value it cannot answer) are profiled as
    features but not predicted."""
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
    check_name(name)
    get_format(format).check(data)
    tag_rows = {_key(k): _text(k, v, 8000, "tag") for k, v in (tags or {}).items()}
    written = [ws.artifacts.put(data)]
    if sample is not None:
        written.append(ws.artifacts.put(_npy(sample)))
    profile_digest = ws.artifacts.put(profile) if profile is not None else None
    if profile_digest is not None:
        written.append(profile_digest)
    now = time.time()
    try:
        with ws.store.write() as conn:
            insert_ignore(conn, t.models, {"name": name, "description": "", "last_version": 0,
                                           "created": now, "updated": now})
            version = conn.execute(
                update(t.models).where(t.models.c.name == name)
                .values(last_version=t.models.c.last_version + 1, updated=now)
                .returning(t.models.c.last_version)).scalar_one()
            conn.execute(t.model_versions.insert().values(
                name=name, version=version, format=format, artifact_digest=written[0],
                artifact_size=len(data), sample_digest=written[1] if sample is not None else None,
                profile_digest=profile_digest,
                signature=signature.to_dict(), input_example=example,
                metrics={k: float(v) for k, v in (metrics or {}).items()}, run_id=run_id,
                dataset_digest=dataset_digest, description=description, onnx=None, created=now))
            if tag_rows:
                conn.execute(t.model_tags.insert(), [
                    {"name": name, "version": version, "key": k, "value": v}
                    for k, v in tag_rows.items()])
    except BaseException:
        _discard_unreferenced(ws, written)
        raise
    return get_version(Ref(name, version=version), ws=ws)


def _discard_unreferenced(ws: Workspace, digests: list[str]) -> None:
    v = t.model_versions
    with ws.store.read() as conn:
        used = set(conn.execute(select(v.c.artifact_digest).where(
            v.c.artifact_digest.in_(digests))).scalars())
        for column in (v.c.sample_digest, v.c.profile_digest):
            used |= set(conn.execute(select(column).where(column.in_(digests))).scalars())
        used |= set(conn.execute(select(t.run_artifacts.c.digest).where(
            t.run_artifacts.c.digest.in_(digests))).scalars())
    for digest in set(digests) - used:
        ws.artifacts.delete(digest)


# ---------------------------------------------------------------- reading

def _version_from_row(row: Any) -> ModelVersion:
    data = dict(row)
    data["signature"] = Signature.from_dict(data["signature"])
    data["metrics"] = data["metrics"] or {}
    return ModelVersion(**data)


def resolve(ref: str | Ref, ws: Workspace | None = None) -> Ref:
    """The ``NAME:VERSION`` that a reference points at now."""
    ws = current(ws)
    ref = parse_ref(ref) if isinstance(ref, str) else ref
    if ref.version is not None:
        return ref
    with ws.store.read() as conn:
        if ref.alias and ref.alias != LATEST:
            version = conn.execute(select(t.model_aliases.c.version).where(
                t.model_aliases.c.name == ref.name, t.model_aliases.c.alias == ref.alias)).scalar()
            if version is None:
                _require_model(conn, ref.name)
                raise NotFoundError(
                    f"model {ref.name!r} has no alias {ref.alias!r} — set one with: "
                    f"modelport models alias {ref.name} {ref.alias} VERSION")
            return Ref(ref.name, version=version)
        version = None
        if ref.alias is None:
            version = conn.execute(select(t.model_aliases.c.version).where(
                t.model_aliases.c.name == ref.name,
                t.model_aliases.c.alias == DEFAULT_ALIAS)).scalar()
        if version is None:
            version = conn.execute(select(func.max(t.model_versions.c.version)).where(
                t.model_versions.c.name == ref.name)).scalar()
        if version is None:
            _require_model(conn, ref.name)
            raise NotFoundError(f"model {ref.name!r} has no versions yet")
        return Ref(ref.name, version=version)


def _require_model(conn: Any, name: str) -> None:
    if conn.execute(select(t.models.c.name).where(t.models.c.name == name)).first() is None:
        raise NotFoundError(f"model {name!r} not found — list models with: modelport models list")


def get_version(ref: str | Ref, ws: Workspace | None = None) -> ModelVersion:
    ws = current(ws)
    ref = resolve(ref, ws=ws)
    with ws.store.read() as conn:
        row = conn.execute(select(t.model_versions).where(
            t.model_versions.c.name == ref.name,
            t.model_versions.c.version == ref.version)).mappings().first()
        if row is None:
            _require_model(conn, ref.name)
            raise NotFoundError(f"model {ref.name!r} has no version {ref.version} — list them "
                                f"with: modelport models versions {ref.name}")
        version = _version_from_row(row)
        _attach(conn, ref.name, [version])
    return version


def _attach(conn: Any, name: str, versions: list[ModelVersion]) -> None:
    by_number = {v.version: v for v in versions}
    for alias, number in conn.execute(select(t.model_aliases.c.alias, t.model_aliases.c.version)
                                      .where(t.model_aliases.c.name == name)):
        if number in by_number:
            by_number[number].aliases.append(alias)
    for number, key, value in conn.execute(
            select(t.model_tags.c.version, t.model_tags.c.key, t.model_tags.c.value)
            .where(t.model_tags.c.name == name, t.model_tags.c.version > 0)):
        if number in by_number:
            by_number[number].tags[key] = value


def list_versions(name: str, ws: Workspace | None = None) -> list[ModelVersion]:
    ws = current(ws)
    check_name(name)
    with ws.store.read() as conn:
        rows = conn.execute(select(t.model_versions).where(t.model_versions.c.name == name)
                            .order_by(t.model_versions.c.version.desc())).mappings().all()
        if not rows:
            _require_model(conn, name)
        versions = [_version_from_row(r) for r in rows]
        _attach(conn, name, versions)
    return versions


def list_models(ws: Workspace | None = None) -> list[Model]:
    ws = current(ws)
    v = t.model_versions
    with ws.store.read() as conn:
        stats = {n: (latest, count) for n, latest, count in conn.execute(
            select(v.c.name, func.max(v.c.version), func.count()).group_by(v.c.name))}
        models = {r["name"]: Model(r["name"], r["description"], r["created"], r["updated"],
                                   *stats.get(r["name"], (None, 0)))
                  for r in conn.execute(select(t.models).order_by(t.models.c.name)).mappings()}
        for name, alias, number in conn.execute(select(t.model_aliases)):
            models[name].aliases[alias] = number
        for name, key, value in conn.execute(
                select(t.model_tags.c.name, t.model_tags.c.key, t.model_tags.c.value)
                .where(t.model_tags.c.version == 0)):
            models[name].tags[key] = value
    return list(models.values())


def get_model(name: str, ws: Workspace | None = None) -> Model:
    check_name(name)
    for model in list_models(ws=ws):
        if model.name == name:
            return model
    raise NotFoundError(f"model {name!r} not found — list models with: modelport models list")


# ---------------------------------------------------------------- changing

def set_alias(name: str, alias: str, version: int, ws: Workspace | None = None) -> None:
    """Point ``NAME@ALIAS`` at ``version`` (moving it if it pointed elsewhere)."""
    ws = current(ws)
    check_alias(alias)
    get_version(Ref(check_name(name), version=version), ws=ws)
    with ws.store.write() as conn:
        upsert(conn, t.model_aliases, {"name": name, "alias": alias, "version": version},
               update=["version"])


def delete_alias(name: str, alias: str, ws: Workspace | None = None) -> None:
    ws = current(ws)
    with ws.store.write() as conn:
        gone = conn.execute(delete(t.model_aliases).where(
            t.model_aliases.c.name == name, t.model_aliases.c.alias == alias)).rowcount
    if not gone:
        raise NotFoundError(f"model {name!r} has no alias {alias!r}")


def set_tag(ref: str, key: str, value: str, ws: Workspace | None = None) -> None:
    """Tag a model (``NAME``) or one version (``NAME:VERSION`` / ``NAME@ALIAS``)."""
    ws = current(ws)
    parsed = parse_ref(ref)
    number = 0
    if parsed.version is not None or parsed.alias is not None:
        number = resolve(parsed, ws=ws).version or 0
    else:
        get_model(parsed.name, ws=ws)
    with ws.store.write() as conn:
        upsert(conn, t.model_tags, {"name": parsed.name, "version": number, "key": _key(key),
                                    "value": _text(key, value, 8000, "tag")}, update=["value"])


def set_profile(ref: str, data: bytes, ws: Workspace | None = None) -> str:
    """Store ``data`` as the profile of a version that has none (monitoring builds one from
    its first logged traffic); a recorded training profile is never replaced."""
    ws = current(ws)
    resolved = resolve(ref, ws=ws)
    digest = ws.artifacts.put(data)
    v = t.model_versions
    with ws.store.write() as conn:
        conn.execute(update(v).where(v.c.name == resolved.name, v.c.version == resolved.version,
                                     v.c.profile_digest.is_(None))
                     .values(profile_digest=digest))
    return digest


def set_description(ref: str, description: str, ws: Workspace | None = None) -> None:
    ws = current(ws)
    parsed = parse_ref(ref)
    with ws.store.write() as conn:
        if parsed.version is None and parsed.alias is None:
            table, cond = t.models, t.models.c.name == parsed.name
        else:
            number = resolve(parsed, ws=ws).version
            table = t.model_versions
            cond = (table.c.name == parsed.name) & (table.c.version == number)
        if conn.execute(update(table).where(cond).values(description=description)).rowcount == 0:
            raise NotFoundError(f"model {parsed.name!r} not found")


def delete_model(ref: str, ws: Workspace | None = None) -> None:
    """Delete a whole model (``NAME``) or one version (``NAME:VERSION``).

    Version numbers are never reused. Artifacts stay in the content-addressed
    store: other versions or runs may share them.
    """
    ws = current(ws)
    parsed = parse_ref(ref)
    if parsed.alias is not None:
        raise InvalidInputError(f"delete takes NAME or NAME:VERSION, not an alias ({ref})")
    if parsed.version is None:
        with ws.store.write() as conn:  # versions, aliases and tags go by ON DELETE CASCADE
            if not conn.execute(delete(t.models).where(t.models.c.name == parsed.name)).rowcount:
                raise NotFoundError(f"model {parsed.name!r} not found")
        return
    get_version(parsed, ws=ws)
    with ws.store.write() as conn:
        for table in (t.model_aliases, t.model_tags, t.model_versions):
            conn.execute(delete(table).where(table.c.name == parsed.name,
                                             table.c.version == parsed.version))


# ---------------------------------------------------------------- runs ↔ registry

MODEL_PATH = "model/model"
MODEL_META = "model/meta.json"


def log_model(run: Any, model: Any, X: Any, sample: Any = None,
              inputs: Sequence[ColumnSpec] | None = None) -> None:
    """Store a trained model with its run, ready to be registered later with
    ``register_run`` (or ``modelport models register NAME --run RUN_ID``)."""
    d = describe(model, X, sample, inputs)
    run.log_artifact(d.data, MODEL_PATH)
    sample_digest = run.log_artifact(_npy(d.sample), "model/sample.npy")
    meta = {"format": d.format, "signature": d.signature.to_dict(), "input_example": d.example,
            "sample_digest": sample_digest,
            "profile_digest": run.log_artifact(d.profile, "model/profile.json")}
    run.log_artifact(json.dumps(meta).encode(), MODEL_META)


def register_run(name: str, run_id: str, description: str = "",
                 tags: Mapping[str, str] | None = None, ws: Workspace | None = None
                 ) -> ModelVersion:
    """Register the model a run logged as the next version of ``name``."""
    from modelport.lifecycle.search import get_run

    ws = current(ws)
    run = get_run(run_id, ws=ws)
    if MODEL_PATH not in run.artifacts or MODEL_META not in run.artifacts:
        raise NotFoundError(f"run {run_id} logged no model — train one with modelport train")
    meta = json.loads(ws.artifacts.get(run.artifacts[MODEL_META]))
    sample = np.load(io.BytesIO(ws.artifacts.get(meta["sample_digest"])), allow_pickle=False)
    metrics = {k: v for k, v in run.metrics.items() if k.startswith(("test_", "cv_"))}
    # a run logged before profiles were recorded has none: monitoring builds one later
    profile_data = ws.artifacts.get(meta["profile_digest"]) if "profile_digest" in meta else None
    return register_artifact(
        name, meta["format"], ws.artifacts.get(run.artifacts[MODEL_PATH]),
        Signature.from_dict(meta["signature"]), example=meta["input_example"], sample=sample,
        metrics=metrics, run_id=run_id, dataset_digest=run.dataset_digest,
        description=description, tags=tags, profile=profile_data, ws=ws)
