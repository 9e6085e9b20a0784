"""The candidate models, in their two forms: searching (to train) and fixed (to forecast).

Training uses statsforecast's automatic models, which search a space (ARIMA
orders, ETS components). What a search settles on is kept as JSON in the
artifact: for ARIMA its orders — refitting that order is deterministic and
skips the search; for ETS its components *and* fitted parameters (smoothing
weights, initial states), because an ETS refit may settle in another local
optimum than the search did — so the exact fitted filter is rerun over the
history instead (statsforecast's ``forward``), with no optimisation at all.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from modelport.errors import InvalidInputError, require

CANDIDATES = ("AutoARIMA", "AutoETS", "Theta", "SeasonalNaive")
KNOWN = (*CANDIDATES, "Naive", "HistoricAverage")


def check_models(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    lookup = {n.lower(): n for n in KNOWN}
    unknown = [n for n in names if n.lower() not in lookup]
    if unknown or not names:
        raise InvalidInputError(f"unknown forecast model {unknown[0] if unknown else ''!r} — "
                                f"choose from {', '.join(KNOWN)}")
    return tuple(dict.fromkeys(lookup[n.lower()] for n in names))


def searching(name: str, season_length: int) -> Any:
    """The model that searches its own specification while fitting."""
    m = require("statsforecast.models", "forecast")
    if name == "AutoARIMA":
        # R's auto.arima rule (statsforecast's own when asked): past 150 points or a season
        # past 12 the search ranks orders by conditional sums of squares and refits only the
        # winner by exact likelihood — 240 daily points: 1.5 s instead of 13 s per series pair
        return m.AutoARIMA(season_length=season_length, approximation=None)
    if name == "AutoETS":
        return m.AutoETS(season_length=season_length)
    return fixed(name, season_length, {})


def fixed(name: str, season_length: int, params: dict[str, Any]) -> Any:
    """The model with the specification a search chose; fitting it searches nothing."""
    m = require("statsforecast.models", "forecast")
    if name == "AutoARIMA":
        return m.ARIMA(order=tuple(params["order"]), seasonal_order=tuple(params["seasonal"]),
                       season_length=int(params["period"]),
                       include_mean=bool(params["mean"]), include_drift=bool(params["drift"]),
                       alias=name)
    if name == "AutoETS":
        return m.AutoETS(season_length=season_length, model=str(params["model"]),
                         damped=bool(params["damped"]), alias=name)
    if name == "Theta":
        return m.Theta(season_length=season_length, alias=name)
    if name == "SeasonalNaive":
        return m.SeasonalNaive(season_length=season_length, alias=name)
    if name == "Naive":
        return m.Naive(alias=name)
    if name == "HistoricAverage":
        return m.HistoricAverage(alias=name)
    raise InvalidInputError(f"unknown forecast model {name!r}")


_ETS = re.compile(r"ETS\((\w),(\w)(d?),(\w)\)")


def spec_of(name: str, fitted: Any) -> dict[str, Any]:
    """The specification a fitted searching model settled on, as JSON-ready data."""
    if name == "AutoARIMA":
        p, q, sp, sq, period, d, sd = (int(v) for v in fitted.model_["arma"])
        coef = fitted.model_["coef"]
        return {"order": [p, d, q], "seasonal": [sp, sd, sq], "period": period,
                "mean": "intercept" in coef, "drift": "drift" in coef}
    if name == "AutoETS":
        match = _ETS.fullmatch(str(fitted.model_["method"]))
        if match is None:
            raise ValueError(f"unexpected ETS method {fitted.model_['method']!r}")
        error, trend, damped, season = match.groups()
        model = fitted.model_
        return {"model": f"{error}{trend}{season}", "damped": bool(damped),
                "components": [str(c) for c in model["components"]],
                "par": [None if not math.isfinite(v) else float(v) for v in model["par"]],
                "n_params": int(model["n_params"]), "period": int(model["m"])}
    return {}


def forecast_one(name: str, season_length: int, params: dict[str, Any], y: Any, h: int,
                 levels: list[int]) -> dict[str, Any]:
    """Forecast one series with its stored model: ``mean`` and ``lo-L`` / ``hi-L`` arrays."""
    import numpy as np

    if name == "AutoETS" and "par" in params:
        model = fixed(name, int(params["period"]), params)
        model.model_ = {"m": int(params["period"]), "components": list(params["components"]),
                        "par": np.array([np.nan if v is None else v for v in params["par"]],
                                        dtype=np.float64),
                        "n_params": int(params["n_params"]), "fit": None}
        out: dict[str, Any] = model.forward(y=y, h=h, level=levels)
        return out
    result: dict[str, Any] = fixed(name, season_length, params).forecast(y=y, h=h, level=levels)
    return result


def describe(name: str, params: dict[str, Any]) -> str:
    """A short human label: ``ARIMA(1,1,0)(0,1,0)[12]``, ``ETS(M,Ad,M)``, ``Theta``."""
    if name == "AutoARIMA" and params:
        o, s = params["order"], params["seasonal"]
        return f"ARIMA({o[0]},{o[1]},{o[2]})({s[0]},{s[1]},{s[2]})[{params['period']}]"
    if name == "AutoETS" and params:
        model = params["model"]
        return f"ETS({model[0]},{model[1]}{'d' if params['damped'] else ''},{model[2]})"
    return name


@contextmanager
def quiet() -> Iterator[None]:
    """statsforecast warns on every optimiser hiccup; the cross-validation judges the fits."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"statsforecast(\..*)?")
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        yield
