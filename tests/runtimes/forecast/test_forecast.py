"""Forecasting: model choice by cross-validation, a pickle-free artifact, exact refits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelport.core.formats import get_format
from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError, NotFoundError
from modelport.lifecycle.loading import load
from modelport.runtimes.batch import list_jobs
from modelport.runtimes.forecast import forecast, train_forecast
from modelport.runtimes.forecast.predict import PastHorizonWarning, load_forecaster
from modelport.runtimes.serving.repository import resolve

# what these check does not depend on the metadata store; its records (runs, versions,
# jobs) are tested on PostgreSQL too in tests/core/store and tests/lifecycle/test_registry
pytestmark = pytest.mark.storage_independent

pytest.importorskip("statsforecast", reason="the forecast extra is not installed")


def generated(series: int = 3, length: int = 48, seed: int = 0) -> pd.DataFrame:
    """Monthly series: trend + yearly season + noise, one flat one to favour naive models."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(series):
        t = np.arange(length)
        y = 100 + k * 10 + 0.8 * t + 12 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 2, length)
        if k == series - 1:
            y = np.full(length, 50.0) + rng.normal(0, 0.01, length)
        rows.append(pd.DataFrame({"store": f"s{k}", "month": pd.date_range(
            "2019-01-01", periods=length, freq="MS"), "units": y}))
    return pd.concat(rows, ignore_index=True)


def test_train_chooses_per_series_and_predict_refits_exactly(
        ws: Workspace, tmp_path: Path) -> None:
    data = generated()
    data.to_csv(tmp_path / "sales.csv", index=False)
    result = train_forecast(str(tmp_path / "sales.csv"), name="sales", horizon=6,
                            time_col="month", target="units", id_col="store", n_jobs=1, ws=ws)
    assert result.version.ref == "sales:1" and result.series == 3
    assert sum(result.chosen.values()) == 3 and result.cv_mae > 0
    version, forecaster = load_forecaster("sales", ws=ws)
    model = forecaster.model
    assert version.format == "forecast" and model.freq == "MS" and model.season_length == 12
    assert set(model.series) == {"s0", "s1", "s2"}
    for chosen in model.series.values():
        assert chosen.model == min(chosen.scores, key=chosen.scores.__getitem__)
        assert set(chosen.scores) == {"AutoARIMA", "AutoETS", "Theta", "SeasonalNaive"}
    assert version.metrics["cv_mae"] == pytest.approx(result.cv_mae)
    assert version.tags["kind"] == "forecast"

    with pytest.warns(PastHorizonWarning, match="forecasting 8 steps ahead, but sales:1 was "
                      "chosen and its error measured by cross-validation over 6: steps 7-8 "
                      "are untested extrapolation"):
        frame = forecast("sales", horizon=8, levels=[90], output=tmp_path / "f.parquet", ws=ws)
    assert list(frame.columns) == ["store", "month", "forecast", "lo_90", "hi_90", "model"]
    assert len(frame) == 24 and frame.groupby("store").size().tolist() == [8, 8, 8]
    s0 = frame[frame.store == "s0"]
    assert s0.month.iloc[0] == pd.Timestamp("2023-01-01")
    assert (s0.lo_90 <= s0.forecast).all() and (s0.forecast <= s0.hi_90).all()
    assert pd.read_parquet(tmp_path / "f.parquet").equals(frame)

    # the stored spec refits to exactly what statsforecast's own search gives
    from statsforecast import models as sf

    y = data[data.store == "s0"].units.to_numpy()
    searching = {"AutoARIMA": sf.AutoARIMA, "AutoETS": sf.AutoETS, "Theta": sf.Theta,
                 "SeasonalNaive": sf.SeasonalNaive}[model.series["s0"].model](season_length=12)
    reference = searching.forecast(y=y, h=8, level=[90])
    np.testing.assert_allclose(s0.forecast, reference["mean"], rtol=1e-6)
    np.testing.assert_allclose(s0.hi_90, reference["hi-90"], rtol=1e-6)

    [job] = list_jobs(kind="forecast", ws=ws)
    assert (job.status, job.rows, job.model, job.output) == ("succeeded", 24, "sales",
                                                            str(tmp_path / "f.parquet"))
    # a Forecaster, not a Predictor that raises on first use: refused at load, one line
    with pytest.raises(InvalidInputError, match="answers a horizon, not feature rows"):
        load("sales", ws=ws)
    with pytest.raises(NotFoundError, match="nothing to serve"):  # serve-all skips it
        resolve(None, ws=ws)
    _, forecaster = load_forecaster("sales", ws=ws)
    assert forecaster.forecast(levels=[90]).equals(forecast("sales", levels=[90], ws=ws))


def test_integer_index_and_many_series_in_parallel(ws: Workspace) -> None:
    rng = np.random.default_rng(3)
    frames = [pd.DataFrame({"unique_id": i, "ds": np.arange(30), "y": rng.normal(10, 1, 30)})
              for i in range(80)]
    train_forecast(pd.concat(frames), name="many", horizon=3, id_col="unique_id",
                   models=["SeasonalNaive", "Naive", "HistoricAverage"], n_jobs=1, ws=ws)
    frame = forecast("many", workers=2, ws=ws)
    assert len(frame) == 240 and frame.ds.tolist()[:3] == [30, 31, 32]
    assert set(frame.model) <= {"SeasonalNaive", "Naive", "HistoricAverage"}


