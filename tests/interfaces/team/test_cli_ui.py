"""``modelport ui`` as a user starts it: the dashboard on loopback, the owner needs no key."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from servers import free_port

pytestmark = pytest.mark.storage_independent


def test_modelport_ui_serves_the_page_and_trusts_only_its_own_page(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "modelport", "ui", "--port", str(port)],
                            env={**os.environ, "MODELPORT_HOME": str(tmp_path / "home")},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        line = ""
        while not line.startswith("modelport dashboard on"):  # after 'created workspace'
            line = proc.stdout.readline()
            assert line, "modelport ui exited"
        assert line.strip() == f"modelport dashboard on http://127.0.0.1:{port}/"
        url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 30
        while True:
            try:
                page = httpx.get(url + "/", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "modelport ui did not start"
                time.sleep(0.05)
        assert page.status_code == 200 and "/app.js" in page.text
        me = httpx.get(url + "/api/v1/whoami", headers={"X-Modelport-Local": "1"})
        assert me.status_code == 200 and me.json()["local"] is True
        assert httpx.get(url + "/api/v1/whoami").status_code == 401  # not from its page
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()


def test_a_bad_port_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "modelport", "ui", "--port", "0"],
                            capture_output=True, text=True, check=False, timeout=60,
                            env={**os.environ, "MODELPORT_HOME": str(tmp_path)})
    assert result.returncode == 1
    assert result.stderr.strip() == "error: --port must be 1 to 65535, not 0"
