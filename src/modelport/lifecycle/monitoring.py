"""Monitoring reports: served traffic of a version (or an endpoint's versions) against a baseline.

The window is read from the prediction logs (``lifecycle/predlogs.py``), the baseline is
the version's training profile by default (``lifecycle/profile.py``) or a profile of the
logs between two dates, and ``lifecycle/drift.py`` judges each column. A version
registered before profiles were recorded (or by a stream or forecast) gets one from its
first logged hour, stored as its profile, and the report says so. No logged traffic in
the window is an error naming the fix, not an empty report.

>>> reports = monitor("iris@champion", since_s=86400)                # doctest: +SKIP
>>> reports[0]["features"]["petal width (cm)"]["status"]           # doctest: +SKIP
'ok'
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError, NotFoundError
from modelport.lifecycle import drift, profile
from modelport.lifecycle.labels import Labels, join, label_files, read_labels
from modelport.lifecycle.predlogs import INPUT_PREFIX, Window, hour_of, log_files, read_window
from modelport.lifecycle.refs import Ref, parse_ref
from modelport.lifecycle.registry import ModelVersion, get_version, resolve, set_profile

if TYPE_CHECKING:
    from modelport.lifecycle.endpoints import Endpoint

TRAINING = "training"
NO_TRAFFIC = "no traffic"
Z95 = 1.959964


def endpoint_of(target: str, ws: Workspace | None = None) -> Endpoint | None:
    """The endpoint ``target`` names, or None when it names a model."""
    from modelport.lifecycle.endpoints import get_endpoint

    if ":" in target or "@" in target:
        return None
    try:
        return get_endpoint(target, ws=ws)
    except NotFoundError:
        return None


def versions_of(target: str, ws: Workspace | None = None) -> list[Ref]:
    """The versions a target names: an endpoint's policy, else one model reference."""
    ws = current(ws)
    endpoint = endpoint_of(target, ws=ws)
    if endpoint is not None:
        return [parse_ref(label) for label in endpoint.policy.versions()]
    return [resolve(target, ws=ws)]


def parse_period(text: str) -> tuple[float, float]:
    """``DATE..DATE`` (ISO dates or times, UTC unless they say otherwise) → epoch seconds."""
    start_text, sep, end_text = (text or "").partition("..")
    try:
        if not sep:
            raise ValueError
        start, end = (_instant(t.strip()) for t in (start_text, end_text))
    except ValueError:
        raise InvalidInputError(f"invalid --baseline {text!r} — use 'training' or a period "
                                "such as 2026-11-01..2026-11-08") from None
    if end <= start:
        raise InvalidInputError(f"the baseline period {text!r} ends before it starts")
    return start, end


