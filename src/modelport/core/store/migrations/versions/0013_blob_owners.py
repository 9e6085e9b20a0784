"""blob owners: which blobs each run, model and stream names, found by digest

The team server asks, for every artifact request, whose records name the blob. That
was read from the records themselves — a JSON path over every model version, every
run's artifacts, every stream's checkpoint — with no index to serve it. Here each
blob a record names gets a row (digest, kind, key, project), keyed by digest; the
store writes it with the record from now on, and this back-fills it from the rows
already there: a version's artifact, sample, profile, ONNX copy and tokenizer, a
published edge bundle's tag (``edge.bundle.<digest>``), a run's logged artifacts and
a stream's checkpoint. Uploads made before this revision were never recorded: a blob
nothing names is read by no project (a client that still has it uploads it again).
The tables are written out here, not read from ``schema``: a migration stays what it
was when it ran.

Revision ID: 0013
Revises: 0012
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"

BUNDLE_TAG = "edge.bundle."


def upgrade() -> None:
    owners = op.create_table(
        "blob_owners",
        sa.Column("digest", sa.String(length=64), primary_key=True),
        sa.Column("kind", sa.String(length=16), primary_key=True),
        sa.Column("key", sa.String(length=200), primary_key=True),
        sa.Column("project", sa.String(length=100), nullable=False),
    )
    op.create_index("ix_blob_owners_kind_key", "blob_owners", ["kind", "key"])
    found = sa.union(*_named()).subquery()
    rows = sa.select(found.c.digest, found.c.kind, found.c.key, found.c.project).where(
        sa.func.length(found.c.digest) == 64)  # a SHA-256 in hex: what a blob is named by
    op.execute(owners.insert().from_select(["digest", "kind", "key", "project"], rows))


def _named() -> list[sa.Select[Any]]:
    """(digest, kind, key, project) of every blob a record names (or NULL)."""
    meta = sa.MetaData()
    models = sa.Table("models", meta, sa.Column("name", sa.String), sa.Column("project", sa.String))
    versions = sa.Table("model_versions", meta, sa.Column("name", sa.String),
                        *(sa.Column(c, sa.String) for c in (
                            "artifact_digest", "sample_digest", "profile_digest")),
                        sa.Column("onnx", sa.JSON), sa.Column("signature", sa.JSON))
    tags = sa.Table("model_tags", meta, sa.Column("name", sa.String), sa.Column("key", sa.String))
    runs = sa.Table("runs", meta, sa.Column("id", sa.String), sa.Column("project", sa.String))
    artifacts = sa.Table("run_artifacts", meta, sa.Column("run_id", sa.String),
                         sa.Column("digest", sa.String))
    streams = sa.Table("streams", meta, sa.Column("name", sa.String),
                       sa.Column("checkpoint", sa.JSON), sa.Column("project", sa.String))

    def owned(digest: sa.ColumnElement[str], kind: str, key: sa.ColumnElement[str],
              project: sa.ColumnElement[str]) -> Any:
        return sa.select(sa.cast(digest, sa.String).label("digest"),
                         sa.literal(kind, sa.String).label("kind"),
                         sa.cast(key, sa.String).label("key"),
                         sa.cast(project, sa.String).label("project"))

    in_model = versions.join(models, models.c.name == versions.c.name)
    named = [owned(digest, "models", models.c.name, models.c.project).select_from(in_model)
             for digest in (versions.c.artifact_digest, versions.c.sample_digest,
                            versions.c.profile_digest, versions.c.onnx["digest"].as_string(),
                            versions.c.signature[("text", "tokenizer")].as_string())]
    bundle = sa.func.substr(tags.c.key, len(BUNDLE_TAG) + 1)
    named.append(owned(bundle, "models", models.c.name, models.c.project)
                 .select_from(tags.join(models, models.c.name == tags.c.name))
                 .where(tags.c.key.startswith(BUNDLE_TAG, autoescape=True),
                        sa.func.length(tags.c.key) == len(BUNDLE_TAG) + 64))
    named.append(owned(artifacts.c.digest, "runs", runs.c.id, runs.c.project)
                 .select_from(artifacts.join(runs, runs.c.id == artifacts.c.run_id)))
    named += [owned(streams.c.checkpoint[part].as_string(), "streams", streams.c.name,
                    streams.c.project) for part in ("model", "window")]
    return named


def downgrade() -> None:
    op.drop_index("ix_blob_owners_kind_key", table_name="blob_owners")
    op.drop_table("blob_owners")
