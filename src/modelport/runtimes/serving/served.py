"""A loaded model version as the server holds it: predictor, batcher and record."""

from __future__ import annotations

from dataclasses import dataclass, field

from modelport.core.formats.base import Predictor
from modelport.lifecycle.registry import ModelVersion
from modelport.runtimes.serving.batching import Batcher


@dataclass
class Served:
    name: str
    version: int
    runtime: str
    model: ModelVersion
    predictor: Predictor
    batcher: Batcher
    # made once: every response names its version
    label: str = field(init=False)  # NAME:VERSION
    header: bytes = field(init=False)  # the label, for the x-model-version header
    version_text: str = field(init=False)
    # a graph taking named tensors (an imported model): its requests keep each tensor's
    # shape instead of being read as columns — decided here, once, not per request
    named_tensors: bool = field(init=False)
    # the life of the version loaded, stamped into its log files (core/incarnation.py)
    incarnation: str = field(init=False)

    def __post_init__(self) -> None:
        self.incarnation = self.model.incarnation
        self.named_tensors = self.model.signature.tensors is not None
        self.version_text = str(self.version)
        self.label = f"{self.name}:{self.version}"
        self.header = self.label.encode()
