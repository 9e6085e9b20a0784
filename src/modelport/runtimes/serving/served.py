"""A loaded model version as the server holds it: predictor, batcher and record."""

from __future__ import annotations

from dataclasses import dataclass

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

    @property
    def label(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def header(self) -> bytes:
        """The value of the header that tells a client which version answered."""
        return self.label.encode()
