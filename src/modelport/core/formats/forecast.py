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
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from modelport.core.formats.base import Format, Predictor
from modelport.core.signature import Signature
from modelport.errors import InvalidInputError, UnsafeArtifactError, first_line

META_KEY = b"modelport.forecast"
SCHEMA_VERSION = 1
MAX_SEASON = 10_000
MAX_HORIZON = 100_000
MIN_ROW_LIMIT = 1_000_000  # rows always allowed …
ROWS_PER_BYTE = 4  # … and more for a larger file (a real history takes ~8 bytes a row)
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


class Forecaster(ABC):
    """A loaded forecast model: its own contract, beside ``Predictor`` rather than under it.

    A forecast takes no feature rows: it answers, for every series of the history it
    holds, the next ``horizon`` values with prediction intervals at ``levels`` (%).
    ``forecast`` is implemented where the statistics code lives (``runtimes/forecast``),
    so ``core`` stays free of it.

    >>> forecaster = load_forecaster("sales@champion")         # doctest: +SKIP
    >>> forecaster.forecast(horizon=28, levels=[90]).head(2)    # doctest: +SKIP
    """

    runtime: ClassVar[str] = "forecast"

    def __init__(self, model: ForecastModel, signature: Signature) -> None:
        self.model = model
        self.signature = signature
        self.name: str | None = None
        self.version: int | None = None

    @property
    def horizon(self) -> int:
        """The horizon the model was chosen and measured for by cross-validation."""
        return self.model.horizon

    @abstractmethod
    def forecast(self, horizon: int | None = None, levels: Sequence[int] | None = None,
                 workers: int | None = None) -> Any:
        """A DataFrame: one row per series and future step — id, time, ``forecast``,
        ``lo_L``/``hi_L`` per level, the model that answered."""


def _check_table(metadata: Any, size: int) -> None:
    """The history's shape before any page is decoded: three columns of the written
    types, and rows bounded by the artifact's size (run-length encoding packs millions
    of equal rows into a few bytes, which would all be unpacked)."""
    names = [metadata.schema.column(i).name for i in range(metadata.num_columns)]
    if names != ["unique_id", "ds", "y"]:
        raise ValueError(f"unexpected columns {names[:5]}")
    limit = max(MIN_ROW_LIMIT, ROWS_PER_BYTE * size)
    if metadata.num_rows > limit:
        raise UnsafeArtifactError(f"forecast history of {metadata.num_rows:,} rows in "
                                  f"{size:,} bytes (limit {limit:,}) — refusing to unpack it")


def check_spec(model: ForecastModel) -> None:
    """Every number a forecast refit uses, within what training ever chooses: an ARIMA of
    order 1000 or a season of a billion would hold a worker for hours."""
    def bad(why: str) -> UnsafeArtifactError:
        return UnsafeArtifactError(f"forecast artifact: {why}")

    if not 1 <= model.season_length <= MAX_SEASON or not 1 <= model.horizon <= MAX_HORIZON:
        raise bad("season length or horizon out of range")
    if not 0 < len(model.levels) <= 10 or any(not 0 < v < 100 for v in model.levels):
        raise bad("interval levels must be a few percentages between 0 and 100")
    if model.time_kind not in ("datetime", "int") or not 0 < len(model.freq) <= 32:
        raise bad("unknown time kind or frequency")
    if set(model.columns) != {"id", "time", "target"}:
        raise bad("column names must be id, time and target")
    if len(model.ids) and not set(np.unique(model.ids.astype(str))) <= set(model.series):
        raise bad("a series of the history has no chosen model")
    for uid, chosen in model.series.items():
        _check_params(uid, chosen, bad)


def _check_params(uid: str, chosen: SeriesModel, bad: Any) -> None:
    p = chosen.params
    try:
        if chosen.model == "AutoARIMA":
            order = [int(v) for v in p["order"]]
            seasonal = [int(v) for v in p["seasonal"]]
            ok = (len(order) == 3 and len(seasonal) == 3 and min(order + seasonal) >= 0
                  and order[0] <= 20 and order[2] <= 20 and order[1] <= 3
                  and seasonal[0] <= 10 and seasonal[2] <= 10 and seasonal[1] <= 2
                  and 1 <= int(p["period"]) <= MAX_SEASON)
        elif chosen.model == "AutoETS":
            ok = (isinstance(p["model"], str) and len(p["model"]) == 3
                  and set(p["model"]) <= set("ANMZ") and 1 <= int(p["period"]) <= MAX_SEASON
                  and len(p["par"]) <= 64 and len(p["components"]) <= 16)
        else:
            ok = True
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        raise bad(f"series {uid[:40]!r}: the {chosen.model} specification is out of range")


class ForecastFormat(Format):
    name = "forecast"
    extra = "forecast"
    predicts = False

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
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            source = pq.ParquetFile(io.BytesIO(data))
            _check_table(source.metadata, len(data))
            table = source.read()
            meta = json.loads((table.schema.metadata or {})[META_KEY])
            if not isinstance(meta, dict) or meta.get("version") != SCHEMA_VERSION:
                raise ValueError("unknown forecast artifact version "
                                 f"{meta.get('version') if isinstance(meta, dict) else None!r}")
            series = {str(k): SeriesModel(str(v["model"]), dict(v["params"]),
                                          {str(m): float(s) for m, s in v["scores"].items()})
                      for k, v in meta["series"].items()}
            unknown = {s.model for s in series.values()} - set(MODELS)
            if unknown:
                raise ValueError(f"unknown model(s) {', '.join(sorted(unknown))}")
            model = ForecastModel(
                freq=str(meta["freq"]), season_length=int(meta["season_length"]),
                horizon=int(meta["horizon"]), levels=[int(v) for v in meta["levels"]],
                ids=table.column("unique_id").to_numpy(zero_copy_only=False).astype(object),
                times=table.column("ds").to_numpy(), values=table.column("y").to_numpy(),
                series=series, time_kind=str(meta["time_kind"]),
                columns={str(k): str(v) for k, v in meta["columns"].items()},
                metric=str(meta.get("metric", "mae")))
        except (KeyError, ValueError, TypeError, OSError, AttributeError, RecursionError,
                pa.ArrowException) as exc:
            text = first_line(exc)
            raise InvalidInputError(f"not a loadable forecast artifact: {text}") from None
        check_spec(model)
        return model

    def predictor(self, model: ForecastModel, signature: Signature) -> Predictor:
        """None: a forecast model is a ``Forecaster``, which answers a horizon, not rows."""
        raise InvalidInputError("a forecast model answers a horizon, not feature rows — use "
                                "modelport.forecast(REF, horizon=H) or: modelport forecast "
                                "predict REF --horizon H")
