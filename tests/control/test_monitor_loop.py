"""The monitor loop: drift in logged traffic → retrain on recent labels → canary of the winner."""

from __future__ import annotations

import numpy as np
import pytest

from cli_runner import invoke
from modelport.control.monitor_loop import check, check_every
from modelport.control.rollout import active_rollout
from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError, ModelportError, NotFoundError
from modelport.lifecycle.datasets import Dataset, digest_frame, load_dataset
from modelport.lifecycle.endpoints import create_endpoint
from modelport.lifecycle.loading import load
from modelport.lifecycle.predlogs import logs_root
from modelport.lifecycle.registry import get_model, get_version, list_versions
from modelport.lifecycle.search import get_run
from modelport.lifecycle.tune import tune
from modelport.runtimes.batch.jobs import get_job, list_jobs
from modelport.runtimes.prediction_log import PredictionLog

pytest.importorskip("optuna")

SPACE = {"n_neighbors": {"type": "int", "low": 1, "high": 15}}


def noisy(share: float) -> Dataset:
    """breast_cancer with ``share`` of its labels flipped: a champion that learnt little."""
    frame = load_dataset("sklearn:breast_cancer").frame
    flip = np.random.default_rng(0).random(len(frame)) < share
    frame.loc[flip, "target"] = 1 - frame.loc[flip, "target"]
    return Dataset(f"noisy-{share}", frame, digest_frame(frame))


def log_traffic(ws: Workspace, shift: str | None) -> None:
    """Breast-cancer rows through the champion, logged by the real writer; ``shift`` moves
    one column by three standard deviations."""
    frame = load_dataset("sklearn:breast_cancer").frame.drop(columns="target")
    if shift is not None:
        frame[shift] = frame[shift] + 3 * frame[shift].std()
    predictor = load("cancer:1", ws=ws)
    x = predictor.matrix(frame)  # as the runtime takes it (float32 for an ONNX copy)
    predlog = PredictionLog(logs_root(ws), sample=1.0)
    for start in range(0, len(x), 50):
        rows = x[start:start + 50]
        predlog.record("cancer", 1, predictor.signature, f"r{start}", rows,
                       predictor.outputs_of_matrix(rows)["prediction"])
    predlog.flush()


@pytest.fixture
def champion(ws: Workspace) -> Workspace:
    tune(noisy(0.45), "target", "knn", space=SPACE, trials=2, cv=3, name="cancer",
         promote=True, ws=ws)
    create_endpoint("cancer-api", "cancer:1", ws=ws)
    return ws


@pytest.mark.storage_independent
def test_drift_retrains_and_starts_a_canary_of_the_winner(champion: Workspace) -> None:
    ws = champion
    log_traffic(ws, shift="mean radius")
    decision = check("cancer-api", "sklearn:breast_cancer", since_s=3600, steps=(10.0, 100.0),
                     interval_s=60, margin=0.05, ws=ws)
    assert "cancer:1 mean radius" in decision.drifted
    assert decision.challenger == "cancer:2" and decision.action == "canary"
    assert decision.challenger_score is not None and decision.champion_score is not None
    assert decision.challenger_score > decision.champion_score + 0.05
    rollout = active_rollout("cancer-api", ws=ws)
    assert rollout is not None and rollout.id == decision.rollout_id
    assert (rollout.kind, rollout.stable, rollout.candidate) == ("canary", "cancer:1", "cancer:2")
    assert get_model("cancer", ws=ws).aliases["champion"] == 1  # the canary decides, not us
    assert get_version("cancer:2", ws=ws).profile_digest is not None  # monitorable in turn
    run = get_run(decision.run_id or "", ws=ws)
    assert run.experiment == "monitor" and run.tags["action"] == "canary"
    assert run.tags["challenger"] == "cancer:2" and run.tags["rollout_id"] == rollout.id
    assert run.metrics["challenger_score"] == decision.challenger_score  # the numbers decided on
    assert run.metrics["champion_score"] == decision.champion_score


def test_a_turn_is_a_job_with_its_decision_and_numbers(champion: Workspace) -> None:
    ws = champion
    log_traffic(ws, shift="mean radius")
    decision = check("cancer-api", "sklearn:breast_cancer", since_s=3600, steps=(10.0, 100.0),
                     interval_s=60, margin=0.05, ws=ws)
    [job] = list_jobs(kind="monitor", ws=ws)
    assert job.id == decision.job_id and (job.status, job.error) == ("succeeded", None)
    assert (job.model, job.version, job.rows) == ("cancer", 1, 569)  # the endpoint's stable
    assert job.options["target"] == "cancer-api" and job.options["rollout"] == "canary"
    assert job.ended is not None and job.duration is not None
    assert job.result == {k: v for k, v in decision.to_dict().items() if k != "job_id"}
    assert job.result is not None and job.result["action"] == "canary"
    assert "cancer:1 mean radius" in job.result["drifted"]
    assert job.result["challenger"] == "cancer:2" and job.result["rollout_id"] is not None
    assert job.result["challenger_score"] > job.result["champion_score"] + 0.05
    assert get_run(job.result["run_id"], ws=ws).experiment == "monitor"  # the reports
    assert list_jobs(model="cancer", ws=ws)[0].id == job.id


