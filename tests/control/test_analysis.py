from __future__ import annotations

from modelport.control.analysis import Thresholds, analyse, p99_ms, shift
from modelport.runtimes.serving.stats import StatsRecorder, empty, merge


def _stats(requests: int, errors: int = 0, seconds: float = 0.001,
           classes: dict[str, int] | None = None, client_errors: int = 0) -> dict:
    rec = StatsRecorder()
    for i in range(requests):
        rec.request("ep", "m:1", seconds, 500 if i < errors else 200, None)
    for _ in range(client_errors):
        rec.request("ep", "m:1", 0.0001, 422, None)
    _, rows = rec.snapshot()
    data = merge(empty(), rows[0]["data"])
    if classes:
        data["classes"] = classes
    return data


LIMITS = Thresholds(max_error_rate=0.01, max_p99_ms=50, min_requests=100)


def test_fails_fast_on_errors_relative_to_stable() -> None:
    verdict = analyse(_stats(20, errors=4), _stats(80), LIMITS, elapsed_s=1, interval_s=30)
    assert verdict.decision == "fail" and "error rate 20.0%" in verdict.reason
    assert verdict.metrics["candidate"]["errors"] == 4
    # errors everywhere are not the candidate's fault
    same = analyse(_stats(20, errors=4), _stats(80, errors=16), LIMITS, 1, 30)
    assert same.decision == "wait"


def test_client_errors_neither_fail_nor_shield_a_candidate() -> None:
    aimed = analyse(_stats(20, client_errors=400), _stats(80), LIMITS, elapsed_s=1,
                    interval_s=30)
    assert aimed.decision == "wait" and aimed.metrics["candidate"]["client_errors"] == 400
    # fast 4xx do not dilute a failing candidate's error rate nor its latency
    failing = analyse(_stats(20, errors=4, client_errors=1000), _stats(80), LIMITS, 1, 30)
    assert failing.decision == "fail" and "error rate 20.0%" in failing.reason
    slow = analyse(_stats(20, seconds=0.12, client_errors=1000), _stats(80), LIMITS, 1, 30)
    assert slow.decision == "fail" and "p99 latency" in slow.reason


def test_unverified_feedback_is_shown_but_never_judged() -> None:
    limits = Thresholds(min_requests=1000, min_feedback=20)
    candidate, stable = _stats(20), _stats(80)
    candidate.update(unverified_feedback=100, unverified_correct=0)
    stable.update(unverified_feedback=100, unverified_correct=100)
    verdict = analyse(candidate, stable, limits, 1, 30)
    assert verdict.decision == "wait"
    assert verdict.metrics["candidate"]["unverified_accuracy"] == 0


def test_fails_on_latency_and_passes_after_the_interval() -> None:
    slow = analyse(_stats(20, seconds=0.12), _stats(80), LIMITS, 1, 30)
    assert slow.decision == "fail" and "p99 latency" in slow.reason
    assert slow.metrics["candidate"]["p99_ms"] >= 100
    assert analyse(_stats(150), _stats(600), LIMITS, 10, 30).decision == "wait"
    assert analyse(_stats(50), _stats(600), LIMITS, 31, 30).decision == "wait"  # too few
    ok = analyse(_stats(150), _stats(600), LIMITS, 31, 30)
    assert ok.decision == "pass" and "150 requests" in ok.reason


def test_prediction_shift_and_accuracy() -> None:
    moved = analyse(_stats(200, classes={"a": 200}), _stats(200, classes={"b": 200}), LIMITS,
                    1, 30)
    assert moved.decision == "fail" and "shifted by 1.00" in moved.reason
    assert shift(_stats(1, classes={"a": 5, "b": 5}), _stats(1, classes={"a": 5, "b": 5})) == 0
    worse, better = _stats(150), _stats(600)
    worse.update(feedback=100, correct=70)
    better.update(feedback=100, correct=95)
    verdict = analyse(worse, better, LIMITS, 1, 30)
    assert verdict.decision == "fail" and "accuracy 70.0% vs stable 95.0%" in verdict.reason


def test_p99_from_buckets() -> None:
    assert p99_ms({}) is None
    data = _stats(100, seconds=0.002)
    assert 1.5 < p99_ms(data["latency"]) < 2.6


def test_noted_requests_are_counted_into_their_windows(monkeypatch) -> None:  # type: ignore
    """The request path only notes a request; the counts, latency buckets and classes
    come out the same when the counters are taken, each in the window it came in."""
    import math

    import numpy as np

    from modelport.runtimes.serving import stats

    now = [100.2]
    monkeypatch.setattr(stats.time, "time", lambda: now[0])
    rec = StatsRecorder()
    rec.request("ep", "m:1", 0.0005, 200, np.array([1]))
    rec.request("ep", "m:1", 0.2, 500, np.array([1, 2]))
    rec.request("ep", "m:2", 0.00005, 200, np.array([0.5, 1.5]))  # a regressor's values
    now[0] = 101.1
    rec.request("ep", "m:1", 0.0005, 200, np.array([2]))
    _, rows = rec.snapshot()
    by = {(r["window"], r["version"]): r["data"] for r in rows}
    first = by[(100.0, "m:1")]
    bucket = [str(int(math.log(s / 1e-4, 1.25)) + 1) for s in (0.0005, 0.2)]
    assert (first["requests"], first["errors"]) == (2, 1)
    assert first["latency"] == {bucket[0]: 1, bucket[1]: 1}
    assert first["classes"] == {"1": 2, "2": 1}
    regressor = by[(100.0, "m:2")]
    assert regressor["latency"] == {"0": 1}
    assert (regressor["value_n"], regressor["value_sum"]) == (2, 2.0)
    assert by[(101.0, "m:1")]["classes"] == {"2": 1}
    assert rec.snapshot()[1] == rows  # counted once: nothing noted since
