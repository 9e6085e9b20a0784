"""Prometheus metrics, kept in plain dicts and rendered in the text format.

Recording is a dict increment on the request path; the exposition is built
only when ``/metrics`` is scraped. Each worker process keeps its own series
(labelled with its ``pid``), as Prometheus expects from separate targets.
A key limited to some models reads only their series.
"""

from __future__ import annotations

import bisect
import os
from collections import defaultdict
from collections.abc import Callable, Container, Iterable

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class Histogram:
    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts: dict[tuple[str, ...], list[int]] = {}
        self.sums: dict[tuple[str, ...], float] = defaultdict(float)

    def observe(self, labels: tuple[str, ...], value: float) -> None:
        counts = self.counts.get(labels)
        if counts is None:
            counts = self.counts[labels] = [0] * (len(self.buckets) + 1)
        counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sums[labels] += value


class Metrics:
    def __init__(self) -> None:
        self.requests: dict[tuple[str, ...], int] = defaultdict(int)
        self.latency = Histogram(LATENCY_BUCKETS)
        self.batch_size = Histogram(BATCH_BUCKETS)
        self.pid = str(os.getpid())

    def request(self, model: str, version: str, protocol: str, status: int,
                seconds: float) -> None:
        self.requests[(model, version, protocol, str(status))] += 1
        if model:
            self.latency.observe((model, version), seconds)

    def render(self, gauges: Iterable[tuple[str, str, str, float]] = (),
               models: Container[str] | None = None) -> bytes:
        """The text exposition; ``gauges`` are (name, model, version, value) read now.
        With ``models``, only the series of those models (not even the model-less ones)."""
        out: list[str] = []
        pid = self.pid
        out += ["# HELP modelport_requests_total Requests answered, by model, version, "
                "protocol and status.", "# TYPE modelport_requests_total counter"]
        for (model, version, protocol, status), n in sorted(self.requests.items()):
            if models is not None and model not in models:
                continue
            out.append(f'modelport_requests_total{{model="{model}",version="{version}",'
                       f'protocol="{protocol}",status="{status}",pid="{pid}"}} {n}')
        render_histogram(out, "modelport_request_duration_seconds", "Time to answer a request.",
                   self.latency, lambda lb: f'model="{lb[0]}",version="{lb[1]}",pid="{pid}"',
                   models)
        render_histogram(out, "modelport_batch_size_rows", "Rows per model call (micro-batches).",
                   self.batch_size, lambda lb: f'model="{lb[0]}",version="{lb[1]}",pid="{pid}"',
                   models)
        by_name: dict[str, list[str]] = defaultdict(list)
        for name, model, version, value in gauges:
            if models is not None and model not in models:
                continue
            by_name[name].append(f'{name}{{model="{model}",version="{version}",pid="{pid}"}} '
                                 f'{value:g}')
        for name, lines in by_name.items():
            out += [f"# TYPE {name} gauge", *lines]
        return ("\n".join(out) + "\n").encode()


def render_histogram(out: list[str], name: str, help_: str, hist: Histogram,
               labels: Callable[[tuple[str, ...]], str], models: Container[str] | None) -> None:
    out += [f"# HELP {name} {help_}", f"# TYPE {name} histogram"]
    for key, counts in sorted(hist.counts.items()):
        if models is not None and key[0] not in models:
            continue
        base, running = labels(key), 0
        for bound, n in zip((*hist.buckets, float("inf")), counts, strict=True):
            running += n
            le = "+Inf" if bound == float("inf") else f"{bound:g}"
            out.append(f'{name}_bucket{{{base},le="{le}"}} {running}')
        out.append(f"{name}_sum{{{base}}} {hist.sums[key]:.6f}")
        out.append(f"{name}_count{{{base}}} {running}")
