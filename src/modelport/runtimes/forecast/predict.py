"""Forecasting from a registered forecast model: refit each series' spec, predict, write.

The artifact comes through the artifact store (digest verified) and is read
as Parquet + JSON. Series are refitted with their fixed specification and
forecast with prediction intervals in parallel worker processes, a slice of
series per worker. The result — one row per series and future step — is
written to a file that appears whole (temporary name, then rename), and the
run is recorded as a ``forecast`` job.

>>> frame = forecast("sales@champion", horizon=28, output="next_month.parquet")
...                                                                  # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from modelport.core.formats import get_format
from modelport.core.formats.forecast import Forecaster, ForecastModel
from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError
from modelport.lifecycle.registry import get_version
from modelport.runtimes.batch import jobs
from modelport.runtimes.forecast import models as catalogue
from modelport_edge.sessions import usable_cpus

INLINE_SERIES = 64  # fewer series than this are not worth starting processes for

Task = tuple[str, np.ndarray, str, dict[str, Any]]  # series id, history, model, spec


class StatsForecaster(Forecaster):
    """A forecast version refitted series by series with its stored specification
    (statsforecast), in worker processes when there are many series."""

    def forecast(self, horizon: int | None = None, levels: Sequence[int] | None = None,
                 workers: int | None = None) -> Any:
        h, chosen = self.plan(horizon, levels)
        return _forecast(self.model, h, chosen, workers)

    def plan(self, horizon: int | None, levels: Sequence[int] | None) -> tuple[int, list[int]]:
        """The horizon and levels a forecast will use (the model's own by default), checked.
        A ``horizon`` past the one the model was trained for is allowed, with a
        ``PastHorizonWarning``: nothing measured how good those further steps are."""
        model = self.model
        h = horizon or model.horizon
        if h < 1:
            raise InvalidInputError(f"--horizon must be at least 1, got {h}")
        if h > model.horizon:
            warnings.warn(PastHorizonWarning(past_horizon(f"{self.name}:{self.version}",
                                                          model.horizon, h)), stacklevel=3)
        chosen = sorted({int(v) for v in (levels or model.levels)})
        if any(not 0 < v < 100 for v in chosen):
            raise InvalidInputError("prediction interval levels are percentages between 0 "
                                    "and 100")
        return h, chosen


def load_forecaster(ref: str, ws: Workspace | None = None) -> tuple[Any, StatsForecaster]:
    """The model version and its ``Forecaster``, refusing a version of another kind."""
    ws = current(ws)
    version = get_version(ref, ws=ws)
    if version.format != "forecast":
        raise InvalidInputError(f"{version.ref} is a {version.format} model, not a forecast — "
                                "train one with: modelport forecast train")
    model = get_format("forecast").load_model(ws.artifacts.get(version.artifact_digest))
    forecaster = StatsForecaster(model, version.signature)
    forecaster.name, forecaster.version = version.name, version.version
    return version, forecaster


class PastHorizonWarning(UserWarning):
    """A forecast further ahead than the model was chosen and measured for."""


def past_horizon(ref: str, trained: int, asked: int) -> str:
    return (f"forecasting {asked} steps ahead, but {ref} was chosen and its error measured "
            f"by cross-validation over {trained}: steps {trained + 1}-{asked} are untested "
            f"extrapolation, their intervals unchecked — for a tested forecast, train with "
            f"--horizon {asked}")


def forecast(ref: str, horizon: int | None = None, levels: Sequence[int] | None = None,
             output: str | Path | None = None, workers: int | None = None,
             ws: Workspace | None = None) -> Any:
    """A DataFrame of forecasts with intervals for every series of model ``ref``;
    written to ``output`` (.csv or .parquet) when given.

    A ``horizon`` past the one the model was trained for is forecast, with a
    ``PastHorizonWarning``: nothing measured how good those further steps are."""
    ws = current(ws)
    version, forecaster = load_forecaster(ref, ws=ws)
    h, chosen = forecaster.plan(horizon, levels)
    target = _check_output(output)
    job = jobs.create_job("forecast", version.name, version.version, f"history of {version.ref}",
                          str(target) if target else "-",
                          {"horizon": h, "levels": chosen, "series": len(forecaster.model.series)},
                          input_digest=version.dataset_digest, ws=ws)
    try:
        frame = _forecast(forecaster.model, h, chosen, workers)
        if target is not None:
            _write(frame, target)
    except BaseException as exc:
        jobs.finish_job(job.id, "failed", error=jobs.failure(exc), ws=ws)
        raise
    jobs.finish_job(job.id, "succeeded", rows=len(frame), parts=1 if target else 0, ws=ws)
    frame.attrs["job"] = job.id
    return frame


def _check_output(output: str | Path | None) -> Path | None:
    if output is None:
        return None
    path = Path(output)
    if path.suffix.lower() not in (".csv", ".parquet"):
        raise InvalidInputError(f"cannot write {path}: use a .csv or .parquet file name")
    return path


def _tasks(model: ForecastModel) -> list[Task]:
    ids = model.ids
    bounds = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(ids)]])
    tasks = []
    for s, e in zip(starts, ends, strict=True):
        uid = str(ids[s])
        chosen = model.series[uid]
        tasks.append((uid, model.values[s:e], chosen.model, chosen.params))
    return tasks


def _forecast(model: ForecastModel, h: int, levels: list[int], workers: int | None) -> Any:
    import pandas as pd

    tasks = _tasks(model)
    n = min(workers or usable_cpus(), max(1, len(tasks) // 8))
    if len(tasks) < INLINE_SERIES or n <= 1:
        results = _run(tasks, model.season_length, h, levels)
    else:
        import multiprocessing as mp

        slices = [tasks[i::n] for i in range(n)]
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        with ProcessPoolExecutor(n, mp_context=ctx) as pool:
            parts = pool.map(_run, slices, [model.season_length] * n, [h] * n, [levels] * n)
            by_id = {r[0]: r for part in parts for r in part}
        results = [by_id[t[0]] for t in tasks]
    last = _last_times(model)
    cols = model.columns
    frames = []
    for uid, chosen, mean, bands in results:
        frame = pd.DataFrame({cols["id"]: uid, cols["time"]: _future(model, last[uid], h),
                              "forecast": mean})
        for level in levels:
            frame[f"lo_{level}"], frame[f"hi_{level}"] = bands[level]
        frame["model"] = chosen
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _run(tasks: list[Task], season: int, h: int, levels: list[int]) -> list[Any]:
    """Refit and forecast a slice of series (in a worker process, or inline)."""
    out = []
    with catalogue.quiet():
        for uid, y, name, params in tasks:
            try:
                result = catalogue.forecast_one(name, season, params, y, h, levels)
            except Exception:  # a refit that fails falls back, as training's engine did
                name, params = "Naive", {}
                result = catalogue.forecast_one(name, season, params, y, h, levels)
            bands = {lv: (result[f"lo-{lv}"], result[f"hi-{lv}"]) for lv in levels}
            out.append((uid, catalogue.describe(name, params), result["mean"], bands))
    return out


def _last_times(model: ForecastModel) -> dict[str, int]:
    ids = model.ids
    ends = np.concatenate([np.flatnonzero(ids[1:] != ids[:-1]), [len(ids) - 1]])
    return {str(ids[e]): int(model.times[e]) for e in ends}


def _future(model: ForecastModel, last: int, h: int) -> Any:
    import pandas as pd

    if model.time_kind == "int":
        return last + int(model.freq) * np.arange(1, h + 1)
    return pd.date_range(start=pd.Timestamp(last), periods=h + 1, freq=model.freq)[1:]


def _write(frame: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}-{time.time_ns()}-{path.name}")
    try:
        if path.suffix.lower() == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
