"""Monitoring reports on real served traffic: the in-process app logs it, the report reads it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cli_runner import cli, cli_json, invoke
from modelport.config import Settings
from modelport.core.store.engine import forget_stores
from modelport.core.workspace import Workspace
from modelport.errors import ModelportError, NotFoundError
from modelport.lifecycle import monitoring
from modelport.lifecycle.endpoints import create_endpoint
from modelport.lifecycle.predlogs import logs_root
from modelport.lifecycle.registry import get_version, register_artifact
from modelport.lifecycle.train import train
from modelport.runtimes.prediction_log import PredictionLog
from modelport.runtimes.serving.feedback import record_feedback
from served import serve_frame

NUMERIC = ["age", "income", "debt", "tenure", "score"]


def draw(rows: int, seed: int, shift: str | None = None) -> pd.DataFrame:
    """Rows of one fixed distribution; ``shift`` moves that column by one standard deviation."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": rng.normal(40, 10, rows), "income": rng.lognormal(10, 0.5, rows),
        "debt": rng.normal(5, 2, rows), "tenure": rng.poisson(6, rows).astype(float),
        "score": rng.uniform(300, 850, rows),
        "region": rng.choice(["north", "south", "<b>east</b>"], rows, p=[0.5, 0.3, 0.2])})
    if shift is not None:
        frame[shift] = frame[shift] + frame[shift].std()
    return frame


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("monitor") / "home"
    ws = Workspace.open(Settings(home=home))
    frame = draw(4000, seed=1)
    frame["target"] = ((frame["debt"] > 5) ^ (frame["region"] == "north")).astype(int)
    train(frame, "target", "logistic_regression", name="credit", cv=0, ws=ws)
    forget_stores()
    return home


def serve_rows(home: Path, frame: pd.DataFrame, name: str = "credit", batch: int = 50) -> None:
    """Send ``frame`` through the app's MLflow route, logging every request, then flush."""
    ws = Workspace.open(Settings(home=home))
    try:
        serve_frame(ws, name, frame, PredictionLog(logs_root(ws), sample=1.0, flush_s=3600),
                    batch)
    finally:
        forget_stores()


@pytest.fixture
def fresh(home: Path, tmp_path: Path) -> Iterator[Path]:
    """A copy of the trained workspace with no logs yet."""
    import shutil

    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    yield copy
    forget_stores()


def statuses(report: dict) -> dict[str, str]:  # type: ignore[type-arg]
    return {name: column["status"] for name, column in report["features"].items()}


def test_a_shift_in_one_feature_flags_that_feature_only(fresh: Path) -> None:
    serve_rows(fresh, draw(3000, seed=2, shift="debt"))
    ws = Workspace.open(Settings(home=fresh))
    [report] = monitoring.monitor("credit", since_s=3600, ws=ws)
    found = statuses(report)
    assert found.pop("debt") == "drift"
    assert set(found.values()) == {"ok"}, found
    assert report["status"] == "drift" and report["volume"]["rows"] == 3000
    assert report["volume"]["requests"] == 60
    assert report["baseline"]["source"] == "training"
    assert report["features"]["debt"]["psi"] > 0.2
    assert report["features"]["debt"]["wasserstein"] == pytest.approx(1.0, abs=0.25)


def test_traffic_like_training_flags_nothing(fresh: Path) -> None:
    serve_rows(fresh, draw(3000, seed=3))
    ws = Workspace.open(Settings(home=fresh))
    [report] = monitoring.monitor("credit", since_s=3600, ws=ws)
    assert set(statuses(report).values()) == {"ok"}
    assert report["prediction"]["status"] == "ok" and report["status"] == "ok"
    region = report["features"]["region"]
    shares = dict(zip(region["categories"], region["shares"], strict=True))
    assert region["unseen"] == 0
    assert shares == pytest.approx({"north": 0.5, "south": 0.3, "<b>east</b>": 0.2}, abs=0.04)


def test_unseen_categories_and_holes_are_flagged(fresh: Path) -> None:
    frame = draw(1000, seed=4)
    frame.loc[:299, "region"] = "west"  # never seen in training
    frame.loc[:199, "income"] = np.nan
    serve_rows(fresh, frame)
    ws = Workspace.open(Settings(home=fresh))
    [report] = monitoring.monitor("credit", since_s=3600, ws=ws)
    assert report["features"]["region"]["unseen"] == pytest.approx(0.3)
    assert report["features"]["region"]["status"] == "drift"
    assert report["features"]["income"]["missing"] == pytest.approx(0.2)
    assert report["features"]["income"]["status"] == "drift"