def test_a_failing_turn_leaves_a_failed_job_with_the_error(champion: Workspace) -> None:
    ws = champion
    with pytest.raises(NotFoundError, match="no logged traffic") as quiet:
        check("cancer-api", "sklearn:breast_cancer", since_s=3600, ws=ws)
    [job] = list_jobs(kind="monitor", ws=ws)
    assert (job.status, job.error) == ("failed", quiet.value.message)
    assert job.result is not None and (job.result["action"], job.rows) == ("failed", 0)
    log_traffic(ws, shift="mean radius")
    with pytest.raises(ModelportError) as unreadable:  # drift found, the retrain's data gone
        check("cancer-api", "no/such/recent.parquet", since_s=3600, ws=ws)
    job = list_jobs(kind="monitor", status="failed", limit=1, ws=ws)[0]
    assert (job.status, job.error, job.rows) == ("failed", unreadable.value.message, 569)
    assert job.result is not None and job.result["action"] == "failed"
    assert "cancer:1 mean radius" in job.result["drifted"]  # how far it got
    assert job.result["challenger"] is None and job.result["run_id"] is None
    assert active_rollout("cancer-api", ws=ws) is None
    with pytest.raises(NotFoundError):  # a target that names nothing: filed under itself
        check("nope-api", "sklearn:breast_cancer", since_s=3600, ws=ws)
    job = list_jobs(model="nope-api", ws=ws)[0]
    assert (job.kind, job.version, job.status) == ("monitor", 0, "failed")
    assert "nope-api" in (job.error or "")


@pytest.mark.storage_independent
def test_no_drift_no_retrain(champion: Workspace) -> None:
    ws = champion
    log_traffic(ws, shift=None)
    decision = check("cancer-api", "sklearn:breast_cancer", since_s=3600, ws=ws)
    assert decision.action == "none" and decision.drifted == []
    assert [v.version for v in list_versions("cancer", ws=ws)] == [1]
    assert active_rollout("cancer-api", ws=ws) is None
    with pytest.raises(InvalidInputError, match="--rollout must be one of"):
        check("cancer-api", "sklearn:breast_cancer", rollout="yolo", ws=ws)


@pytest.mark.storage_independent
def test_every_hour_each_check_is_its_own_recorded_run(champion: Workspace) -> None:
    ws = champion
    log_traffic(ws, shift=None)
    waits: list[float] = []
    seen: list[str] = []
    decisions = check_every("cancer-api", "sklearn:breast_cancer", 3600, times=3,
                            sleep=waits.append, on_decision=lambda d: seen.append(d.action),
                            since_s=86400, ws=ws)
    assert waits == [3600, 3600] and seen == ["none"] * 3
    runs = [get_run(d.run_id or "", ws=ws) for d in decisions]
    assert len({r.id for r in runs}) == 3
    assert all(r.tags["action"] == "none" and r.metrics["drifted_columns"] == 0 for r in runs)
    jobs = [get_job(d.job_id or "", ws=ws) for d in decisions]  # and its own job
    assert len({j.id for j in jobs}) == 3 and all(j.kind == "monitor" for j in jobs)
    assert [j.result["run_id"] for j in jobs if j.result] == [r.id for r in runs]
    assert all(j.status == "succeeded" and j.result and j.result["action"] == "none"
               for j in jobs)
    with pytest.raises(InvalidInputError, match="interval must be positive"):
        check_every("cancer-api", "sklearn:breast_cancer", 0, ws=ws)


def test_a_schedule_without_its_loop_is_one_clear_line() -> None:
    for args, message in (
            (["--every", "1h"], "--every and --times schedule --on-drift retrain"),
            (["--on-drift", "retrain", "--data", "x.csv", "--times", "2"],
             "--times counts the checks of --every"),
            (["--on-drift", "retrain", "--data", "x.csv", "--every", "soon"], "--every")):
        with pytest.raises(InvalidInputError) as refused:  # main() prints it as one line
            invoke("monitor", "cancer-api", *args)
        assert message in str(refused.value)
