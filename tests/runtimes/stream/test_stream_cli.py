"""``modelport stream`` as a user runs it: a real process, killed with SIGKILL
mid-stream and restarted, then inspected with ``stream status``."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from urllib.request import urlopen

import pytest
from streams import concept_drift, publish_events, publish_labels, read_all, wait_for

from cli_runner import cli, cli_json, invoke
from modelport.core.workspace import Workspace
from modelport.errors import ModelportError
from modelport.runtimes.stream import brokers
from modelport.runtimes.stream.progress import list_streams
from servers import free_port


def _stream(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "modelport", "stream", "run", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=os.environ.copy())


# one broker per metadata store: each pair is a few seconds of real work
@pytest.mark.parametrize("make_url, backend", [("redis", "sqlite"), ("nats", "postgresql")],
                         indirect=True)
def test_kill_9_mid_stream_loses_nothing_and_learns_each_label_once(
        make_url: Callable[[str], str], online_model: str, env_ws: Workspace) -> None:
    n = 20_000
    events, preds, labels = make_url("events"), make_url("preds"), make_url("labels")
    frame, y = concept_drift(n, 10**9, seed=3)
    publish_events(events, frame)
    publish_labels(labels, y)
    port = free_port()
    args = [online_model, "--source", events, "--sink", preds, "--labels", labels, "--learn",
            "--group", "k", "--consumer", "c1", "--batch-size", "100",
            "--checkpoint-events", "2000", "--checkpoint-seconds", "1",
            # JetStream hands a dead member's unacknowledged events out again only after
            # its ack wait (--claim-after); Redis gives them back at once to the same name
            "--claim-after", "3"]
    first = _stream(*args, "--metrics-port", str(port))

    def checkpointed() -> bool:
        records = list_streams("k", ws=env_ws)
        return bool(records and records[0].checkpoint and records[0].checkpoint["labels"] > 0)

    wait_for(checkpointed, timeout=60)
    metrics = urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert 'modelport_stream_events_total{stream="k",consumer="c1",model="drifty:1"}' in metrics
    # kill while the consumer holds events its last checkpoint does not cover
    with brokers.open_source(events, "k", "probe") as probe:
        wait_for(lambda: (probe.info().pending or 0) > 0, timeout=30)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=10)
        held = probe.info().pending or 0  # 0 only if a checkpoint landed just before the kill
    [killed] = list_streams("k", ws=env_ws)
    assert killed.checkpoint is not None and killed.checkpoint["events"] < n, \
        "the kill came too late to test a resume"

    second = _stream(*args, "--exit-when-idle", "5")
    _, err = second.communicate(timeout=120)
    assert second.returncode == 0, err.decode()
    assert b"resumed from the checkpoint" in err
    got = read_all(preds, n)
    assert {p["id"] for p in got} == {f"e{i}" for i in range(n)}  # nothing lost
    replayed = sum(p["redelivered"] for p in got)
    assert replayed >= held > 0 or replayed == held == 0, (replayed, held)  # replays marked
    [done] = list_streams("k", ws=env_ws)
    assert done.checkpoint is not None and done.checkpoint["labels"] == n  # each label once
    assert done.stats["join"]["matched"] == n and done.stats["pending"] == 0

    [status] = cli_json("stream", "status")
    assert status["name"] == "k" and status["state"] == "stopped"
    assert status["stats"]["lag"] == 0 and status["stats"]["learnt"] == n
    table = cli("stream", "status")
    assert "drifty:1" in table and "stopped" in table


def test_train_online_from_the_cli_then_bad_input_is_one_line(env_ws: Workspace,
                                                              tmp_path) -> None:  # type: ignore[no-untyped-def]
    frame, y = concept_drift(300, 10**9)
    path = tmp_path / "d.csv"
    frame.assign(label=y).to_csv(path, index=False)
    out = cli_json("train", "--online", "--data", str(path), "--target", "label", "--model",
                   "preprocessing.StandardScaler | linear_model.LogisticRegression(l2=0.001)",
                   "--name", "ol")
    assert out["version"] == "ol:1" and out["metrics"]["online_accuracy"] > 0.8
    for model, message in [("os.system", "River has no 'os.system'"),
                           ("tree.HoeffdingTreeClassifier(nope=1)", "unexpected keyword"),
                           ("preprocessing.StandardScaler", "neither classifies nor regresses")]:
        with pytest.raises(ModelportError, match=re.escape(message)):
            invoke("train", "--online", "--data", str(path), "--target", "label", "--model",
                   model)


def test_stream_run_refuses_bad_options(online_model: str, env_ws: Workspace) -> None:
    for args, message in [
        (["--learn"], "needs a label stream"),
        (["--on-drift", "explode"], "unknown drift action"),
        (["--on-drift", "retrain"], "needs --retrain-data"),
        (["--drift", "magic"], "unknown drift detector"),
        (["--learn", "--labels", "redis://127.0.0.1:6379/l", "--claim-after", "2"],
         "must be shorter than --claim-after"),
    ]:
        with pytest.raises(ModelportError, match=re.escape(message)):
            invoke("stream", "run", online_model, "--source", "redis://127.0.0.1:6379/x",
                   "--sink", "redis://127.0.0.1:6379/y", *args)
    with pytest.raises(ModelportError, match="redis"):
        invoke("stream", "run", online_model, "--source", "kafka://h/x", "--sink",
               "redis://127.0.0.1:6379/y", "--max-events", "1")