def test_a_long_series_is_searched_as_r_does_in_this_process(
        ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past 150 points AutoARIMA ranks orders by conditional sums of squares (R's rule) and
    the stored order is the one statsforecast's own search settles on; a few series are not
    worth a process pool, eight are."""
    from statsforecast.models import AutoARIMA

    from modelport.runtimes.forecast import models as catalogue
    from modelport.runtimes.forecast import train as training

    jobs: list[int] = []
    engine = training._engine

    def spy(models: list[object], series: object, n_jobs: int) -> object:
        jobs.append(n_jobs)
        return engine(models, series, n_jobs)  # type: ignore[arg-type]

    monkeypatch.setattr(training, "_engine", spy)
    rng = np.random.default_rng(5)
    t = np.arange(160)
    y = 50 + 0.1 * t + 5 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 1, 160)
    train_forecast(pd.DataFrame({"ds": pd.date_range("2026-01-01", periods=160), "y": y}),
                   name="long", horizon=7, models=["AutoARIMA"], ws=ws)
    assert jobs == [1, 1]  # cross-validation and the winner's fit, both in this process
    _, forecaster = load_forecaster("long", ws=ws)
    with catalogue.quiet():
        search = AutoARIMA(season_length=7, approximation=None).fit(y)
    p, q, sp, sq, period, d, sd = (int(v) for v in search.model_["arma"])
    [chosen] = forecaster.model.series.values()
    assert (chosen.params["order"], chosen.params["seasonal"], chosen.params["period"]) == \
        ([p, d, q], [sp, sd, sq], period)

    jobs.clear()
    eight = pd.DataFrame({"ds": np.tile(np.arange(30), 8), "y": rng.normal(10, 1, 240),
                          "unique_id": np.repeat(range(8), 30)})
    train_forecast(eight, name="eight", horizon=3, id_col="unique_id", models=["Naive"],
                   ws=ws)
    assert jobs == [-1]  # every core (Naive searches nothing: no second fit)


def test_bad_series_are_clear_errors(ws: Workspace, tmp_path: Path) -> None:
    data = generated(series=2)
    cases = [
        ({"time_col": "date"}, data, r"column 'date' is not in the data"),
        ({}, data.assign(units=data.units.astype(object).where(data.index != 5, "n.a.")),
         r"target column 'units' has a non-numeric value at row 6: 'n.a.'"),
        ({}, data.assign(units=data.units.where(data.index != 7)),
         "target column 'units' is missing a value at row 8"),
        ({}, data.assign(month=data.month.astype(str).where(data.index != 3, "someday")),
         "time column 'month' has a value that is not a date at row 4: 'someday'"),
        ({}, data.drop(index=[10]),
         r"series 's0' is irregular: after 2019-10-01 comes 2019-12-01, expected 2019-11-01"),
        ({}, pd.concat([data, data.iloc[[4]]]), "series 's0' has more than one value at "
                                                "2019-05-01"),
        ({"horizon": 24}, data, r"series 's0' has 48 points; .* needs at least 73"),
        ({"models": ["Prophet"]}, data, "unknown forecast model 'Prophet'"),
        ({"freq": "fortnightly"}, data, "unknown --freq 'fortnightly'"),
        ({}, data.iloc[:0], "the series data is empty"),
    ]
    for overrides, frame, message in cases:
        kwargs = {"time_col": "month", "target": "units", "id_col": "store", "horizon": 6,
                  **overrides}
        with pytest.raises(InvalidInputError, match=message):
            train_forecast(frame, name="bad", n_jobs=1, ws=ws, **kwargs)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InvalidInputError, match="is empty"):
        train_forecast(str(tmp_path / "empty.csv"), name="bad", horizon=3, ws=ws)


def test_artifact_is_data_and_refuses_tampering() -> None:
    fmt = get_format("forecast")
    from modelport.core.formats.forecast import ForecastModel, SeriesModel

    model = ForecastModel("D", 7, 3, [80], np.array(["a"] * 5, dtype=object),
                          np.arange(5), np.arange(5.0), {"a": SeriesModel("Theta")})
    data = fmt.dump(model)
    assert b"pickle" not in data.lower() and fmt.load_model(data).series["a"].model == "Theta"
    import io

    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(data))
    meta = dict(table.schema.metadata)
    meta[b"modelport.forecast"] = meta[b"modelport.forecast"].replace(b"Theta", b"os.system")
    buf = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(meta), buf)
    with pytest.raises(InvalidInputError, match=r"unknown model\(s\) os\.system"):
        fmt.load_model(buf.getvalue())


def test_ets_forecasts_reproduce_the_search_exactly() -> None:
    """A refit of the chosen ETS form can land in another optimum than the search (these two
    series do); the stored parameters are filtered again instead, so the answer is the same."""
    from statsforecast.models import AutoETS

    from modelport.runtimes.forecast import models as catalogue

    rng = np.random.default_rng(11)
    t = np.arange(48)
    for k in range(254):
        level, slope = rng.uniform(50, 500), rng.normal(0, 1)
        amp, noise = rng.uniform(0, 0.3) * level, rng.uniform(0.01, 0.1) * level
        y = level + slope * t + amp * np.sin(2 * np.pi * (t + k) / 12) + rng.normal(0, noise, 48)
        if k not in (99, 253):
            continue
        with catalogue.quiet():
            search = AutoETS(season_length=12).fit(y)
            spec = catalogue.spec_of("AutoETS", search)
            refit = catalogue.fixed("AutoETS", 12, spec).fit(y).predict(6)["mean"]
            got = catalogue.forecast_one("AutoETS", 12, spec, y, 6, [80, 95])
        want = search.predict(6, level=[80, 95])
        assert np.abs(refit - want["mean"]).max() > 1  # why the parameters are stored
        for key in ("mean", "lo-80", "hi-95"):
            np.testing.assert_allclose(got[key], want[key], rtol=1e-12)
