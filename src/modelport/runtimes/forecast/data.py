"""Time series in long form (one row per series and time), checked before any fitting.

A forecast is only as good as its time index, so this refuses what would
silently go wrong: missing columns, unparsable times, non-numeric or missing
targets, duplicate timestamps, and irregular series (a gap in a monthly series
is a missing month, not a shorter month). Each error names the series and the
spot, and says what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from modelport.errors import InvalidInputError

BUNDLED = {"statsforecast:air_passengers": "AirPassengersDF"}
SINGLE_SERIES = "series"
# the usual season for a time step: monthly data repeats yearly, daily data weekly …
SEASONS = {"MS": 12, "ME": 12, "M": 12, "QS": 4, "QE": 4, "Q": 4, "W": 52, "D": 7, "B": 5,
           "h": 24, "H": 24, "min": 60, "T": 60}


@dataclass
class Series:
    frame: Any  # pandas DataFrame: unique_id (str), ds (datetime64[ns] or int64), y (float64)
    freq: Any  # a pandas offset alias, or an int step for an integer index
    time_kind: str  # datetime | int
    columns: dict[str, str]  # the user's names for id, time and target

    @property
    def count(self) -> int:
        return int(self.frame["unique_id"].nunique())


def default_season(freq: Any) -> int:
    if isinstance(freq, int):
        return 1
    base = str(freq).lstrip("0123456789").split("-")[0]
    return SEASONS.get(base, 1)


def read_series(data: Any, time_col: str = "ds", target: str = "y", id_col: str | None = None,
                freq: str | None = None) -> Series:
    """Checked, sorted series from a CSV/Parquet path, a bundled set or a DataFrame."""
    import pandas as pd

    frame = _load(data) if not isinstance(data, pd.DataFrame) else data.copy()
    if frame.empty:
        raise InvalidInputError("the series data is empty")
    needed = [c for c in (id_col, time_col, target) if c is not None]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InvalidInputError(
            f"column {missing[0]!r} is not in the data (columns: "
            f"{', '.join(map(str, list(frame.columns)[:10]))}) — set --time-col, --target and "
            "--id-col")
    ids = frame[id_col].astype(str) if id_col else pd.Series(SINGLE_SERIES, index=frame.index)
    out = pd.DataFrame({"unique_id": ids.to_numpy(), "ds": _times(frame[time_col], time_col),
                        "y": _values(frame[target], target)})
    kind = "int" if out["ds"].dtype.kind in "iu" else "datetime"
    out = out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
    dup = out.duplicated(["unique_id", "ds"])
    if dup.any():
        row = out[dup].iloc[0]
        raise InvalidInputError(f"series {row.unique_id!r} has more than one value at "
                                f"{_show(row.ds)} — aggregate duplicates first")
    step = _freq(out, kind, freq)
    _check_regular(out, kind, step)
    columns = {"id": id_col or "unique_id", "time": time_col, "target": target}
    return Series(out, step, kind, columns)


def _load(spec: Any) -> Any:
    if spec in BUNDLED:
        from statsforecast import utils

        return getattr(utils, BUNDLED[spec]).copy()
    from modelport.lifecycle.datasets import load_dataset

    return load_dataset(str(spec)).frame


def _times(col: Any, name: str) -> Any:
    import pandas as pd

    if col.dtype.kind in "iu":
        return col.to_numpy(dtype=np.int64)
    if col.dtype.kind == "f":
        raise InvalidInputError(f"time column {name!r} holds fractional numbers — use dates or "
                                "whole-number steps")
    parsed = pd.to_datetime(col, errors="coerce", utc=False, format="mixed") \
        if col.dtype.kind not in "M" else col
    bad = parsed.isna() & col.notna()
    if bad.any() or col.isna().any():
        where = int(np.flatnonzero((bad | col.isna()).to_numpy())[0])
        raise InvalidInputError(f"time column {name!r} has a value that is not a date at row "
                                f"{where + 1}: {col.iloc[where]!r}")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed.astype("datetime64[ns]").to_numpy()


def _values(col: Any, name: str) -> Any:
    import pandas as pd

    values = pd.to_numeric(col, errors="coerce")
    bad = values.isna() & col.notna()
    if bad.any():
        where = int(np.flatnonzero(bad.to_numpy())[0])
        raise InvalidInputError(f"target column {name!r} has a non-numeric value at row "
                                f"{where + 1}: {col.iloc[where]!r}")
    if values.isna().any():
        where = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise InvalidInputError(f"target column {name!r} is missing a value at row {where + 1} "
                                "— fill or drop missing values first")
    return values.to_numpy(dtype=np.float64)


def _freq(frame: Any, kind: str, freq: str | None) -> Any:
    import pandas as pd

    longest = frame.groupby("unique_id", sort=False).size().idxmax()
    ds = frame.loc[frame["unique_id"] == longest, "ds"]
    if kind == "int":
        steps = np.diff(ds.to_numpy())
        if freq is not None:
            return int(freq)
        return int(steps.min()) if len(steps) else 1
    if freq is not None:
        try:
            pd.tseries.frequencies.to_offset(freq)
        except ValueError:
            raise InvalidInputError(f"unknown --freq {freq!r} — use a pandas alias such as D, "
                                    "W, MS or h") from None
        return freq
    inferred = pd.infer_freq(ds) if len(ds) >= 3 else None
    if inferred is None:
        raise InvalidInputError(
            f"cannot infer the time step of series {longest!r}: its index is irregular or too "
            "short — pass --freq (e.g. D, W, MS, h) or fill the gaps")
    return inferred


def _check_regular(frame: Any, kind: str, freq: Any) -> None:
    import pandas as pd

    for uid, group in frame.groupby("unique_id", sort=False):
        ds = group["ds"].to_numpy()
        if kind == "int":
            expected = ds[0] + freq * np.arange(len(ds))
        else:
            expected = pd.date_range(start=ds[0], periods=len(ds), freq=freq).to_numpy()
        if len(ds) and not np.array_equal(ds, expected):
            i = int(np.flatnonzero(ds != expected)[0])
            raise InvalidInputError(
                f"series {uid!r} is irregular: after {_show(ds[i - 1])} comes {_show(ds[i])}, "
                f"expected {_show(expected[i])} (step {freq}) — fill the gaps or resample first")


def _show(value: Any) -> str:
    import pandas as pd

    if isinstance(value, np.datetime64 | pd.Timestamp):
        ts = pd.Timestamp(value)
        return str(ts.date()) if ts == ts.normalize() else str(ts)
    return str(value)
