"""The BentoML peer: one service, one worker, adaptive batching on its predict API.

Written as BentoML 1.4's documentation shows: a ``@bentoml.service`` class
whose ``@bentoml.api(batchable=True)`` method takes a NumPy batch, so BentoML
merges concurrent requests (its defaults: ``max_batch_size=100``,
``max_latency_ms=60000``). It loads the same fitted estimator as every other
server from the BentoML model store (``prepare_peers.py`` put it there);
``BENCH_MODEL`` names it (``lr`` or ``forest``).

    BENCH_MODEL=lr bentoml serve bento_service:Classifier
    curl -d '{"input": [[...20 floats]]}' localhost:3000/predict
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import bentoml
import numpy as np

MODEL = os.environ.get("BENCH_MODEL", "lr")


@bentoml.service(name=f"bench-{MODEL}", workers=1)
class Classifier:
    model_ref = bentoml.models.BentoModel(f"bench-{MODEL}:latest")

    def __init__(self) -> None:
        self.model = pickle.loads(Path(self.model_ref.path_of("model.pkl")).read_bytes())

    @bentoml.api(batchable=True)
    def predict(self, input: np.ndarray) -> np.ndarray:
        return self.model.predict(input)