def test_no_traffic_is_a_clear_error(fresh: Path) -> None:
    ws = Workspace.open(Settings(home=fresh))
    with pytest.raises(NotFoundError, match=r"no logged traffic for credit:1 .*--log-sample"):
        monitoring.monitor("credit", since_s=3600, ws=ws)


def test_a_version_without_a_profile_gets_one_from_its_first_hour(fresh: Path) -> None:
    ws = Workspace.open(Settings(home=fresh))
    v1 = get_version("credit:1", ws=ws)
    v2 = register_artifact("credit", v1.format, ws.artifacts.get(v1.artifact_digest),
                           v1.signature, ws=ws)  # as a stream or forecast registers
    assert v2.profile_digest is None
    forget_stores()
    serve_rows(fresh, draw(1000, seed=5), name="credit:2")
    ws = Workspace.open(Settings(home=fresh))
    [report] = monitoring.monitor("credit:2", since_s=3600, ws=ws)
    assert report["baseline"]["source"].startswith("first logged hour")
    assert "had no training profile" in report["notes"][0]
    assert set(statuses(report).values()) == {"ok"}  # the window is its own baseline
    assert get_version("credit:2", ws=ws).profile_digest is not None  # kept from now on


def test_cli_table_json_html_and_endpoint_accuracy(fresh: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    serve_rows(fresh, draw(1000, seed=6, shift="age"))
    monkeypatch.setenv("MODELPORT_HOME", str(fresh))
    ws = Workspace.open(Settings(home=fresh))
    create_endpoint("credit-api", "credit:1", ws=ws)
    record_feedback("credit-api", "credit:1", [0] * 100, [0] * 90 + [1] * 10, ws=ws)
    [report] = cli_json("monitor", "credit-api", "--since", "1h")
    assert report["features"]["age"]["status"] == "drift"
    accuracy = report["accuracy"]
    assert accuracy["accuracy"] == 0.9 and 0.82 < accuracy["low"] < 0.9 < accuracy["high"] < 0.95
    page = fresh / "report.html"
    out = cli("monitor", "credit", "--html", str(page), columns=220)
    assert "credit:1" in out and "drift" in out and "age" in out
    html = page.read_text()
    assert "<svg" in html and "&lt;b&gt;east&lt;/b&gt;" in html and "<b>east" not in html
    assert "http" not in html.lower().replace("http-equiv", "")  # nothing fetched from anywhere
    for bad in (["--since", "soon"], ["--baseline", "last week"]):
        with pytest.raises(ModelportError):
            invoke("monitor", "credit", *bad)
    with pytest.raises(ModelportError, match="needs --data"):
        invoke("monitor", "credit", "--on-drift", "retrain")
    data = fresh / "recent.csv"
    draw(300, seed=9).assign(target=0).to_csv(data, index=False)
    with pytest.raises(ModelportError, match="has no alias 'champion'"):  # nothing to retrain
        invoke("monitor", "credit", "--on-drift", "retrain", "--data", str(data))


def test_a_period_of_logged_traffic_as_the_baseline(fresh: Path) -> None:
    serve_rows(fresh, draw(1000, seed=7))
    ws = Workspace.open(Settings(home=fresh))
    now = time.time()
    day = time.strftime("%Y-%m-%d", time.gmtime(now - 86400))
    later = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now + 60))
    [report] = monitoring.monitor("credit", since_s=3600, baseline=f"{day}..{later}", ws=ws)
    assert report["baseline"]["source"] == f"logs {day}..{later}"
    assert report["baseline"]["rows"] == 1000 and report["status"] == "ok"


def test_damaged_or_foreign_files_in_the_log_directory_are_skipped_and_said(fresh: Path
                                                                            ) -> None:
    serve_rows(fresh, draw(1000, seed=8))
    ws = Workspace.open(Settings(home=fresh))
    [hour] = (logs_root(ws) / "model=credit" / "version=1").glob("hour=*")
    [good] = hour.glob("part-*.parquet")
    (hour / "part-damaged.parquet").write_bytes(good.read_bytes()[:300])  # cut short later
    (hour / "part-garbage.parquet").write_bytes(b"PAR1 not really")
    pq.write_table(pa.table({"ts": ["yesterday"], "prediction": [1]}), hour / "part-x.parquet")
    (hour / ".tmp-unfinished.parquet").write_bytes(b"half")  # a writer killed mid-file
    (logs_root(ws) / "model=credit" / "version=1" / "hour=not-an-hour").mkdir()
    [report] = monitoring.monitor("credit", since_s=3600, ws=ws)
    assert report["volume"]["rows"] == 1000 and report["window"]["unreadable_files"] == 3
    assert report["notes"] == ["3 log file(s) could not be read and were skipped"]
