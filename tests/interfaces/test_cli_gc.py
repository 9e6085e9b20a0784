"""``modelport gc``: one summary line; bad input, or a key that may not collect, one error
line."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from cli_runner import cli, cli_json
from modelport.config import Settings
from modelport.core.keys import create_key
from modelport.core.workspace import Workspace
from stderr_lines import error_lines
from team_server import close, modelport, remote_workspace, team_server


def test_gc_says_what_it_would_delete_and_deletes_it(env_ws: Workspace) -> None:
    old = env_ws.artifacts.put(b"left by a failed registration")
    then = time.time() - 7200
    for path in Path(env_ws.settings.artifacts_url).rglob("*"):
        os.utime(path, (then, then))
    new = env_ws.artifacts.put(b"stored a moment ago")
    assert cli("gc", "--dry-run").strip() == (
        "would delete 1 unnamed blob(s), 29 bytes; kept 0 named and 1 stored within 1h")
    assert env_ws.artifacts.exists(old)
    assert cli_json("gc", "--grace", "90m", "--json")["deleted"] == [old]
    assert not env_ws.artifacts.exists(old) and env_ws.artifacts.exists(new)
    assert cli("gc").startswith("deleted 0 unnamed blob(s), 0 bytes; kept 0 named and 1 ")


@pytest.mark.storage_independent
@pytest.mark.parametrize("grace, message", [
    ("nonsense", "invalid --grace 'nonsense'"), ("0", "must be positive"),
    ("-5m", "invalid --grace")])
def test_a_bad_grace_is_one_line(tmp_path: Path, grace: str, message: str) -> None:
    result = modelport("gc", "--grace", grace, env={"MODELPORT_HOME": str(tmp_path)})
    lines = error_lines(result.stderr)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], lines


@pytest.mark.storage_independent
def test_behind_a_server_only_an_admin_collects(tmp_path: Path) -> None:
    server = Settings(home=tmp_path / "server")
    with team_server(server) as (url, admin):
        owner = remote_workspace(url, admin, tmp_path / "owner")  # known to the server at once
        try:
            writer = create_key("w", ["write"], ws=owner)[1]
        finally:
            close(owner)
        env = {"MODELPORT_URL": url, "MODELPORT_HOME": str(tmp_path / "client")}
        refused = modelport("gc", env={**env, "MODELPORT_TOKEN": writer})
        lines = error_lines(refused.stderr)
        assert refused.returncode == 1 and len(lines) == 1 and "admin" in lines[0], lines
        done = modelport("gc", "--dry-run", env={**env, "MODELPORT_TOKEN": admin})
        assert done.returncode == 0 and done.stdout.startswith("would delete 0 "), done.stderr
