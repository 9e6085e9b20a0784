"""Labels fed back for an endpoint's predictions — counted only for what the server answered.

Fed-back labels move a rollout's analysis (accuracy against the stable version), so
feedback is a lever on a release and is trusted no further than it can be checked:

- by request id: the labels of a prediction this worker made and still remembers
  (within ``RETENTION_S``), each prediction labelled once. These count.
- by ``version`` + ``predictions``: nothing shows the server made those predictions,
  so they are recorded apart (``unverified_feedback``), shown by ``rollout status``,
  and never move the analysis — and only for a version the endpoint's policy names.

Every size is bounded (body, labels, each label, version, id), and the route needs
the ``feedback`` scope, which a ``predict`` key does not carry.

>>> modelport.record_feedback("iris-api", "iris:2", [0, 1], [0, 2])   # doctest: +SKIP
1
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

import numpy as np

from modelport.core.workspace import Workspace
from modelport.errors import ModelportError, NotFoundError
from modelport.runtimes.serving.http import (
    PayloadTooLargeError,
    Request,
    Response,
    json_response,
)
from modelport.runtimes.serving.routing import EndpointRouter
from modelport.runtimes.serving.stats import StatsRecorder

MAX_BODY = 1024 * 1024  # bytes of one feedback request
MAX_LABELS = 10_000  # labels in one request
MAX_LABEL_CHARS = 256  # characters of one label
MAX_VERSION_CHARS = 220  # the stats table's version column
MAX_ID_CHARS = 200
RETENTION_S = 900.0  # how long a prediction can be labelled by its request id

_SCALARS = (str, int, float, bool)


class InvalidFeedbackError(ModelportError):
    """Feedback that cannot be counted: a field missing, too large, or naming a version
    the endpoint does not serve."""

    code = "invalid_feedback"
    status = 422


class FeedbackMemory:
    """Recent endpoint predictions by request id, so labels can arrive later by id.

    Two plain dicts, the newer filled until it holds half of ``rows`` predicted rows,
    then the older dropped: what is held stays under ``rows`` (plus one request),
    however large the batches, and remembering one is a dict store — an ordered
    dict's upkeep cost 1 µs of every endpoint request. An id longer than a feedback
    request may name is not kept. Each entry keeps the ``perf_counter`` its request
    started at (the infer path has it already), so an id older than ``retention_s``
    is refused without a clock read per request. ``take`` removes what it returns:
    one prediction, one set of labels.
    """

    def __init__(self, rows: int = 50_000, retention_s: float = RETENTION_S) -> None:
        self.retention_s = retention_s
        self._half = rows // 2
        self._held = 0  # rows in the newer dict
        self._new: dict[str, tuple[str, str, Any, float]] = {}
        self._old: dict[str, tuple[str, str, Any, float]] = {}

    def remember(self, request_id: str, endpoint: str, version: str, prediction: Any,
                 at: float) -> None:
        if len(request_id) <= MAX_ID_CHARS:
            self._new[request_id] = (endpoint, version, prediction, at)
            self._held += len(prediction)
            if self._held >= self._half:
                self._old, self._new, self._held = self._new, {}, 0

    def take(self, request_id: str, endpoint: str) -> tuple[str, Any] | None:
        """(version, prediction) of a recent request to ``endpoint``, forgotten from now on."""
        for store in (self._new, self._old):
            found = store.get(request_id)
            if found is not None and found[0] == endpoint:
                del store[request_id]
                if time.perf_counter() - found[3] > self.retention_s:
                    return None
                return found[1], found[2]
        return None


def _values(doc: dict[str, Any], key: str, most: int | None = MAX_LABELS) -> list[Any]:
    """A bounded list of scalar labels (or predictions) from the document."""
    values = doc[key] if isinstance(doc[key], list) else [doc[key]]
    if most is not None and len(values) > most:
        raise InvalidFeedbackError(f"{len(values):,} {key} in one request — send at most "
                                   f"{MAX_LABELS:,}")
    for value in values:
        if not isinstance(value, _SCALARS):
            raise InvalidFeedbackError(f"each of the {key} must be a number, string or boolean")
        if isinstance(value, str) and len(value) > MAX_LABEL_CHARS:
            raise InvalidFeedbackError(f"one of the {key} has {len(value):,} characters — at "
                                       f"most {MAX_LABEL_CHARS} are kept")
    return values


def labels_of(doc: Any, most: int | None = MAX_LABELS) -> list[Any]:
    if not isinstance(doc, dict) or ("label" not in doc and "labels" not in doc):
        raise InvalidFeedbackError("feedback needs 'label' (or 'labels') and the 'id' of the "
                                   "request, or the 'version' and 'predictions' it answered")
    return _values(doc, "labels" if "labels" in doc else "label", most)


def served_version(version: Any, versions: Collection[str], endpoint: str) -> str:
    """``version`` if the endpoint's policy names it: stats rows exist for served ones only."""
    if not isinstance(version, str) or len(version) > MAX_VERSION_CHARS:
        raise InvalidFeedbackError("'version' must be a version label such as 'iris:2' "
                                   f"(at most {MAX_VERSION_CHARS} characters)")
    if version not in versions:
        raise InvalidFeedbackError(f"{endpoint!r} does not serve {version!r} — it serves "
                                   f"{', '.join(sorted(versions))}")
    return version


