"""Which workspace a command uses: the nearest ``.modelport/``, found as git finds ``.git``."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli_runner import cli
from modelport.config import Settings, find_home
from modelport.core.store.engine import forget_stores
from modelport.core.workspace import Workspace


def test_find_home_walks_up_to_the_nearest_workspace(tmp_path: Path) -> None:
    deep = tmp_path / "project" / "notebooks" / "draft"
    deep.mkdir(parents=True)
    assert find_home(deep) == deep / ".modelport"  # none yet: here, created on first use
    (tmp_path / ".modelport").mkdir()
    assert find_home(deep) == tmp_path / ".modelport"
    (tmp_path / "project" / ".modelport").mkdir()
    assert find_home(deep) == tmp_path / "project" / ".modelport"  # the nearest wins
    (deep / ".modelport").write_text("a file, not a workspace")
    assert find_home(deep) == tmp_path / "project" / ".modelport"


def test_modelport_home_wins_over_discovery(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".modelport").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MODELPORT_HOME", raising=False)
    assert Settings.from_env().home == tmp_path / ".modelport"
    monkeypatch.setenv("MODELPORT_HOME", str(tmp_path / "elsewhere"))
    assert Settings.from_env().home == tmp_path / "elsewhere"


def test_opening_a_new_workspace_says_so_once(tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "modelport.workspace")
    Workspace.open(Settings(home=tmp_path / "fresh"))
    Workspace.open(Settings(home=tmp_path / "fresh"))
    forget_stores()
    assert [r.getMessage() for r in caplog.records] == [f"created workspace {tmp_path / 'fresh'}"]


def _modelport(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")}
    return subprocess.run([sys.executable, "-m", "modelport", *args], capture_output=True,
                          text=True, cwd=cwd, env={**env, "COLUMNS": "300"}, timeout=120,
                          check=True)


def test_a_subdirectory_uses_the_workspace_above(tmp_path: Path) -> None:
    top = tmp_path / "project"
    sub = top / "src" / "pkg"
    sub.mkdir(parents=True)
    first = _modelport(top, "models", "list")
    assert first.stderr.strip() == f"created workspace {top / '.modelport'}"
    assert first.stdout.strip() == (f"no registered models in workspace {top / '.modelport'} "
                                    "— train one with: modelport train ... --name NAME")
    again = _modelport(sub, "runs", "list")
    assert again.stderr == ""  # found above, not created again
    assert again.stdout.strip() == f"no runs in workspace {top / '.modelport'}"
    assert not (sub / ".modelport").exists()


@pytest.mark.parametrize("args, what", [
    (["jobs", "list"], "no jobs"), (["jobs", "list", "--status", "failed"], "no matching jobs"),
    (["endpoints", "list"], "no endpoints"), (["studies", "list"], "no studies"),
    (["stream", "status"], "no streams"), (["runs", "list", "-f", "metrics.x > 1"],
                                           "no matching runs"),
])
def test_empty_listings_name_the_workspace(env_ws: Workspace, args: list[str],
                                           what: str) -> None:
    out = cli(*args, columns=300)
    assert out.startswith(f"{what} in workspace {env_ws.settings.home.resolve()}")
    if env_ws.settings.db_url.startswith("postgresql"):
        assert "(metadata in postgresql+psycopg://" in out
