"""What the team server's check before every artifact download costs: whose records name
this blob. Before migration 0013 it was a JSON-path scan of every model version, run
artifact and stream checkpoint; from 0013 on, one lookup in ``blob_owners`` by its key.

A store is made at revision 0012 and filled with ``--runs`` runs (two logged artifacts
each), ``--versions`` model versions (artifact, sample, ONNX copy) and 100 streams with
checkpoints; the old statement is timed on it, the store is migrated to the head (the
back-fill timed), and the new lookup is timed on the same rows. On SQLite and on a fresh
PostgreSQL schema (dropped afterwards).

    python benchmarks/server/artifact_owners.py [--runs 10000] [--versions 1000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, literal, or_, select, text, union_all

from modelport.core.store import open_store
from modelport.core.store import schema as t
from modelport.core.store.engine import forget_stores
from modelport.core.store.migration import MIGRATIONS

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _fill(conn: Any, runs: int, versions: int) -> list[str]:
    """Rows as revision 0012 has them; the digests they name."""
    named: list[str] = []
    conn.execute(text("INSERT INTO runs (id, experiment, name, status, start_time, packages, "
                      "project) VALUES (:id, 'default', :id, 'FINISHED', 1.0, '{}', :p)"),
                 [{"id": f"r{i:06d}", "p": f"p{i % 10}"} for i in range(runs)])
    artifacts = [{"run": f"r{i:06d}", "path": f"a{j}.bin", "d": _digest("run", i, j)}
                 for i in range(runs) for j in range(2)]
    conn.execute(text("INSERT INTO run_artifacts VALUES (:run, :path, :d, 1)"), artifacts)
    named += [a["d"] for a in artifacts]
    models = max(1, versions // 10)
    conn.execute(text("INSERT INTO models (name, description, last_version, created, updated, "
                      "project) VALUES (:n, '', 10, 1.0, 1.0, :p)"),
                 [{"n": f"m{i}", "p": f"p{i % 10}"} for i in range(models)])
    rows = [{"n": f"m{i % models}", "v": i // models + 1, "a": _digest("v", i),
             "s": _digest("s", i), "onnx": json.dumps({"digest": _digest("o", i), "size": 1})}
            for i in range(versions)]
    conn.execute(text("INSERT INTO model_versions (name, version, format, artifact_digest, "
                      "artifact_size, sample_digest, signature, metrics, description, onnx, "
                      "created) VALUES (:n, :v, 'skops', :a, 1, :s, '{}', '{}', '', :onnx, 1.0)"),
                 rows)
    named += [r["a"] for r in rows] + [json.loads(r["onnx"])["digest"] for r in rows]
    streams = [{"n": f"s{i}", "c": json.dumps({"model": _digest("c", i),
                                               "window": _digest("w", i)})} for i in range(100)]
    conn.execute(text("INSERT INTO streams (name, consumer, model, config, state, stats, "
                      "checkpoint, started, updated, project) VALUES (:n, 'c', 'm0:1', '{}', "
                      "'running', '{}', :c, 1.0, 1.0, 'default')"), streams)
    return named + [json.loads(s["c"])["model"] for s in streams]


def _old_owners(conn: Any, digest: str) -> set[tuple[str, str, str]]:
    """The statement ``SqlProjects.artifact_owners`` ran before 0013."""
    v, m, a, r, s = t.model_versions, t.models, t.run_artifacts, t.runs, t.streams
    query = union_all(
        select(literal("models"), m.c.name, m.c.project)
        .join(v, v.c.name == m.c.name)
        .where(or_(v.c.artifact_digest == digest, v.c.sample_digest == digest,
                   v.c.profile_digest == digest, v.c.onnx["digest"].as_string() == digest,
                   v.c.signature[("text", "tokenizer")].as_string() == digest)),
        select(literal("runs"), r.c.id, r.c.project)
        .join(a, a.c.run_id == r.c.id).where(a.c.digest == digest),
        select(literal("streams"), s.c.name, s.c.project)
        .where(or_(s.c.checkpoint["model"].as_string() == digest,
                   s.c.checkpoint["window"].as_string() == digest)))
    return {tuple(row) for row in conn.execute(query)}  # type: ignore[misc]


def _timed(check: Callable[[str], object], digests: list[str]) -> dict[str, float]:
    took = []
    for digest in digests:
        start = time.perf_counter()
        check(digest)
        took.append((time.perf_counter() - start) * 1000)
    took.sort()
    return {"median_ms": round(statistics.median(took), 3),
            "p95_ms": round(took[int(len(took) * 0.95)], 3)}


def measure(url: str, runs: int, versions: int, lookups: int) -> dict[str, Any]:
    engine = create_engine(url)
    with engine.begin() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0012")
        named = _fill(conn, runs, versions)
    picks = random.Random(1).sample(named, lookups) + [_digest("nobody", i) for i in range(20)]
    with engine.connect() as conn:
        before = _timed(lambda d: _old_owners(conn, d), picks)
        old = {d: _old_owners(conn, d) for d in picks[:50]}
    engine.dispose()
    start = time.perf_counter()
    store = open_store(url)  # migrates to the head: 0013 back-fills blob_owners
    migrated = time.perf_counter() - start
    owners = store.inner.projects.artifact_owners
    assert all(owners(d) == found for d, found in old.items()), "different owners"
    after = _timed(owners, picks)  # as the server calls it: a read transaction each
    b = t.blob_owners
    engine = create_engine(url)
    with engine.connect() as conn:  # the statement alone, as "before" is timed
        statement = _timed(lambda d: conn.execute(select(b.c.kind, b.c.key, b.c.project)
                                                  .where(b.c.digest == d)).all(), picks)
    engine.dispose()
    forget_stores()
    return {"before": before, "after_statement": statement, "after_call": after,
            "migration_s": round(migrated, 2),
            "speedup": round(before["median_ms"] / statement["median_ms"], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=1_000)
    parser.add_argument("--lookups", type=int, default=200)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = measure(f"sqlite:///{Path(tmp) / 'store.db'}", args.runs,
                                    args.versions, args.lookups)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        results["postgresql"] = measure(f"{PG}?options=-csearch_path%3D{schema}", args.runs,
                                        args.versions, args.lookups)
    finally:
        with psycopg.connect(PG.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    print(json.dumps({"runs": args.runs, "versions": args.versions, **results}, indent=2))


if __name__ == "__main__":
    main()