def _instant(text: str) -> float:
    moment = datetime.fromisoformat(text)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def wilson(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion: sound near 0 and 1 and for small n."""
    if n <= 0:
        return 0.0, 1.0
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(centre - half, 0.0), min(centre + half, 1.0)


def columns_of(window: Window, version: ModelVersion) -> tuple[dict[str, np.ndarray],
                                                               np.ndarray]:
    """The window's inputs by column (matrix form) and its predictions."""
    table = window.table
    names = set(table.column_names)
    columns = {spec.name: table.column(INPUT_PREFIX + spec.name).to_numpy()
               for spec in version.signature.inputs if INPUT_PREFIX + spec.name in names}
    return columns, table.column("prediction").to_numpy(zero_copy_only=False)


def _matrix(columns: dict[str, np.ndarray], version: ModelVersion, rows: int) -> np.ndarray:
    return np.column_stack([columns.get(spec.name, np.full(rows, np.nan))
                            for spec in version.signature.inputs])


def stored_profile(version: ModelVersion, ws: Workspace | None = None
                   ) -> dict[str, Any] | None:
    """The profile recorded for ``version`` (training, or its first logged hour); None
    when it has none yet."""
    if version.profile_digest is None:
        return None
    return profile.decode(current(ws).artifacts.get(version.profile_digest))


def _baseline(version: ModelVersion, baseline: str, ws: Workspace
              ) -> tuple[dict[str, Any], list[str]]:
    root = log_files(ws)
    if baseline != TRAINING:
        start, end = parse_period(baseline)
        window = read_window(root, version.name, version.version, start, end,
                             incarnation=version.incarnation)
        if not window.rows:
            raise NotFoundError(f"no logged traffic of {version.ref} in {baseline} to use as "
                                "the baseline")
        columns, predictions = columns_of(window, version)
        return profile.build(version.signature, _matrix(columns, version, window.rows),
                             predictions, source=f"logs {baseline}"), []
    stored = stored_profile(version, ws)
    if stored is not None:
        return stored, []
    first = read_window(root, version.name, version.version, 0.0, first_hour_only=True,
                        incarnation=version.incarnation)
    if not first.rows:
        raise NotFoundError(f"{version.ref} has no training profile and no logged traffic")
    columns, predictions = columns_of(first, version)
    hour = hour_of(float(np.min(first.table.column("ts").to_numpy())))
    built = profile.build(version.signature, _matrix(columns, version, first.rows),
                          predictions, source=f"first logged hour {hour}")
    set_profile(version.ref, profile.encode(built), ws=ws)
    return built, [f"{version.ref} had no training profile (registered before profiles were "
                   f"recorded, or by a stream or forecast): its first logged hour ({hour} UTC) "
                   "is now its profile"]


def report(version: ModelVersion, window: Window, baseline: dict[str, Any],
           labels: tuple[int, int] | None = None, joined: Labels | None = None
           ) -> dict[str, Any]:
    """The report of one version's window against ``baseline``; ``labels``: (n, correct)
    fed back for its predictions in the window, if any; ``joined``: delayed labels by
    request id (``lifecycle/labels.py``) — when some match the window, accuracy is
    measured on them instead."""
    columns, predictions = columns_of(window, version)
    result = drift.compare(baseline, columns, predictions)
    result["features"] = {n: result["features"][n] for n in version.signature.names
                          if n in result["features"]}  # the signature's order
    span_h = max((window.end - window.start) / 3600, 1e-9)
    requests = len(set(window.table.column("request_id").to_pylist())) if window.rows else 0
    accuracy = None
    source = "feedback"
    if joined is not None and version.signature.classes is not None:
        matched = join(window, joined)
        if matched.labels or matched.ambiguous:
            labels, source = (matched.labels, matched.correct), "labels joined by request id"
    if labels is not None and labels[0] > 0 and version.signature.classes is not None:
        low, high = wilson(labels[1], labels[0])
        accuracy = {"labels": labels[0], "correct": labels[1], "source": source,
                    "accuracy": labels[1] / labels[0], "low": low, "high": high}
    return {"model": version.name, "version": version.version, **result,
            "window": {"start": window.start, "end": window.end, "files": window.files,
                       "unreadable_files": window.unreadable},
            "baseline": {"source": baseline.get("source", TRAINING), "rows": baseline["rows"]},
            "volume": {"rows": window.rows, "requests": requests,
                       "rows_per_hour": window.rows / span_h},
            "accuracy": accuracy, "notes": []}


def monitor(target: str, since_s: float = 86400.0, baseline: str = TRAINING,
            labels: Mapping[str, tuple[int, int]] | None = None, now: float | None = None,
            ws: Workspace | None = None) -> list[dict[str, Any]]:
    """A report per version ``target`` names (an endpoint's versions, or one reference).

    ``labels``: (labels, correct) fed back per version label (``NAME:VERSION``)."""
    ws = current(ws)
    if since_s <= 0:
        raise InvalidInputError("--since must be positive")
    end = time.time() if now is None else now
    root = log_files(ws)
    reports, quiet = [], []
    kept_labels = label_files(ws)
    for ref in versions_of(target, ws=ws):
        version = get_version(ref, ws=ws)
        window = read_window(root, version.name, version.version, end - since_s, end,
                             incarnation=version.incarnation)
        if not window.rows:
            quiet.append(version)
            continue
        joined = read_labels(kept_labels, version.name, version.version, end - since_s,
                             version.incarnation)
        base, notes = _baseline(version, baseline, ws)
        one = report(version, window, base, (labels or {}).get(version.ref), joined)
        one["notes"] = notes + ([f"{window.unreadable} log file(s) could not be read and were "
                                 "skipped"] if window.unreadable else []) + \
            ([f"{joined.unreadable} label file(s) could not be read and were skipped"]
             if joined.unreadable else [])
        reports.append(one)
    if not reports:
        raise NotFoundError(
            f"no logged traffic for {', '.join(v.ref for v in quiet)} in the last "
            f"{since_s / 3600:g} h — log some with: modelport serve {quiet[0].name} "
            "--log-sample 0.1")
    reports.extend({"model": v.name, "version": v.version, "status": NO_TRAFFIC,
                    "notes": ["no logged traffic in the window"]} for v in quiet)
    return reports
