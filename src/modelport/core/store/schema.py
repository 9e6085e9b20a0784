"""Tables of the metadata store.

Metrics are keyed narrowly — ``(run_id, key, step)`` — with a separate
latest-value table indexed by ``(key, value)``, so a filter or an ordering on a
metric reads one index instead of scanning every step (MLflow's search_runs
slows to minutes at ~30k runs without this). Alembic migrations create these
tables; this module is their single description.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ColumnElement,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    literal_column,
)

metadata = MetaData()
# a param's or tag's value is text of any length, past what a B-tree entry holds: its
# (key, first VALUE_PREFIX characters) is indexed, and an equality filter also compares
# that prefix so the database can use the index (migration 0010)
VALUE_PREFIX = 100


def value_prefix(value: ColumnElement[str]) -> ColumnElement[str]:
    """The indexed prefix of a param's or tag's value, as the index spells it: constants
    inline, so PostgreSQL and SQLite match the expression to the index."""
    return func.substr(value, literal_column("1"), literal_column(str(VALUE_PREFIX)),
                       type_=Text)

runs = Table(
    "runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("experiment", String(200), nullable=False),
    Column("name", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("start_time", Float, nullable=False),
    Column("end_time", Float),
    Column("duration", Float),
    Column("dataset_digest", String(64)),
    Column("git_commit", String(64)),
    Column("packages", JSON),
    Column("project", String(100), nullable=False, server_default="default"),
    Index("ix_runs_experiment_start", "experiment", "start_time"),
    # a project's runs newest first: the filter every scoped search adds, and its usual order
    Index("ix_runs_project_start", "project", "start_time"),
    Index("ix_runs_start", "start_time"),
)

run_params = Table(
    "run_params",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

run_metrics = Table(
    "run_metrics",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("step", Integer, primary_key=True),
    Column("value", Float, nullable=False),
    Column("timestamp", Float, nullable=False),
)

run_latest_metrics = Table(
    "run_latest_metrics",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Float, nullable=False),
    Column("step", Integer, nullable=False),
    # by value, ties by run: a search walks it in its order and stops after the page
    # (migration 0014, which also gives PostgreSQL statistics of params' and tags' values)
    Index("ix_run_latest_metrics_key_value_run", "key", "value", "run_id"),
)

run_tags = Table(
    "run_tags",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)
Index("ix_run_params_key_value", run_params.c.key, value_prefix(run_params.c.value))
Index("ix_run_tags_key_value", run_tags.c.key, value_prefix(run_tags.c.value))

run_artifacts = Table(
    "run_artifacts",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("path", String(500), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("size", Integer, nullable=False),
)

datasets = Table(
    "datasets",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("name", String(500), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("columns", JSON, nullable=False),
    Column("created", Float, nullable=False),
)

models = Table(
    "models",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("description", Text, nullable=False, default=""),
    # the last number handed out: versions are allocated by an atomic
    # UPDATE ... RETURNING on this row, so two writers never share a number
    Column("last_version", Integer, nullable=False, default=0),
    Column("created", Float, nullable=False),
    Column("updated", Float, nullable=False),
    Column("project", String(100), nullable=False, server_default="default"),
    Index("ix_models_project", "project"),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("name", String(200), ForeignKey("models.name", ondelete="CASCADE"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("format", String(32), nullable=False),
    Column("artifact_digest", String(64), nullable=False),
    Column("artifact_size", Integer, nullable=False),
    Column("sample_digest", String(64)),
    Column("profile_digest", String(64)),  # the training data's profile (monitoring)
    Column("signature", JSON, nullable=False),
    Column("input_example", JSON),
    Column("metrics", JSON, nullable=False),
    Column("run_id", String(32)),
    Column("dataset_digest", String(64)),
    Column("description", Text, nullable=False, default=""),
    Column("onnx", JSON),
    Column("created", Float, nullable=False),
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("name", String(200), ForeignKey("models.name", ondelete="CASCADE"), primary_key=True),
    Column("alias", String(100), primary_key=True),
    Column("version", Integer, nullable=False),
)

# version 0 holds the tags of the model itself
model_tags = Table(
    "model_tags",
    metadata,
    Column("name", String(200), ForeignKey("models.name", ondelete="CASCADE"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

# API keys: only a SHA-256 of each secret is kept; the secret is shown once, at creation
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
    Column("scopes", JSON, nullable=False),
    Column("models", JSON),  # None: every model
    Column("projects", JSON),  # None: every project
    Column("rate_limit", Float),  # requests per second; None: unlimited
    Column("created", Float, nullable=False),
    Column("revoked", Float),
)

# batch and forecast jobs: one row per job, updated as parts commit
jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(32), nullable=False),  # predict | forecast | monitor
    Column("model", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # running | succeeded | failed
    Column("input", Text, nullable=False),
    Column("input_digest", String(64)),
    Column("output", Text, nullable=False),
    Column("options", JSON, nullable=False),
    Column("rows", Integer, nullable=False, default=0),
    Column("rows_failed", Integer, nullable=False, default=0),
    Column("parts", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("started", Float, nullable=False),
    Column("ended", Float),
    Column("duration", Float),
    Column("project", String(100), nullable=False, server_default="default"),
    Column("result", JSON),  # what a monitor job decided, and its numbers
    Index("ix_jobs_started", "started"),
    Index("ix_jobs_project", "project"),
)

# endpoints: a name whose traffic policy maps versions to weights; ``revision``
# grows with every change so serving workers notice one with a cheap poll
endpoints = Table(
    "endpoints",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("policy", JSON, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("created", Float, nullable=False),
    Column("updated", Float, nullable=False),
    Column("project", String(100), nullable=False, server_default="default"),
    Index("ix_endpoints_project", "project"),
)

rollouts = Table(
    "rollouts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("endpoint", String(200), ForeignKey("endpoints.name", ondelete="CASCADE"),
           nullable=False),
    Column("kind", String(16), nullable=False),  # canary | bluegreen | shadow
    Column("state", String(16), nullable=False),
    Column("stable", String(220), nullable=False),
    Column("candidate", String(220), nullable=False),
    Column("config", JSON, nullable=False),
    Column("step", Integer, nullable=False),
    Column("step_started", Float, nullable=False),
    Column("revision", Integer, nullable=False),  # optimistic concurrency between controllers
    Column("created", Float, nullable=False),
    Column("updated", Float, nullable=False),
    Index("ix_rollouts_endpoint_state", "endpoint", "state"),
)

rollout_events = Table(
    "rollout_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rollout_id", String(32), ForeignKey("rollouts.id", ondelete="CASCADE"),
           nullable=False),
    Column("at", Float, nullable=False),
    Column("action", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("metrics", JSON),
    Index("ix_rollout_events_rollout", "rollout_id", "id"),
)

# live statistics per endpoint version, one row per serving worker per window,
# written by the worker that owns it and summed by the rollout analysis
endpoint_stats = Table(
    "endpoint_stats",
    metadata,
    Column("endpoint", String(200), primary_key=True),
    Column("version", String(220), primary_key=True),
    Column("worker", String(32), primary_key=True),
    Column("window", Float, primary_key=True),
    Column("data", JSON, nullable=False),
)

# one row per stream consumer: what it runs, how far it got, its last checkpoint
streams = Table(
    "streams",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("consumer", String(200), primary_key=True),
    Column("model", String(220), nullable=False),
    Column("config", JSON, nullable=False),
    Column("state", String(16), nullable=False),  # running | stopped | failed
    Column("stats", JSON, nullable=False),
    Column("checkpoint", JSON, nullable=True),  # {digest, events, at, labels}
    Column("started", Float, nullable=False),
    Column("updated", Float, nullable=False),
    # one stream's consumers are all in one project (its name is unique across projects)
    Column("project", String(100), nullable=False, server_default="default"),
    Index("ix_streams_project", "project"),
)

# which blobs each run, model and stream names, and which projects uploaded a blob through
# the server: what an artifact request is checked against, by digest (the table's key)
blob_owners = Table(
    "blob_owners",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("kind", String(16), primary_key=True),  # runs | models | streams | uploads
    Column("key", String(200), primary_key=True),  # the object's id or name; an upload's project
    Column("project", String(100), nullable=False),
    Index("ix_blob_owners_kind_key", "kind", "key"),
)

# one row per edge device: its last reported status (copied from MQTT by runtimes/edge/fleet)
edge_devices = Table(
    "edge_devices",
    metadata,
    Column("group", String(200), primary_key=True),
    Column("device", String(200), primary_key=True),
    Column("model", String(200), nullable=True),
    Column("version", Integer, nullable=True),
    Column("digest", String(64), nullable=True),
    Column("state", String(32), nullable=False),
    Column("healthy", Boolean, nullable=False),
    Column("online", Boolean, nullable=False),
    Column("role", String(16), nullable=False),
    Column("last_error", Text, nullable=True),
    Column("metrics", JSON, nullable=False),
    Column("rollbacks", Integer, nullable=False),
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
)

# the team server's audit log: one row per write request, only ever appended
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("key_id", String(16)),  # None: the server ran with --auth off
    Column("key_name", String(200)),
    Column("method", String(8), nullable=False),
    Column("route", String(300), nullable=False),
    Column("path", String(512), nullable=False),
    Column("status", Integer, nullable=False),
    Column("request_id", String(64), nullable=False),
    Index("ix_audit_log_key", "key_id", "id"),
)
