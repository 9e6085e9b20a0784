"""The CLI on a store URL it cannot use yet: one clear line, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("url", ["http://team:8080", "https://ci:secret@team.example/"])
def test_a_remote_store_url_is_one_line(url: str, tmp_path: Path) -> None:
    env = {**os.environ, "MODELPORT_HOME": str(tmp_path), "MODELPORT_DB_URL": url,
           "COLUMNS": "200"}
    result = subprocess.run([sys.executable, "-m", "modelport", "models", "list"],
                            capture_output=True, text=True, env=env, timeout=60, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: remote store ")
    assert "needs `modelport server` (issue 16, not built yet)" in lines[0]
    assert "secret" not in result.stderr
