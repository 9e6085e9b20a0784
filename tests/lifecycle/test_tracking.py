from __future__ import annotations

import pytest

import modelport
from modelport.core.workspace import Workspace
from modelport.errors import ConflictError, InvalidInputError, NotFoundError
from modelport.lifecycle.search import get_run
from modelport.lifecycle.tracking import delete_run, metric_history, start_run


def test_run_records_everything(ws: Workspace, iris) -> None:  # type: ignore[no-untyped-def]
    with start_run(name="baseline", experiment="exp", tags={"team": "ml"}, ws=ws) as run:
        run.log_params({"max_depth": 5, "criterion": "gini"})
        for step, loss in enumerate([0.9, 0.5, 0.2]):
            run.log_metric("loss", loss, step=step)
        run.log_metric("accuracy", 0.93)
        run.set_tag("stage", "dev")
        digest = run.log_artifact(b"some notes", "notes.txt")
        run.log_dataset(iris)
    rec = get_run(run.id, ws=ws)
    assert rec.name == "baseline" and rec.experiment == "exp" and rec.status == "FINISHED"
    assert rec.params == {"max_depth": "5", "criterion": "gini"}
    assert rec.metrics == {"loss": 0.2, "accuracy": 0.93}
    assert rec.tags == {"team": "ml", "stage": "dev"}
    assert rec.artifacts == {"notes.txt": digest}
    assert ws.artifacts.get(digest) == b"some notes"
    assert rec.dataset_digest == iris.digest
    assert rec.duration is not None and rec.duration >= 0
    assert rec.end_time is not None and rec.end_time >= rec.start_time
    assert rec.packages["numpy"] and rec.packages["scikit-learn"]
    assert rec.git_commit is None or len(rec.git_commit) == 40
    assert metric_history(run.id, "loss", ws=ws) == [(0, 0.9), (1, 0.5), (2, 0.2)]


def test_metrics_without_step_keep_their_history(ws: Workspace) -> None:
    with start_run(ws=ws) as run:
        for value in (3.0, 2.0, 1.0):
            run.log_metric("loss", value)
    assert metric_history(run.id, "loss", ws=ws) == [(0, 3.0), (1, 2.0), (2, 1.0)]
    assert get_run(run.id, ws=ws).metrics["loss"] == 1.0


def test_latest_metric_is_the_highest_step_not_the_last_write(ws: Workspace) -> None:
    with start_run(ws=ws) as run:
        run.log_metric("acc", 0.9, step=5)
        run.log_metric("acc", 0.1, step=2)  # a late write of an earlier step
    assert get_run(run.id, ws=ws).metrics["acc"] == 0.9


def test_failed_block_marks_the_run_failed(ws: Workspace) -> None:
    with pytest.raises(ZeroDivisionError), start_run(name="crash", ws=ws) as run:
        run.log_metric("x", 1)
        1 / 0  # noqa: B018
    rec = get_run(run.id, ws=ws)
    assert rec.status == "FAILED" and rec.metrics == {"x": 1.0}


def test_params_are_immutable(ws: Workspace) -> None:
    with start_run(ws=ws) as run:
        run.log_param("lr", 0.1)
        run.log_param("lr", 0.1)  # the same value again is fine
        with pytest.raises(ConflictError, match="params cannot change"):
            run.log_param("lr", 0.2)
    assert get_run(run.id, ws=ws).params == {"lr": "0.1"}


@pytest.mark.parametrize("bad", [{"": 1.0}, {"m": "abc"}, {"m": float("nan")}, {"k" * 300: 1}])
def test_bad_metrics_are_refused_and_nothing_is_written(ws: Workspace, bad: dict) -> None:
    with start_run(ws=ws) as run, pytest.raises(InvalidInputError):
        run.log_batch(params={"a": 1}, metrics={"ok": 1.0, **bad})
    rec = get_run(run.id, ws=ws)
    assert rec.params == {} and rec.metrics == {}


@pytest.mark.parametrize("batch", [{"tags": {"t": "a\x00b"}}, {"params": {"p": "\x00"}},
                                   {"metrics": {"m\x00": 1.0}}, {"tags": {"t\ud800": "x"}},
                                   {"params": {"p": "\udfff"}}])
def test_text_no_store_keeps_is_refused_alike_everywhere(ws: Workspace, batch: dict) -> None:
    """SQLite would keep a NUL that PostgreSQL refuses: both refuse it, by name, first."""
    with start_run(ws=ws) as run, pytest.raises(InvalidInputError, match=r"NUL|surrogate"):
        run.log_batch(**{"params": {"a": 1}, **batch})
    rec = get_run(run.id, ws=ws)
    assert (rec.params, rec.metrics, rec.tags) == ({}, {}, {})


def test_oversized_param_is_refused(ws: Workspace) -> None:
    with start_run(ws=ws) as run, pytest.raises(InvalidInputError, match="limit is 6000"):
        run.log_param("p", "x" * 7000)


def test_artifact_from_file(ws: Workspace, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "report.txt"
    path.write_text("hello")
    with start_run(ws=ws) as run:
        run.log_artifact(path)
        with pytest.raises(NotFoundError):
            run.log_artifact(tmp_path / "missing.txt")
    assert "report.txt" in get_run(run.id, ws=ws).artifacts


def test_delete_run(ws: Workspace) -> None:
    with start_run(ws=ws) as run:
        run.log_metric("a", 1)
    delete_run(run.id, ws=ws)
    with pytest.raises(NotFoundError, match="not found"):
        get_run(run.id, ws=ws)
    with pytest.raises(NotFoundError):
        delete_run(run.id, ws=ws)


def test_public_api_uses_the_environment_workspace(env_ws: Workspace) -> None:
    with modelport.start_run(name="via-env") as run:
        run.log_metric("m", 2.0)
    assert modelport.get_run(run.id, ws=env_ws).metrics == {"m": 2.0}


def test_log_run_records_a_finished_run_in_one_call(ws: Workspace) -> None:
    run_id = modelport.log_run("offline", params={"max_depth": 5}, metrics={"accuracy": 0.93},
                               tags={"stage": "dev"}, experiment="exp",
                               history={"loss": [0.9, 0.5, 0.2]}, duration=3.0, ws=ws)
    rec = get_run(run_id, ws=ws)
    assert (rec.name, rec.experiment, rec.status) == ("offline", "exp", "FINISHED")
    assert rec.params == {"max_depth": "5"} and rec.tags == {"stage": "dev"}
    assert rec.metrics == {"accuracy": 0.93, "loss": 0.2}
    assert rec.duration == 3.0 and rec.end_time == pytest.approx(rec.start_time + 3.0)
    assert metric_history(run_id, "loss", ws=ws) == [(0, 0.9), (1, 0.5), (2, 0.2)]
    assert rec.packages["numpy"]
    with pytest.raises(InvalidInputError, match="metric 'loss' is NaN"):
        modelport.log_run(history={"loss": [float("nan")]}, ws=ws)
    with pytest.raises(InvalidInputError, match="invalid key"):
        modelport.log_run(params={"": 1}, ws=ws)
