"""modelport: train, tune, register, deploy and roll out machine-learning models.

The public Python API lives here. Importing ``modelport`` is light: the
functions below load their dependencies (SQLAlchemy, scikit-learn, …) when
first used.

>>> import modelport
>>> with modelport.start_run(name="baseline") as run:          # doctest: +SKIP
...     run.log_metric("accuracy", 0.93)
>>> modelport.load("iris@champion").predict(rows)              # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from modelport.config import VERSION as __version__
from modelport.errors import ModelportError

_EXPORTS = {
    "start_run": "modelport.lifecycle.tracking",
    "create_run": "modelport.lifecycle.tracking",
    "log_run": "modelport.lifecycle.tracking",
    "metric_history": "modelport.lifecycle.tracking",
    "search_runs": "modelport.lifecycle.search",
    "get_run": "modelport.lifecycle.search",
    "download_artifact": "modelport.lifecycle.downloads",
    "train": "modelport.lifecycle.train",
    "train_online": "modelport.lifecycle.online",
    "StreamRunner": "modelport.runtimes.stream.runner",
    "StreamConfig": "modelport.runtimes.stream.runner",
    "tune": "modelport.lifecycle.tune",
    "automl": "modelport.lifecycle.automl",
    "retrain": "modelport.lifecycle.retrain",
    "load_dataset": "modelport.lifecycle.datasets",
    "register_model": "modelport.lifecycle.registry",
    "register_models": "modelport.lifecycle.register_many",
    "register_run": "modelport.lifecycle.registry",
    "import_onnx": "modelport.lifecycle.importing",
    "get_version": "modelport.lifecycle.registry",
    "get_model": "modelport.lifecycle.registry",
    "list_models": "modelport.lifecycle.registry",
    "list_versions": "modelport.lifecycle.registry",
    "set_alias": "modelport.lifecycle.registry",
    "delete_alias": "modelport.lifecycle.registry",
    "set_tag": "modelport.lifecycle.registry",
    "set_description": "modelport.lifecycle.registry",
    "delete_model": "modelport.lifecycle.registry",
    "collect_garbage": "modelport.lifecycle.gc",
    "export_onnx": "modelport.lifecycle.loading",
    "load": "modelport.lifecycle.loading",
    "monitor": "modelport.lifecycle.monitoring",
    "create_endpoint": "modelport.lifecycle.endpoints",
    "get_endpoint": "modelport.lifecycle.endpoints",
    "list_endpoints": "modelport.lifecycle.endpoints",
    "delete_endpoint": "modelport.lifecycle.endpoints",
    "set_policy": "modelport.lifecycle.endpoints",
    "record_feedback": "modelport.runtimes.serving.feedback",
    "Workspace": "modelport.core.workspace",
    "Settings": "modelport.config",
    "Signature": "modelport.core.signature",
    "Predictor": "modelport.core.formats.base",
}

__all__ = [
    "ModelportError",
    "Predictor",
    "Settings",
    "Signature",
    "StreamConfig",
    "StreamRunner",
    "Workspace",
    "__version__",
    "automl",
    "collect_garbage",
    "create_endpoint",
    "create_run",
    "delete_alias",
    "delete_endpoint",
    "delete_model",
    "download_artifact",
    "export_onnx",
    "get_endpoint",
    "get_model",
    "get_run",
    "get_version",
    "import_onnx",
    "list_endpoints",
    "list_models",
    "list_versions",
    "load",
    "load_dataset",
    "log_run",
    "metric_history",
    "monitor",
    "record_feedback",
    "register_model",
    "register_models",
    "register_run",
    "retrain",
    "search_runs",
    "set_alias",
    "set_description",
    "set_policy",
    "set_tag",
    "start_run",
    "train",
    "train_online",
    "tune",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'modelport' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from modelport.config import Settings
    from modelport.core.formats.base import Predictor
    from modelport.core.signature import Signature
    from modelport.core.workspace import Workspace
    from modelport.lifecycle.automl import automl
    from modelport.lifecycle.datasets import load_dataset
    from modelport.lifecycle.downloads import download_artifact
    from modelport.lifecycle.endpoints import (
        create_endpoint,
        delete_endpoint,
        get_endpoint,
        list_endpoints,
        set_policy,
    )
    from modelport.lifecycle.gc import collect_garbage
    from modelport.lifecycle.importing import import_onnx
    from modelport.lifecycle.loading import export_onnx, load
    from modelport.lifecycle.monitoring import monitor
    from modelport.lifecycle.online import train_online
    from modelport.lifecycle.register_many import register_models
    from modelport.lifecycle.registry import (
        delete_alias,
        delete_model,
        get_model,
        get_version,
        list_models,
        list_versions,
        register_model,
        register_run,
        set_alias,
        set_description,
        set_tag,
    )
    from modelport.lifecycle.retrain import retrain
    from modelport.lifecycle.search import get_run, search_runs
    from modelport.lifecycle.tracking import create_run, log_run, metric_history, start_run
    from modelport.lifecycle.train import train
    from modelport.lifecycle.tune import tune
    from modelport.runtimes.serving.feedback import record_feedback
    from modelport.runtimes.stream.runner import StreamConfig, StreamRunner
