"""Fit the two benchmark models once and hand the same fitted objects to every server.

Runs inside the modelport virtualenv (``bench.py`` calls it). It fits a
LogisticRegression and a RandomForestClassifier (100 trees, depth 10) on one
seeded ``make_classification`` data set, pickles the fitted estimators for the
peers (MLflow and BentoML load exactly these objects), registers them in a
fresh modelport home and exports their checked ONNX copies (the fast path).

    python prepare_models.py WORK_DIR

Writes ``WORK_DIR/models/{lr,forest}.pkl``, ``WORK_DIR/home`` (the modelport
home) and ``WORK_DIR/models/meta.json``: the request row, the expected label
of each model on it, and the ONNX parity record.
"""

from __future__ import annotations

import json
import pickle
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

import modelport

SEED = 7
N_FEATURES = 20


def fit_models() -> tuple[dict[str, Any], np.ndarray, np.ndarray, np.ndarray]:
    """The fitted estimators, the training matrix, the held-out rows and their labels."""
    x, y = make_classification(n_samples=6000, n_features=N_FEATURES, n_informative=10,
                               n_redundant=4, random_state=SEED)
    train, test = x[:5000], x[5000:]
    models = {
        "lr": LogisticRegression(max_iter=1000).fit(train, y[:5000]),
        "forest": RandomForestClassifier(n_estimators=100, max_depth=10, random_state=SEED,
                                         n_jobs=None).fit(train, y[:5000]),
    }
    return models, train, test, y[5000:]


def pick_row(models: dict[str, Any], test: np.ndarray) -> np.ndarray:
    """A held-out row that every model classifies with a clear margin, so float32 (ONNX)
    and float64 (scikit-learn) runtimes are bound to give the same label."""
    for row in test:
        row32 = row.astype(np.float32).astype(np.float64).reshape(1, -1)
        if all(abs(m.predict_proba(row32)[0, 1] - 0.5) > 0.2 for m in models.values()):
            return row32[0]
    raise RuntimeError("no held-out row with a clear margin")


def main(work: Path) -> None:
    models, train, test, y_test = fit_models()
    row = pick_row(models, test)
    model_dir = work / "models"
    model_dir.mkdir(parents=True, exist_ok=True)
    for name, est in models.items():
        (model_dir / f"{name}.pkl").write_bytes(pickle.dumps(est, protocol=5))

    home = work / "home"
    if home.exists():
        shutil.rmtree(home)
    ws = modelport.Workspace.open(modelport.Settings(home=home))
    frame = pd.DataFrame(train, columns=[f"f{i}" for i in range(N_FEATURES)])
    meta: dict[str, Any] = {"row": [float(v) for v in row], "models": {}}
    for name, est in models.items():
        version = modelport.register_model(name, est, X=frame, ws=ws)
        exported = modelport.export_onnx(f"{name}:{version.version}", ws=ws)
        meta["models"][name] = {
            "estimator": repr(est),
            "expected_label": int(est.predict(row.reshape(1, -1))[0]),
            "expected_proba": [float(p) for p in est.predict_proba(row.reshape(1, -1))[0]],
            "modelport_ref": f"{name}:{version.version}",
            "onnx": getattr(exported, "onnx", None),
            "test_accuracy": float(est.score(test, y_test)),
        }
    (model_dir / "meta.json").write_text(json.dumps(meta, indent=2, default=str))
    print(json.dumps({k: v["expected_label"] for k, v in meta["models"].items()}))


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
