"""Forecast models, stored as data: the series history plus each series' chosen model spec.

A fitted statsforecast model is a tree of Python objects that only pickle can
save, and modelport never unpickles. So the artifact holds what is needed to
rebuild the exact model instead: the training history as a Parquet table, and
in its metadata, per series, the model the cross-validation chose with what
its automatic search settled on (ARIMA orders; ETS components and fitted
parameters). Loading reads Parquet and JSON — no code runs; predicting rebuilds
that model on the history without searching (an ARIMA refit of the stored
order, an ETS filter rerun with the stored parameters) and forecasts: the
answers are those of the model that was validated.

The statsforecast code lives in ``runtimes/forecast``; this module only
(de)serialises, so ``core`` stays free of it.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelport.core.formats.base import Format, Predictor
from modelport.core.signature import Signature
from modelport.errors import InvalidInputError, SchemaError, first_line

META_KEY = b"modelport.forecast"
SCHEMA_VERSION = 1
MODELS = ("AutoARIMA", "AutoETS", "Theta", "SeasonalNaive", "Naive", "HistoricAverage")


@dataclass
class SeriesModel:
    """The model chosen for one series, and how every candidate scored on it."""

    model: str
    params: dict[str, Any] = field(default_factory=dict)  # the fixed spec to refit
    scores: dict[str, float] = field(default_factory=dict)  # cross-validated error per model


@dataclass
class ForecastModel:
    """Everything a forecast needs, as plain data.

    ``ids``/``times``/``values`` are the training history in long form, sorted by
    series then time; ``times`` are nanoseconds for a datetime index, plain
    integers for an integer one.
    """

    freq: str
    season_length: int
    horizon: int
    levels: list[int]
    ids: np.ndarray
    times: np.ndarray
    values: np.ndarray
    series: dict[str, SeriesModel]
    time_kind: str = "datetime"  # datetime | int
    columns: dict[str, str] = field(default_factory=lambda: {"id": "unique_id", "time": "ds",
                                                             "target": "y"})
    metric: str = "mae"

    def meta(self) -> dict[str, Any]:
        return {"version": SCHEMA_VERSION, "freq": self.freq, "season_length": self.season_length,
                "horizon": self.horizon, "levels": self.levels, "time_kind": self.time_kind,
                "columns": self.columns, "metric": self.metric,
                "series": {k: {"model": v.model, "params": v.params, "scores": v.scores}
                           for k, v in self.series.items()}}


class ForecastPredictor(Predictor):
    """A forecast model behind the common ``Predictor`` face. Forecasts answer a horizon,
    not feature rows: ``modelport forecast predict`` (or ``runtimes.forecast``) asks them."""

    runtime = "forecast"

    def __init__(self, model: ForecastModel, signature: Signature) -> None:
        super().__init__(signature)
        self.model = model

    def matrix(self, batch: Any) -> np.ndarray:
        raise SchemaError("a forecast model answers a horizon, not feature rows — use: "
                          "modelport forecast predict REF --horizon H")

    def predict_matrix(self, x: np.ndarray) -> np.ndarray:
        return self.matrix(x)


class ForecastFormat(Format):
    name = "forecast"
    extra = "forecast"

    def accepts(self, model: Any) -> bool:
        return isinstance(model, ForecastModel)

    def dump(self, model: ForecastModel) -> bytes:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({"unique_id": pa.array(model.ids.astype(str), pa.string()),
                          "ds": pa.array(model.times.astype(np.int64), pa.int64()),
                          "y": pa.array(model.values.astype(np.float64), pa.float64())})
        table = table.replace_schema_metadata({META_KEY: json.dumps(model.meta()).encode()})
        buf = io.BytesIO()
        pq.write_table(table, buf)
        return buf.getvalue()

    def load_model(self, data: bytes) -> ForecastModel:
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(io.BytesIO(data))
            meta = json.loads((table.schema.metadata or {})[META_KEY])
            if meta.get("version") != SCHEMA_VERSION:
                raise ValueError(f"unknown forecast artifact version {meta.get('version')!r}")
            series = {str(k): SeriesModel(str(v["model"]), dict(v["params"]),
                                          {str(m): float(s) for m, s in v["scores"].items()})
                      for k, v in meta["series"].items()}
            unknown = {s.model for s in series.values()} - set(MODELS)
            if unknown:
                raise ValueError(f"unknown model(s) {', '.join(sorted(unknown))}")
            return ForecastModel(
                freq=str(meta["freq"]), season_length=int(meta["season_length"]),
                horizon=int(meta["horizon"]), levels=[int(v) for v in meta["levels"]],
                ids=table.column("unique_id").to_numpy(zero_copy_only=False).astype(object),
                times=table.column("ds").to_numpy(), values=table.column("y").to_numpy(),
                series=series, time_kind=str(meta["time_kind"]),
                columns={str(k): str(v) for k, v in meta["columns"].items()},
                metric=str(meta.get("metric", "mae")))
        except (KeyError, ValueError, TypeError, OSError) as exc:
            text = first_line(exc)
            raise InvalidInputError(f"not a loadable forecast artifact: {text}") from None

    def predictor(self, model: ForecastModel, signature: Signature) -> Predictor:
        return ForecastPredictor(model, signature)
