"""Ensembles: a few models of any stored format, averaged as one model.

An AutoML ensemble mixes families — a scikit-learn pipeline, a LightGBM and an
XGBoost booster. scikit-learn's Voting estimators would hold the boosters'
Python wrappers, which skops could store only by trusting them: the
pickle-like surface modelport refuses. So an ensemble is stored as a zip of
its members, each in its own format (skops for scikit-learn, the native text
formats for boosters), plus a JSON manifest: loading one loads each member
exactly as if it were registered alone, with the same allow-list and checks.
Nested ensembles are refused.

Prediction is soft voting: the weighted mean of the members' probabilities
(classifiers) or values (regressors), on the one matrix of the signature.

>>> model = Ensemble([forest, booster])              # fitted members   # doctest: +SKIP
>>> modelport.register_model("cancer", model, X=X)                       # doctest: +SKIP
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np

from modelport.core.formats.archive import open_zip
from modelport.core.formats.base import Format, Predictor
from modelport.core.signature import Signature
from modelport.errors import InvalidInputError, UnsafeArtifactError, first_line

MANIFEST = "ensemble.json"
MAX_MEMBERS = 16
MAX_MANIFEST = 64 * 1024  # a list of members and weights


class Ensemble:
    """Fitted models of one task, voting with ``weights`` (equal by default).

    Behaves as a scikit-learn estimator for scoring (``predict``,
    ``predict_proba``, ``classes_``); it is not refitted, only stored."""

    def __init__(self, members: list[Any], weights: list[float] | None = None) -> None:
        if not 2 <= len(members) <= MAX_MEMBERS:
            raise InvalidInputError(f"an ensemble needs 2 to {MAX_MEMBERS} members, "
                                    f"got {len(members)}")
        weights = [1.0] * len(members) if weights is None else [float(w) for w in weights]
        if len(weights) != len(members) or min(weights) < 0 or sum(weights) <= 0:
            raise InvalidInputError("ensemble weights must be one non-negative number per "
                                    "member, not all zero")
        self.members = members
        self.weights = weights
        classes = [getattr(m, "classes_", None) for m in members]
        first = classes[0]
        if any(c is not None for c in classes):
            if first is None or any(c is None or not np.array_equal(c, first) for c in classes):
                raise InvalidInputError("ensemble members must be all classifiers of the same "
                                        "classes, or all regressors")
            self.classes_ = np.asarray(first)

    @property
    def is_classifier(self) -> bool:
        return hasattr(self, "classes_")

    def predict_proba(self, X: Any) -> np.ndarray:
        return _mean([np.asarray(m.predict_proba(X), dtype=np.float64) for m in self.members],
                     self.weights)

    def predict(self, X: Any) -> np.ndarray:
        if self.is_classifier:
            return np.asarray(self.classes_[np.argmax(self.predict_proba(X), axis=1)])
        return _mean([np.asarray(m.predict(X), dtype=np.float64) for m in self.members],
                     self.weights)

    def __sklearn_tags__(self) -> Any:
        # scikit-learn's scorers ask the estimator type; imported here, not at module load
        from sklearn.utils import ClassifierTags, RegressorTags, Tags, TargetTags

        clf = self.is_classifier
        return Tags(estimator_type="classifier" if clf else "regressor",
                    target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags() if clf else None,
                    regressor_tags=None if clf else RegressorTags())


def _entry(zf: zipfile.ZipFile, name: str, limit: int | None) -> bytes:
    """One entry, refused if larger than ``limit`` (the archive's total is bounded already
    by ``open_zip``)."""
    info = zf.getinfo(name)
    if limit is not None and info.file_size > limit:
        raise UnsafeArtifactError(f"{name} is {info.file_size:,} bytes, over its limit of "
                                  f"{limit:,}")
    return zf.read(info)


def _mean(outputs: list[np.ndarray], weights: list[float]) -> np.ndarray:
    total = sum(w * o for w, o in zip(weights, outputs, strict=True))
    return np.asarray(total / sum(weights), dtype=np.float64)


class EnsemblePredictor(Predictor):
    runtime = "ensemble"

    def __init__(self, members: list[Predictor], weights: list[float],
                 signature: Signature) -> None:
        super().__init__(signature)
        self.members = members
        self.weights = weights

    def predict_matrix(self, x: np.ndarray) -> np.ndarray:
        if self.is_classifier:
            return self.labels(self.proba_matrix(x))
        return _mean([np.asarray(m.predict_matrix(x), dtype=np.float64) for m in self.members],
                     self.weights)

    def proba_matrix(self, x: np.ndarray) -> np.ndarray:
        if not self.is_classifier:
            return super().proba_matrix(x)
        return _mean([m.proba_matrix(x) for m in self.members], self.weights)


class LoadedEnsemble:
    """The members as their formats loaded them, ready to become predictors."""

    def __init__(self, members: list[tuple[Format, Any]], weights: list[float]) -> None:
        self.members = members
        self.weights = weights


class EnsembleFormat(Format):
    name = "ensemble"
    extra = "all"

    def accepts(self, model: Any) -> bool:
        return isinstance(model, Ensemble)

    def dump(self, model: Any) -> bytes:
        from modelport.core.formats import format_for

        buf = io.BytesIO()
        manifest: dict[str, Any] = {"weights": model.weights, "members": []}
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for i, member in enumerate(model.members):
                fmt = format_for(member)
                if fmt.name == self.name:
                    raise InvalidInputError("an ensemble cannot hold another ensemble")
                path = f"member-{i}.{fmt.name}"
                zf.writestr(path, fmt.dump(member))  # each format's own safety checks
                manifest["members"].append({"format": fmt.name, "path": path})
            zf.writestr(MANIFEST, json.dumps(manifest))
        return buf.getvalue()

    def check(self, data: bytes) -> None:
        """Each member's own registration check (an ONNX member's external data, …)."""
        self._open(data, lambda fmt, member: fmt.check(member))

    def load_model(self, data: bytes) -> LoadedEnsemble:
        return self._open(data, lambda fmt, member: fmt.load_model(member))

    def member_formats(self, data: bytes) -> list[str]:
        """The formats of the members, from the checked manifest, none loaded: what
        loading ``data`` will need (an image installs only their libraries)."""
        return [fmt.name for fmt, _ in self._open(data, lambda fmt, member: None).members]

    def _open(self, data: bytes, each: Callable[[Format, bytes], Any]) -> LoadedEnsemble:
        """The manifest and members of ``data``, each member passed through ``each``."""
        from modelport.core.formats import get_format

        what = "modelport ensemble"
        try:
            with open_zip(data, what, MAX_MEMBERS + 1) as zf:
                manifest = json.loads(_entry(zf, MANIFEST, MAX_MANIFEST))
                entries = manifest["members"]
                weights = [float(w) for w in manifest["weights"]]
                if not isinstance(entries, list) or not 2 <= len(entries) <= MAX_MEMBERS \
                        or len(weights) != len(entries):
                    raise ValueError("the manifest lists no valid members")
                formats = [get_format(str(entry["format"])) for entry in entries]
                for i, (fmt, entry) in enumerate(zip(formats, entries, strict=True)):
                    if fmt.name == self.name:
                        raise ValueError("an ensemble cannot hold another ensemble")
                    # the one name dump writes: a manifest cannot point at an entry twice
                    if entry["path"] != f"member-{i}.{fmt.name}":
                        raise ValueError(f"member {i} is not stored as member-{i}.{fmt.name}")
                members = [(fmt, each(fmt, _entry(zf, entry["path"], None)))
                           for fmt, entry in zip(formats, entries, strict=True)]
        except (zipfile.BadZipFile, KeyError, TypeError, ValueError, RecursionError) as exc:
            raise InvalidInputError(f"not a loadable {what}: {first_line(exc)}") from None
        return LoadedEnsemble(members, weights)

    def predictor(self, model: Any, signature: Signature) -> Predictor:
        if isinstance(model, Ensemble):  # a fitted one: members predict as stored
            model = self.load_model(self.dump(model))
        return EnsemblePredictor([fmt.predictor(native, signature)
                                  for fmt, native in model.members], model.weights, signature)
