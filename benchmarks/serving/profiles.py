"""Where a server's CPU goes under load: py-spy samples, folded into per-function shares.

The profile is taken in a separate run after the measurements (sampling slows
the server a little, so a profiled run's numbers are never reported as the
benchmark's). py-spy records every thread's Python stack, idle threads
excluded, while wrk drives the server at c=32; with the server saturating its
one core, a function's share of the samples times the CPU time per request
(1 / rps) estimates what it costs each request.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RATE_HZ = 250
# leaves where a thread only waits (py-spy cannot always tell a futex wait from work): a
# thread-pool worker blocked on its queue, threading waits
IDLE_LEAVES = frozenset({"_worker (concurrent/futures/thread.py)", "wait (threading.py)",
                         "Condition.wait (threading.py)", "Event.wait (threading.py)",
                         "select (selectors.py)", "EpollSelector.select (selectors.py)"})
_LINE = re.compile(r" \(([^()]*?)(?::\d+)?\)$")


@dataclass
class Profile:
    samples: int
    idle: int
    self_counts: Counter[str]
    inclusive: Counter[str]

    def top(self, which: str, n: int, rps: float, only: str = "") -> list[dict[str, Any]]:
        counts = self.self_counts if which == "self" else self.inclusive
        rows = []
        for name, count in counts.most_common():
            if only and only not in name:
                continue
            share = count / self.samples if self.samples else 0.0
            rows.append({"function": name, "share": round(share, 4),
                         "us_per_request": round(share * 1e6 / rps, 1) if rps else None})
            if len(rows) == n:
                break
        return rows


def record(py_spy: Path, pid: int, seconds: float, out: Path) -> None:
    """Sample ``pid`` (and its threads) for ``seconds`` into py-spy's raw (folded) format."""
    subprocess.run(["taskset", "-c", "1", str(py_spy), "record", "--rate", str(RATE_HZ),
                    "--duration", str(max(1, round(seconds))), "--format", "raw",
                    "--output", str(out), "--pid", str(pid)],
                   check=True, capture_output=True, timeout=seconds + 60)


def _frame(text: str) -> str:
    """``func (pkg/mod.py:123)`` → ``func (pkg/mod.py)``: lines of one function fold together."""
    match = _LINE.search(text)
    if match is None:
        return text.strip()
    return f"{text[:match.start()].strip()} ({match.group(1)})"


def fold(raw: Path) -> Profile:
    self_counts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    samples = idle = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";") if f]
        if not frames:
            continue
        if frames[-1] in IDLE_LEAVES:
            idle += count
            continue
        samples += count
        self_counts[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    return Profile(samples, idle, self_counts, inclusive)


def summary(raw: Path, rps: float, n: int = 60) -> dict[str, Any]:
    profile = fold(raw)
    return {"samples": profile.samples, "idle_samples_dropped": profile.idle,
            "rate_hz": RATE_HZ, "rps_while_profiled": rps, "raw": raw.name,
            "inclusive": profile.top("inclusive", n, rps),
            "self": profile.top("self", n, rps)}