def score(predictions: Any, labels: Any) -> tuple[int, int]:
    """(labels, correct): predictions and labels compared as text."""
    pred = np.asarray(predictions).astype(str).ravel()
    true = np.asarray(labels).astype(str).ravel()
    if pred.shape != true.shape:
        raise InvalidFeedbackError(f"{pred.size} predictions but {true.size} labels")
    return int(pred.size), int((pred == true).sum())


def record(name: str, request: Request, router: EndpointRouter | None,
           memory: FeedbackMemory, stats: StatsRecorder) -> Response:
    """``POST /v2/models/ENDPOINT/feedback``: the checks run here, never on the infer path."""
    if router is None:
        raise NotFoundError(f"{name!r} is not an endpoint — feedback drives rollout "
                            "analysis, which needs one: modelport endpoints create")
    if len(request.body) > MAX_BODY:
        raise PayloadTooLargeError(f"a feedback request is at most {MAX_BODY:,} bytes — "
                                   "send the labels in several")
    doc = request.json()
    labels = labels_of(doc)
    if "id" in doc:
        request_id = doc["id"]
        if not isinstance(request_id, str) or len(request_id) > MAX_ID_CHARS:
            raise InvalidFeedbackError(f"'id' must be the request id the server answered with "
                                       f"(a string of at most {MAX_ID_CHARS} characters)")
        seen = memory.take(request_id, name)
        if seen is None:
            raise NotFoundError(f"no prediction of {name!r} with id {request_id!r} in the last "
                                f"{memory.retention_s:g} s on this worker (or it was already "
                                "labelled)")
        version, predictions = seen
        verified = True
    elif "version" in doc and "predictions" in doc:
        version = served_version(doc["version"], router.policy.versions(), name)
        predictions, verified = _values(doc, "predictions"), False
    else:
        raise InvalidFeedbackError("feedback needs the request 'id', or 'version' and "
                                   "'predictions'")
    n, correct = score(predictions, labels)
    stats.feedback(name, version, n, correct, verified=verified)
    return json_response({"recorded": n, "correct": correct, "verified": verified})


def record_feedback(endpoint: str, version: str, predictions: Any, labels: Any,
                    ws: Workspace | None = None) -> int:
    """Labels for predictions a client already holds (the Python API's feedback path).

    The caller holds the store itself, so these count in the analysis and any number may
    come at once; the version must still be one the endpoint's policy names. Returns how
    many were correct.
    """
    from modelport.core.workspace import current
    from modelport.lifecycle.endpoints import get_endpoint

    ws = current(ws)
    doc = {"labels": np.ravel(labels).tolist(), "predictions": np.ravel(predictions).tolist()}
    version = served_version(version, get_endpoint(endpoint, ws=ws).policy.versions(), endpoint)
    n, correct = score(_values(doc, "predictions", None), labels_of(doc, None))
    recorder = StatsRecorder()
    recorder.worker = "api-" + recorder.worker[:12]
    recorder.feedback(endpoint, version, n, correct)
    recorder.flush(ws)
    return correct
