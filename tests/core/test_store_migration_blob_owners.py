"""Migration 0013 (``blob_owners``) on a store made at 0012 with records naming blobs in
every way one can — a version's artifact, sample, profile, ONNX copy and tokenizer, a
published bundle's tag, a run's artifact, a stream's checkpoint — in two projects: each
blob's owners are back-filled, found by digest through the table's key.

Runs on SQLite and on a fresh PostgreSQL schema (the ``settings`` fixture).
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import Engine, text

from modelport.config import Settings
from modelport.core.store import open_store
from modelport.core.store.engine import forget_stores
from older_stores import store_at

D = {name: hashlib.sha256(name.encode()).hexdigest() for name in (
    "artifact", "sample", "profile", "onnx", "tokenizer", "bundle", "logged", "model",
    "window", "shared", "loose")}


def _records() -> list[str]:
    signature = json.dumps({"inputs": [], "text": {"tokenizer": D["tokenizer"]}})
    onnx = json.dumps({"digest": D["onnx"], "size": 1})
    checkpoint = json.dumps({"model": D["model"], "window": D["window"], "events": 3})
    return [
        "INSERT INTO models (name, description, last_version, created, updated, project) "
        "VALUES ('m', '', 2, 1.0, 1.0, 'vision'), ('n', '', 1, 1.0, 1.0, 'default')",
        "INSERT INTO model_versions (name, version, format, artifact_digest, artifact_size, "
        "sample_digest, profile_digest, signature, metrics, description, onnx, created) VALUES "
        f"('m', 1, 'skops', '{D['artifact']}', 1, '{D['sample']}', '{D['profile']}', "
        f"'{signature}', '{{}}', '', '{onnx}', 1.0), "
        f"('m', 2, 'skops', '{D['shared']}', 1, NULL, NULL, '{{}}', '{{}}', '', NULL, 1.0), "
        f"('n', 1, 'skops', '{D['shared']}', 1, NULL, NULL, '{{}}', '{{}}', '', NULL, 1.0)",
        f"INSERT INTO model_tags VALUES ('m', 1, 'edge.bundle.{D['bundle']}', '{{}}'), "
        "('m', 1, 'edge.bundle.not-a-digest', '{}'), ('m', 0, 'team', 'ml')",
        "INSERT INTO runs (id, experiment, name, status, start_time, packages, project) "
        "VALUES ('r', 'default', 'r', 'FINISHED', 1.0, '{}', 'vision')",
        f"INSERT INTO run_artifacts VALUES ('r', 'a.bin', '{D['logged']}', 1), "
        f"('r', 'b.bin', '{D['shared']}', 1)",
        "INSERT INTO streams (name, consumer, model, config, state, stats, checkpoint, "
        f"started, updated, project) VALUES ('s', 'c1', 'm:1', '{{}}', 'running', '{{}}', "
        f"'{checkpoint}', 1.0, 1.0, 'vision'), ('s', 'c2', 'm:1', '{{}}', 'running', '{{}}', "
        "NULL, 1.0, 1.0, 'vision')"]


def test_upgrading_a_0012_store_back_fills_every_blobs_owners(settings: Settings,
                                                              engine: Engine) -> None:
    store_at(engine, "0012", _records())
    projects = open_store(settings.db_url).inner.projects  # migrates to the head
    model = {("models", "m", "vision")}
    assert {name: projects.artifact_owners(d) for name, d in D.items()} == {
        **{name: model for name in ("artifact", "sample", "profile", "onnx", "tokenizer",
                                    "bundle")},
        "logged": {("runs", "r", "vision")},
        "model": {("streams", "s", "vision")}, "window": {("streams", "s", "vision")},
        "shared": {*model, ("models", "n", "default"), ("runs", "r", "vision")},
        "loose": set()}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM blob_owners")).scalar() == 12
    forget_stores()
