from __future__ import annotations

from modelport.control.analysis import Thresholds, analyse, p99_ms, shift
from modelport.runtimes.serving.stats import StatsRecorder, empty, merge


def _stats(requests: int, errors: int = 0, seconds: float = 0.001,
           classes: dict[str, int] | None = None) -> dict:
    rec = StatsRecorder()
    for i in range(requests):
        rec.request("ep", "m:1", seconds, i >= errors, None)
    data = merge(empty(), next(iter(next(iter(rec._windows.values())).values())))
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
