"""A serving replica on a remote workspace follows the team server's change feed: a policy
changed through the API reaches it within about a second, and it asks the server for
endpoint revisions only when the feed says something changed — never 4×/s. It pulls its
versions through the server and writes its statistics back there, and its prediction
log (``--log-sample``) too: another machine's ``monitor`` reads it there."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from modelport.config import Settings
from modelport.core.workspace import Workspace
from modelport.lifecycle.endpoints import Policy, create_endpoint
from modelport.lifecycle.monitoring import monitor
from modelport.lifecycle.predlogs import log_files, read_window
from modelport.lifecycle.registry import register_model
from servers import start_server, stop_server
from team_server import team_server

pytestmark = pytest.mark.storage_independent  # the server's database is PostgreSQL itself

REVISIONS = re.compile(r'modelport_server_requests_total\{method="GET",'
                       r'route="/api/v1/endpoints/revisions",status="200"\} (\d+)')


def _revision_reads(api: httpx.Client) -> int:
    return sum(int(n) for n in REVISIONS.findall(api.get("/metrics").text))


def _answering(url: str, key: str) -> str:
    answer = httpx.post(f"{url}/v2/models/api/infer", timeout=10,
                        headers={"Authorization": f"Bearer {key}"},
                        json={"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64",
                                          "data": [5.1, 3.5, 1.4, 0.2]}]})
    assert answer.status_code == 200, answer.text
    return answer.headers["x-model-version"]


def test_a_policy_change_reaches_a_replica_through_the_feed(tmp_path: Path,
                                                            pg_schema: str) -> None:
    with team_server(Settings(home=tmp_path / "server", db_url=pg_schema)) as (url, key):
        ws = Workspace.open(Settings(home=tmp_path / "a", db_url=url, artifacts_url=url,
                                     token=key))
        X, y = load_iris(return_X_y=True, as_frame=True)
        for c in (0.1, 10.0):
            register_model("iris", LogisticRegression(C=c, max_iter=500).fit(X, y), X=X, ws=ws)
        create_endpoint("api", "iris:1", ws=ws)
        env = {"MODELPORT_URL": url, "MODELPORT_TOKEN": key}
        served = start_server(tmp_path / "replica", "api", "--log-sample", "1", env=env)
        try:
            assert _answering(served.url, key) == "iris:1"
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"},
                              timeout=10) as api:
                before = _revision_reads(api)
                time.sleep(2.0)  # idle: a polling replica would read revisions ~8 times
                idle = _revision_reads(api)
                assert idle <= before + 1  # at most one: the feed's connection, if just now
                changed = api.put("/api/v1/endpoints/api/policy", json={
                    "policy": Policy.single("iris:2").to_dict(), "now": time.time()})
                assert changed.status_code == 200, changed.text
                started = time.monotonic()
                while _answering(served.url, key) != "iris:2":
                    assert time.monotonic() - started < 3.0, "the change did not arrive"
                    time.sleep(0.05)
                took = time.monotonic() - started
                assert took < 1.5, f"the change took {took:.2f} s"  # feed poll 0.25 s + load
                assert _revision_reads(api) <= idle + 1  # one read: when told to
                deadline = time.monotonic() + 10
                while not api.get("/api/v1/stats/api").json():  # its statistics, back
                    assert time.monotonic() < deadline, "no statistics reached the server"
                    time.sleep(0.2)
        finally:
            stop_server(served)
        log = served.log.read_text()
        assert "Traceback" not in log, log
        assert not list((tmp_path / "replica").rglob("sha256"))  # pulled, kept nowhere
        # its prediction log went to the server as it stopped, none of it left behind; another
        # machine's monitor reads it there (see test_remote_prediction_logs)
        assert not list((tmp_path / "replica" / "predictions").rglob("part-*"))
        logged = {v: read_window(log_files(ws), "iris", v, 0).rows for v in (1, 2)}
        assert logged[1] >= 1 and logged[2] >= 1, logged
        [report] = monitor("iris:2", since_s=3600, ws=ws)
        assert report["volume"]["rows"] == logged[2]
        ws.store.close()  # type: ignore[attr-defined]
        ws.artifacts.close()  # type: ignore[attr-defined]
