"""The rollout state machine and controller on both stores, fed with recorded statistics."""

from __future__ import annotations

import time

import pytest
from sklearn.linear_model import LogisticRegression

from modelport.control import rollout as ro
from modelport.control.controller import Controller
from modelport.core.workspace import Workspace
from modelport.errors import ConflictError, InvalidInputError, NotFoundError
from modelport.lifecycle.endpoints import Policy, Route, create_endpoint, get_endpoint
from modelport.lifecycle.registry import register_model
from modelport.runtimes.serving.feedback import record_feedback
from modelport.runtimes.serving.stats import StatsRecorder


@pytest.fixture
def ep(ws: Workspace, iris) -> Workspace:  # type: ignore[no-untyped-def]
    X, y = iris.frame.drop(columns="target"), iris.frame["target"]
    for c in (1.0, 0.5, 0.1):
        register_model("iris", LogisticRegression(C=c, max_iter=300).fit(X, y), X=X, ws=ws)
    renamed = X.rename(columns={"petal width (cm)": "stem length"})
    register_model("other", LogisticRegression(max_iter=300).fit(renamed, y), X=renamed, ws=ws)
    create_endpoint("api", "iris:1", ws=ws)
    return ws


def traffic(ws: Workspace, version: str, n: int, errors: int = 0, seconds: float = 0.001,
            client_errors: int = 0) -> None:
    rec = StatsRecorder()
    for i in range(n):
        rec.request("api", version, seconds, 500 if i < errors else 200, None)
    for _ in range(client_errors):
        rec.request("api", version, seconds, 422, None)
    rec.flush(ws)


def test_canary_steps_through_and_promotes(ep: Workspace) -> None:
    r = ro.start_canary("api", "iris:2", [10, 50, 100], interval_s=0.2,
                        thresholds={"min_requests": 20}, ws=ep)
    assert r.state == "running" and (r.stable, r.candidate) == ("iris:1", "iris:2")
    assert get_endpoint("api", ws=ep).policy.weight_of("iris:2") == 10
    controller = Controller(ep)
    for expected_weight in (50, 100, None):  # the last step is analysed too, then promoted
        traffic(ep, "iris:2", 30)
        traffic(ep, "iris:1", 100)
        time.sleep(0.25)
        controller.tick()
        if expected_weight is not None:
            assert get_endpoint("api", ws=ep).policy.weight_of("iris:2") == expected_weight
    final = ro.latest_rollout("api", ws=ep)
    assert final.state == "promoted"
    assert get_endpoint("api", ws=ep).policy == Policy.single("iris:2")
    (_, events), = ro.history("api", ws=ep)
    assert [e.action for e in events] == ["start", "step", "step", "promote"]
    assert events[1].metrics["candidate"]["requests"] >= 20


def test_canary_aborts_on_errors_and_records_why(ep: Workspace) -> None:
    ro.start_canary("api", "iris:2", [20, 100], interval_s=60,
                    thresholds={"min_requests": 100}, ws=ep)
    traffic(ep, "iris:1", 100)
    traffic(ep, "iris:2", 10, errors=1)
    Controller(ep).tick()
    final = ro.latest_rollout("api", ws=ep)
    assert final.state == "aborted"
    assert get_endpoint("api", ws=ep).policy == Policy.single("iris:1")
    (_, events), = ro.history("api", ws=ep)
    assert events[-1].action == "abort" and "error rate 10.0%" in events[-1].reason


def test_client_errors_are_reported_but_never_abort(ep: Workspace) -> None:
    ro.start_canary("api", "iris:2", [20, 100], interval_s=60,
                    thresholds={"min_requests": 100}, ws=ep)
    traffic(ep, "iris:1", 100)
    traffic(ep, "iris:2", 10, client_errors=500)
    Controller(ep).tick()
    assert ro.latest_rollout("api", ws=ep).state == "running"
    traffic(ep, "iris:2", 10, errors=1)  # one 5xx in 20 answered: the version failed
    Controller(ep).tick()
    (_, events), = ro.history("api", ws=ep)
    assert events[-1].action == "abort" and "error rate 5.0%" in events[-1].reason
    assert events[-1].metrics["candidate"]["client_errors"] == 500


def test_feedback_names_a_version_the_endpoint_serves(ep: Workspace) -> None:
    from modelport.runtimes.serving.feedback import InvalidFeedbackError

    with pytest.raises(InvalidFeedbackError, match="does not serve 'iris:3'"):
        record_feedback("api", "iris:3", [0], [0], ep)
    with pytest.raises(InvalidFeedbackError, match="at most 220"):
        record_feedback("api", "x" * 300, [0], [0], ep)
    # the Python API holds the store: any number of labels at once
    assert record_feedback("api", "iris:1", [0] * 20_000, [0] * 20_000, ep) == 20_000


