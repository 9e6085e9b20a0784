"""``modelport logs prune-orphans``, as a user types it on a workspace without a server:
the logs and labels of a model no project has any more are listed (``--dry-run``), then
erased; a live model's stay."""

from __future__ import annotations

import uuid

from cli_runner import cli, cli_json
from modelport.core.logfiles import LABELS, LOGS, LocalLogFiles
from modelport.core.workspace import Workspace
from modelport.lifecycle.predlogs import hour_of, log_files


def _plant(ws: Workspace, name: str) -> None:
    """A log and a label file of ``name:1``, as a model deleted before deletes erased its
    files left them."""
    for kind in (LOGS, LABELS):
        root = log_files(ws, kind)
        assert isinstance(root, LocalLogFiles)
        hour = root.directory(name, 1, hour_of(1_765_000_000))
        hour.mkdir(parents=True)
        (hour / f"part-{uuid.uuid4().hex}.parquet").write_bytes(b"PAR1")


def test_prune_orphans_lists_then_erases_a_deleted_models_logs(env_ws: Workspace) -> None:
    cli("train", "--data", "sklearn:iris", "--target", "target", "--model", "knn",
        "--name", "iris")
    _plant(env_ws, "iris")
    _plant(env_ws, "gone")
    assert cli_json("logs", "prune-orphans", "--dry-run") == {
        "models": {"gone": 2}, "files": 2, "erased": False}
    assert "gone" in cli("logs", "prune-orphans")
    assert not list(env_ws.settings.home.rglob("model=gone/version=*/hour=*/part-*"))
    assert len(log_files(env_ws).list("iris", 1)) == 1  # a live model's: kept
    assert "no orphaned prediction logs" in cli("logs", "prune-orphans")
