"""Downsampling a metric's history for a chart: extremes survive, the size is bounded."""

from __future__ import annotations

import math

from modelport.lifecycle.history import downsample


def test_a_spike_survives_and_the_bucket_count_is_bounded() -> None:
    points = [(s, 1.0) for s in range(100_000)]
    points[54_321] = (54_321, 900.0)
    buckets = downsample(points, 800)
    assert len(buckets) == 800
    assert sum(b.count for b in buckets) == 100_000
    assert max(b.max for b in buckets) == 900.0 and min(b.min for b in buckets) == 1.0
    assert buckets[0].first == 0 and buckets[-1].step == 99_999 and buckets[-1].last == 1.0


def test_short_histories_keep_every_point_and_gaps_leave_no_empty_buckets() -> None:
    points = [(0, 0.5), (1, 0.4), (500, 0.1)]
    buckets = downsample(points, 800)
    assert [(b.first, b.step, b.last) for b in buckets] == [(0, 0, 0.5), (1, 1, 0.4),
                                                           (500, 500, 0.1)]


def test_non_finite_values_are_left_out_and_nothing_gives_nothing() -> None:
    points = [(0, math.nan), (1, 2.0), (2, math.inf), (3, -math.inf), (4, 3.0)]
    (bucket,) = downsample(points, 1)
    assert (bucket.min, bucket.max, bucket.last, bucket.count) == (2.0, 3.0, 3.0, 2)
    assert downsample([(0, math.nan)], 10) == [] and downsample([], 10) == []
