"""A new model version — its number, its row, its tags — as one PostgreSQL statement.

Registering statement by statement spends four round trips (``BEGIN``, the
model's counter, the version, ``COMMIT``) and five with tags. Here the model's
row is created or counted up by ``INSERT … ON CONFLICT DO UPDATE … RETURNING``
(its row lock orders concurrent writers, so no two share a number) and the
version, its tags and the blobs it names (``blob_owners``) are written from what it
returned, in data-modifying ``WITH`` queries of the same statement: atomic on its
own, it runs without a transaction around it, in one round trip. SQLite keeps ``registry``'s
statements: in process, it has no round trips to save.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, text

from modelport.core.store.registry import NewVersion
from modelport.core.store.sql.projects import version_blobs

_NUMBERED = text("""
WITH counted AS (
  INSERT INTO models (name, description, last_version, created, updated, project)
  VALUES (CAST(:name AS VARCHAR), '', 1, CAST(:now AS FLOAT8), CAST(:now AS FLOAT8),
          CAST(:project AS VARCHAR))
  ON CONFLICT (name) DO UPDATE SET last_version = models.last_version + 1,
                                   updated = excluded.updated
                               WHERE models.project = excluded.project
  RETURNING last_version, project
), owned AS (
  INSERT INTO blob_owners (digest, kind, key, project)
  SELECT DISTINCT d, 'models', CAST(:name AS VARCHAR), project
  FROM counted, unnest(CAST(:digests AS TEXT[])) AS b(d)
  ON CONFLICT (digest, kind, key) DO UPDATE SET project = excluded.project
), written AS (
  INSERT INTO model_versions (name, version, format, artifact_digest, artifact_size,
    sample_digest, profile_digest, signature, input_example, metrics, run_id,
    dataset_digest, description, onnx, created)
  SELECT CAST(:name AS VARCHAR), last_version, CAST(:format AS VARCHAR),
    CAST(:artifact_digest AS VARCHAR), CAST(:artifact_size AS INTEGER),
    CAST(:sample_digest AS VARCHAR), CAST(:profile_digest AS VARCHAR),
    CAST(:signature AS JSON), CAST(:input_example AS JSON), CAST(:metrics AS JSON),
    CAST(:run_id AS VARCHAR), CAST(:dataset_digest AS VARCHAR),
    CAST(:description AS TEXT), NULL, CAST(:now AS FLOAT8)
  FROM counted
  RETURNING version
), tagged AS (
  INSERT INTO model_tags (name, version, key, value)
  SELECT CAST(:name AS VARCHAR), version, k, v
  FROM written, unnest(CAST(:tag_keys AS TEXT[]), CAST(:tag_values AS TEXT[])) AS t(k, v)
)
SELECT version FROM written
""")


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def register_numbered(conn: Connection, name: str, version: NewVersion,
                      tags: Mapping[str, str], now: float, project: str) -> int | None:
    """Register ``version`` under the next number of model ``name`` (created in
    ``project`` if new); the number, or None if the model is another project's (nothing
    is written)."""
    number = conn.execute(_NUMBERED, {
        "name": name, "now": now, "project": project, "format": version["format"],
        "artifact_digest": version["artifact_digest"],
        "artifact_size": version["artifact_size"], "sample_digest": version["sample_digest"],
        "profile_digest": version.get("profile_digest"),
        "signature": _json(version["signature"]),
        "input_example": _json(version["input_example"]),
        "metrics": _json(version["metrics"]), "run_id": version["run_id"],
        "dataset_digest": version["dataset_digest"], "description": version["description"],
        "tag_keys": list(tags), "tag_values": list(tags.values()),
        "digests": sorted({d for d in version_blobs(version) if d})}).scalar()
    return None if number is None else int(number)
