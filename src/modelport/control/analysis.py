"""Judging a candidate version against the stable one from live statistics.

Like Argo Rollouts' analysis runs and Flagger's checks, each step has three
outcomes: *fail* as soon as enough requests show a breach (error rate,
latency, a shifted prediction distribution, lost accuracy on fed-back
labels) — so clients meet a bad canary's errors for less than one interval;
*pass* once the interval is over with enough requests and no breach; *wait*
otherwise. Error rate and accuracy are judged relative to the stable version,
so traffic that fails everywhere does not blame the candidate.

Only what a client cannot aim at a version judges it: errors are server-side
failures (5xx) — a client's 4xx, which anyone can send through a sticky header,
is reported beside them and moves nothing — and accuracy counts only labels
for predictions the server made (``unverified_feedback`` is shown, not used).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelport.runtimes.serving.stats import LATENCY_BOUNDS, empty


@dataclass(frozen=True)
class Thresholds:
    max_error_rate: float = 0.01
    max_p99_ms: float | None = None
    min_requests: int = 200
    max_shift: float = 0.25  # total-variation distance of predicted classes, or SDs of the mean
    max_accuracy_drop: float = 0.05
    min_feedback: int = 50

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Thresholds:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class Verdict:
    decision: str  # pass | fail | wait
    reason: str
    metrics: dict[str, Any] = field(default_factory=dict)


def p99_ms(latency: dict[str, int]) -> float | None:
    total = sum(latency.values())
    if not total:
        return None
    running = 0
    for bucket in sorted(latency, key=int):
        running += latency[bucket]
        if running >= 0.99 * total:
            return LATENCY_BOUNDS[int(bucket)] * 1000
    return LATENCY_BOUNDS[-1] * 1000


def shift(candidate: dict[str, Any], stable: dict[str, Any]) -> float | None:
    """How far the candidate's predictions moved from the stable version's."""
    a, b = candidate["classes"], stable["classes"]
    if a and b:
        na, nb = sum(a.values()), sum(b.values())
        return 0.5 * sum(abs(a.get(k, 0) / na - b.get(k, 0) / nb) for k in {*a, *b})
    if candidate["value_n"] > 1 and stable["value_n"] > 1:
        mean_a = candidate["value_sum"] / candidate["value_n"]
        mean_b = stable["value_sum"] / stable["value_n"]
        var_b = max(stable["value_sumsq"] / stable["value_n"] - mean_b**2, 1e-12)
        return abs(mean_a - mean_b) / var_b**0.5
    return None


def summary(stats: dict[str, Any]) -> dict[str, Any]:
    requests = stats["requests"]
    out: dict[str, Any] = {"requests": requests, "errors": stats["errors"],
                           "error_rate": stats["errors"] / requests if requests else 0.0,
                           "p99_ms": p99_ms(stats["latency"]),
                           "client_errors": stats.get("client_errors", 0)}
    if stats["feedback"]:
        out["accuracy"] = stats["correct"] / stats["feedback"]
        out["feedback"] = stats["feedback"]
    if stats.get("unverified_feedback"):
        out["unverified_feedback"] = stats["unverified_feedback"]
        out["unverified_accuracy"] = stats["unverified_correct"] / stats["unverified_feedback"]
    if stats["shadow_requests"]:
        out["shadow_requests"] = stats["shadow_requests"]
        out["shadow_error_rate"] = stats["shadow_errors"] / stats["shadow_requests"]
        out["shadow_agreement"] = (stats["shadow_agree"] / stats["shadow_rows"]
                                   if stats["shadow_rows"] else None)
        out["shadow_p99_ms"] = p99_ms(stats["shadow_latency"])
    return out


def analyse(candidate: dict[str, Any] | None, stable: dict[str, Any] | None,
            limits: Thresholds, elapsed_s: float, interval_s: float) -> Verdict:
    cand, base = candidate or empty(), stable or empty()
    c, s = summary(cand), summary(base)
    moved = shift(cand, base)
    metrics = {"candidate": c, "stable": s, "shift": moved, "elapsed_s": round(elapsed_s, 1)}
    n = c["requests"]
    enough_to_fail = n >= max(10, limits.min_requests // 10)
    if enough_to_fail:
        if c["error_rate"] > limits.max_error_rate and c["error_rate"] > s["error_rate"]:
            return Verdict("fail", f"error rate {c['error_rate']:.1%} over "
                                   f"{limits.max_error_rate:.1%} (stable {s['error_rate']:.1%})",
                           metrics)
        if limits.max_p99_ms is not None and c["p99_ms"] is not None \
                and c["p99_ms"] > limits.max_p99_ms:
            return Verdict("fail", f"p99 latency {c['p99_ms']:.1f} ms over "
                                   f"{limits.max_p99_ms:g} ms (stable "
                                   f"{s['p99_ms'] or 0:.1f} ms)", metrics)
    if n >= limits.min_requests and base["requests"] >= limits.min_requests // 4 \
            and moved is not None and moved > limits.max_shift:
        return Verdict("fail", f"predictions shifted by {moved:.2f} (limit "
                               f"{limits.max_shift:g})", metrics)
    if cand["feedback"] >= limits.min_feedback and base["feedback"] >= limits.min_feedback \
            and c["accuracy"] < s["accuracy"] - limits.max_accuracy_drop:
        return Verdict("fail", f"accuracy {c['accuracy']:.1%} vs stable {s['accuracy']:.1%} "
                               f"on fed-back labels", metrics)
    if elapsed_s >= interval_s and n >= limits.min_requests:
        return Verdict("pass", f"{n} requests over {elapsed_s:.0f} s within every limit", metrics)
    return Verdict("wait", f"{n}/{limits.min_requests} requests, {elapsed_s:.0f}/"
                           f"{interval_s:.0f} s", metrics)
