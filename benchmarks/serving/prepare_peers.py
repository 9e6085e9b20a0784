"""Hand the benchmark's fitted models to the peers: an MLflow model and a BentoML model.

Runs inside the peers virtualenv (``bench.py`` calls it) and loads the very
estimators ``prepare_models.py`` fitted (pickles written by this benchmark
itself, never downloaded). Each peer stores them its own documented way:

- MLflow: ``mlflow.sklearn.log_model`` into a SQLite tracking store. The
  LogisticRegression uses MLflow's default serialization (skops); the forest
  uses ``serialization_format="cloudpickle"``, because MLflow's default skops
  save refuses a RandomForest (``sklearn.tree._tree.Tree`` is not trusted).
- BentoML: ``bentoml.models.create`` in a private ``BENTOML_HOME``, holding the
  pickled estimator that ``bento_service.py`` loads.

    python prepare_peers.py WORK_DIR

Writes ``WORK_DIR/peers.json`` with each MLflow model URI and how it was saved.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np


def mlflow_models(work: Path, models: dict[str, Any], row: np.ndarray) -> dict[str, Any]:
    import mlflow
    import mlflow.sklearn

    root = work / "mlflow"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.create_experiment("serving-bench",
                                          artifact_location=(root / "artifacts").as_uri())
    out: dict[str, Any] = {"tracking_uri": uri}
    for name, est in models.items():
        notes = "default serialization (skops)"
        kwargs: dict[str, Any] = {}
        with mlflow.start_run(experiment_id=experiment, run_name=name):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    info = mlflow.sklearn.log_model(est, name="model", input_example=row[None, :])
            except Exception as exc:  # MLflow's skops save refuses tree ensembles
                kwargs = {"serialization_format": "cloudpickle"}
                notes = (f"cloudpickle: the default skops save failed "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0][:160]})")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    info = mlflow.sklearn.log_model(est, name="model", input_example=row[None, :],
                                                    **kwargs)
        loaded = mlflow.pyfunc.load_model(info.model_uri)
        label = int(np.asarray(loaded.predict(row[None, :]))[0])
        out[name] = {"model_uri": info.model_uri, "serialization": notes, "label": label}
    return out


def bento_models(work: Path, models: dict[str, Any]) -> dict[str, Any]:
    import bentoml

    out: dict[str, Any] = {"home": os.environ["BENTOML_HOME"]}
    for name, est in models.items():
        with bentoml.models.create(name=f"bench-{name}") as model:
            Path(model.path_of("model.pkl")).write_bytes(pickle.dumps(est, protocol=5))
        out[name] = {"tag": str(model.tag)}
    return out


def main(work: Path) -> None:
    bento_home = work / "bentoml"
    if bento_home.exists():
        shutil.rmtree(bento_home)
    os.environ["BENTOML_HOME"] = str(bento_home)
    meta = json.loads((work / "models" / "meta.json").read_text())
    row = np.asarray(meta["row"], dtype=np.float64)
    models = {name: pickle.loads((work / "models" / f"{name}.pkl").read_bytes())
              for name in meta["models"]}
    result = {"mlflow": mlflow_models(work, models, row), "bentoml": bento_models(work, models)}
    for name, info in meta["models"].items():
        if result["mlflow"][name]["label"] != info["expected_label"]:
            raise SystemExit(f"MLflow's copy of {name} predicts differently")
    (work / "peers.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
