"""Training forecasts: choose a model per series by time-series cross-validation, register it.

Every candidate (AutoARIMA, AutoETS, Theta, SeasonalNaive by default) is
evaluated on each series over ``cv_windows`` rolling windows of ``horizon``
steps at the end of its history — statsforecast fits thousands of series in
parallel processes. The candidate with the lowest mean absolute error wins
that series; it is then fitted on the whole history and its specification is
registered as a model version (format ``forecast``: data, no pickle).

>>> result = train_forecast("sales.csv", time_col="date", target="units",
...                         id_col="store", horizon=14, name="sales")   # doctest: +SKIP
>>> result.version.ref, result.chosen                                   # doctest: +SKIP
('sales:1', {'AutoETS': 31, 'AutoARIMA': 12, 'Theta': 7})
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelport.core.formats.forecast import ForecastModel, SeriesModel
from modelport.core.signature import OutputSpec, Signature
from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError, require
from modelport.lifecycle.registry import ModelVersion, register_artifact
from modelport.runtimes.forecast import models as catalogue
from modelport.runtimes.forecast.data import Series, default_season, read_series

DEFAULT_LEVELS = (80, 95)
# fewer series than this are searched in this process: a worker process costs about as much
# CPU to start (~1.5 s) as searching one series does, so a pool only pays off past a few
INLINE_SERIES = 8


@dataclass
class ForecastTraining:
    version: ModelVersion
    series: int
    chosen: dict[str, int]  # how many series each model won
    cv_mae: float  # mean over series of the winning model's error
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version.ref, "series": self.series, "chosen": self.chosen,
                "cv_mae": self.cv_mae, "seconds": round(self.seconds, 3)}


def signature_for(levels: Sequence[int]) -> Signature:
    outputs = [OutputSpec("forecast", "float64", [-1])]
    for level in levels:
        outputs += [OutputSpec(f"lo_{level}", "float64", [-1]),
                    OutputSpec(f"hi_{level}", "float64", [-1])]
    return Signature(inputs=[], outputs=outputs)


def train_forecast(data: Any, *, name: str, horizon: int, time_col: str = "ds",
                   target: str = "y", id_col: str | None = None,
                   season_length: int | None = None, freq: str | None = None,
                   models: Sequence[str] = catalogue.CANDIDATES, cv_windows: int = 2,
                   levels: Sequence[int] = DEFAULT_LEVELS, n_jobs: int = -1,
                   ws: Workspace | None = None) -> ForecastTraining:
    """Choose, fit and register a forecast model for every series in ``data``.

    ``n_jobs=-1`` searches on every core once there are ``INLINE_SERIES`` series or more,
    in this process below that."""
    ws = current(ws)
    started = time.time()
    if horizon < 1:
        raise InvalidInputError(f"--horizon must be at least 1, got {horizon}")
    if cv_windows < 1:
        raise InvalidInputError(f"--cv-windows must be at least 1, got {cv_windows}")
    levels = _check_levels(levels)
    names = catalogue.check_models(list(models))
    series = read_series(data, time_col, target, id_col, freq)
    season = season_length or default_season(series.freq)
    _check_lengths(series, horizon, cv_windows, season)
    if n_jobs == -1 and series.frame["unique_id"].nunique() < INLINE_SERIES:
        n_jobs = 1
    with catalogue.quiet():
        scores = _cross_validate(series, names, horizon, cv_windows, season, n_jobs)
        winners = {uid: min(s, key=lambda m: (s[m], names.index(m))) for uid, s in scores.items()}
        specs = _fit_winners(series, winners, season, n_jobs)
    model = ForecastModel(
        freq=str(series.freq), season_length=season, horizon=horizon, levels=list(levels),
        ids=series.frame["unique_id"].to_numpy(dtype=object),
        times=series.frame["ds"].to_numpy().astype(np.int64),
        values=series.frame["y"].to_numpy(), time_kind=series.time_kind, columns=series.columns,
        series={uid: SeriesModel(winners[uid], specs[uid], scores[uid]) for uid in winners})
    from modelport.core.formats import get_format
    from modelport.lifecycle.datasets import digest_frame

    chosen = dict(Counter(winners.values()).most_common())
    cv_mae = float(np.mean([scores[u][winners[u]] for u in winners]))
    version = register_artifact(
        name, "forecast", get_format("forecast").dump(model), signature_for(levels),
        metrics={"cv_mae": cv_mae, "series": float(len(winners)), "horizon": float(horizon)},
        dataset_digest=digest_frame(series.frame),
        description=f"forecast of {len(winners)} series, horizon {horizon}",
        tags={"kind": "forecast", "freq": str(series.freq), "models": ",".join(names)}, ws=ws)
    return ForecastTraining(version, len(winners), chosen, cv_mae, time.time() - started)


def _check_levels(levels: Sequence[int]) -> tuple[int, ...]:
    out = tuple(sorted({int(v) for v in levels}))
    if any(not 0 < v < 100 for v in out):
        raise InvalidInputError(f"prediction interval levels are percentages between 0 and 100, "
                                f"got {', '.join(map(str, levels))}")
    return out


def _check_lengths(series: Series, horizon: int, windows: int, season: int) -> None:
    need = horizon * windows + max(2 * season, 4) + 1
    sizes = series.frame.groupby("unique_id", sort=False).size()
    short = sizes[sizes < need]
    if len(short):
        raise InvalidInputError(
            f"series {short.index[0]!r} has {int(short.iloc[0])} points; cross-validating "
            f"--horizon {horizon} over {windows} window(s) with season {season} needs at least "
            f"{need} — shorten the horizon, use fewer --cv-windows, or drop short series"
            + (f" ({len(short)} series are too short)" if len(short) > 1 else ""))


def _engine(models: list[Any], series: Series, n_jobs: int) -> Any:
    sf = require("statsforecast", "forecast")
    fallback = catalogue.fixed("Naive", 1, {})
    return sf.StatsForecast(models=models, freq=series.freq, n_jobs=n_jobs,
                            fallback_model=fallback)


def _cross_validate(series: Series, names: tuple[str, ...], horizon: int, windows: int,
                    season: int, n_jobs: int) -> dict[str, dict[str, float]]:
    """Mean absolute error of each model on each series, over the rolling windows."""
    engine = _engine([catalogue.searching(n, season) for n in names], series, n_jobs)
    cv = engine.cross_validation(df=series.frame, h=horizon, n_windows=windows,
                                 step_size=horizon)
    errors = cv[list(names)].sub(cv["y"], axis=0).abs()
    errors["unique_id"] = cv["unique_id"].astype(str).to_numpy()
    table = errors.groupby("unique_id").mean()
    return {str(uid): {n: _finite(row[n]) for n in names} for uid, row in table.iterrows()}


def _finite(value: Any) -> float:
    value = float(value)
    return value if np.isfinite(value) else float("inf")


def _fit_winners(series: Series, winners: dict[str, str], season: int, n_jobs: int
                 ) -> dict[str, dict[str, Any]]:
    """Fit each series' winner on its whole history; keep the specification it chose."""
    specs: dict[str, dict[str, Any]] = {uid: {} for uid in winners}
    frame = series.frame
    for name in sorted(set(winners.values())):
        if name not in ("AutoARIMA", "AutoETS"):
            continue  # nothing searched: nothing to remember
        uids = [u for u, w in winners.items() if w == name]
        engine = _engine([catalogue.searching(name, season)], series, n_jobs)
        engine.fit(df=frame[frame["unique_id"].isin(uids)])
        for uid, fitted in zip(list(engine.uids), engine.fitted_[:, 0], strict=True):
            try:
                specs[str(uid)] = catalogue.spec_of(name, fitted)
            except (AttributeError, KeyError, TypeError, ValueError):
                winners[str(uid)] = "Naive"  # the search failed: the engine fell back too
    return specs
