"""``modelport server`` as a user starts it, and the CLI using it as its store."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from modelport.errors import InvalidInputError
from modelport.interfaces.team.access import check_listening
from servers import free_port
from team_server import modelport, start, stop

pytestmark = pytest.mark.storage_independent


def test_first_start_prints_an_admin_key_once_and_the_cli_trains_through_the_server(
        tmp_path: Path) -> None:
    home, port = tmp_path / "home", free_port()
    proc, lines = start(home, port)
    try:
        key = next(line for line in lines if line.startswith("mp_"))
        remote = {"MODELPORT_HOME": str(tmp_path / "laptop"),
                  "MODELPORT_DB_URL": f"http://127.0.0.1:{port}", "MODELPORT_TOKEN": key}
        listed = modelport("models", "list", "--json", env=remote)
        assert (listed.returncode, listed.stdout.strip()) == (0, "[]"), listed.stderr
        trained = modelport("train", "--data", "sklearn:iris", "--target", "target", "--model",
                            "logistic_regression", "--name", "iris", "--no-onnx", env=remote)
        assert trained.returncode == 0 and "registered iris:1" in trained.stdout, trained.stderr
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1",
                          headers={"Authorization": f"Bearer {key}"}) as api:
            version = api.get("/models/iris/versions/1").json()
            assert version["run_id"] and api.get(f"/runs/{version['run_id']}").status_code == 200
        refused = modelport("models", "list", env={**remote, "MODELPORT_TOKEN": "mp_x_forged"})
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        assert refused.stderr.strip() == "error: unknown or revoked API key"
    finally:
        stop(proc)
    proc, lines = start(home, port)  # the key exists now: nothing secret is printed again
    stop(proc)
    assert not any(line.startswith("mp_") for line in lines)


def test_a_bad_port_is_one_line(tmp_path: Path) -> None:
    result = modelport("server", "--port", "70000", env={"MODELPORT_HOME": str(tmp_path)})
    assert result.returncode == 1
    assert result.stderr.strip() == "error: --port must be 1 to 65535, not 70000"


def test_the_server_refuses_to_listen_off_loopback_without_auth(tmp_path: Path) -> None:
    result = modelport("server", "--host", "0.0.0.0", "--auth", "off",
                       env={"MODELPORT_HOME": str(tmp_path)})
    assert result.returncode == 1
    assert result.stderr.strip() == ("error: refusing to serve on 0.0.0.0 without "
                                     "authentication — drop --auth off (clients then send "
                                     "'Authorization: Bearer KEY')")
    assert not (tmp_path / "modelport.db").exists()  # refused before the store was opened
    for host in ("192.168.1.20", "::", "10.0.0.1", "example.com"):
        with pytest.raises(InvalidInputError, match=f"refusing to serve on {host} without"):
            check_listening(host, auth=False)
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        check_listening(host, auth=False)
    check_listening("0.0.0.0", auth=True)