def test_accuracy_from_fed_back_labels_aborts(ep: Workspace) -> None:
    ro.start_canary("api", "iris:2", [50, 100], interval_s=60,
                    thresholds={"min_requests": 1000, "min_feedback": 20}, ws=ep)
    record_feedback("api", "iris:1", [0] * 40, [0] * 40, ep)
    record_feedback("api", "iris:2", [0] * 40, [0] * 20 + [1] * 20, ep)
    Controller(ep).tick()
    assert ro.latest_rollout("api", ws=ep).state == "aborted"


def test_pause_resume_promote_abort_rollback(ep: Workspace) -> None:
    ro.start_canary("api", "iris:2", [10, 100], interval_s=0.01,
                    thresholds={"min_requests": 1}, ws=ep)
    with pytest.raises(ConflictError, match="already has a rollout"):
        ro.start_canary("api", "iris:3", [10], interval_s=1, ws=ep)
    ro.pause("api", ws=ep)
    traffic(ep, "iris:2", 20)
    Controller(ep).tick()  # paused: nothing moves
    assert ro.active_rollout("api", ws=ep).step == 0  # type: ignore[union-attr]
    with pytest.raises(ConflictError, match="not running"):
        ro.pause("api", ws=ep)
    ro.resume("api", ws=ep)
    assert ro.promote("api", ws=ep).state == "promoted"
    assert get_endpoint("api", ws=ep).policy == Policy.single("iris:2")
    back = ro.rollback("api", ws=ep)
    assert back.state == "rolled_back"
    assert get_endpoint("api", ws=ep).policy == Policy.single("iris:1")
    with pytest.raises(ConflictError, match="already went back"):
        ro.rollback("api", ws=ep)
    with pytest.raises(NotFoundError, match="no rollout in progress"):
        ro.abort("api", ws=ep)


def test_bluegreen_warms_switches_and_completes(ep: Workspace) -> None:
    r = ro.start_bluegreen("api", "iris:3", grace_s=0.2, ws=ep)
    assert r.state == "warming"
    assert get_endpoint("api", ws=ep).policy == Policy([Route("iris:1", 100)], warm=["iris:3"])
    rec = StatsRecorder()  # a serving worker that holds only the stable version so far
    rec.loaded = {"api": {"iris:1"}}
    rec.flush(ep)
    Controller(ep).tick()
    assert ro.active_rollout("api", ws=ep).state == "warming"  # type: ignore[union-attr]
    rec.loaded = {"api": {"iris:1", "iris:3"}}
    rec.flush(ep)
    Controller(ep).tick()
    switched = ro.active_rollout("api", ws=ep)
    assert switched is not None and switched.state == "switched"
    assert get_endpoint("api", ws=ep).policy == Policy([Route("iris:3", 100)], warm=["iris:1"])
    time.sleep(0.25)
    Controller(ep).tick()
    assert ro.latest_rollout("api", ws=ep).state == "completed"
    assert get_endpoint("api", ws=ep).policy == Policy.single("iris:3")


def test_shadow_mirrors_until_decided(ep: Workspace) -> None:
    ro.start_shadow("api", "iris:2", 25, ws=ep)
    policy = get_endpoint("api", ws=ep).policy
    assert policy.shadow == "iris:2" and policy.shadow_percent == 25
    assert policy.routes == [Route("iris:1", 100)]
    Controller(ep).tick()
    assert ro.active_rollout("api", ws=ep).state == "running"  # type: ignore[union-attr]
    ro.abort("api", ws=ep)
    assert get_endpoint("api", ws=ep).policy == Policy.single("iris:1")


def test_two_controllers_never_both_act(ep: Workspace) -> None:
    r = ro.start_canary("api", "iris:2", [10, 100], interval_s=60, ws=ep)
    ro.transition(r, "step", "first", step=1, ws=ep)
    with pytest.raises(ConflictError, match="changed meanwhile"):
        ro.transition(r, "step", "second", step=1, ws=ep)


@pytest.mark.parametrize("to, message", [
    ("other:1", "needs column 'stem length' that clients of iris:1 do not send"),
    ("iris:1", "already what the endpoint serves"),
    ("iris:9", "no version 9"),
])
def test_candidates_are_checked_before_release(ep: Workspace, to: str, message: str) -> None:
    with pytest.raises((InvalidInputError, NotFoundError), match=message):
        ro.start_bluegreen("api", to, ws=ep)
    assert ro.active_rollout("api", ws=ep) is None


@pytest.mark.parametrize("steps", [[], [50, 10], [0, 100], [150]])
def test_bad_steps(ep: Workspace, steps: list[float]) -> None:
    with pytest.raises(InvalidInputError, match="steps"):
        ro.start_canary("api", "iris:2", steps, interval_s=1, ws=ep)
