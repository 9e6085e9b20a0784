"""The CLI on a remote store (a ``modelport server``): one clear line when it is away."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("url", ["http://127.0.0.1:9", "https://ci:secret@127.0.0.1:9/"])
def test_an_unreachable_server_is_one_line(url: str, tmp_path: Path) -> None:
    env = {**os.environ, "MODELPORT_HOME": str(tmp_path), "MODELPORT_DB_URL": url,
           "COLUMNS": "200"}
    result = subprocess.run([sys.executable, "-m", "modelport", "models", "list"],
                            capture_output=True, text=True, env=env, timeout=60, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: modelport server at ")
    assert "did not answer" in lines[0]
    assert "secret" not in result.stderr
