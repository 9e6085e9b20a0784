"""Crafted containers: ensemble zips, skops zips, forecast Parquet and booster envelopes
are bounded (sizes, counts, nesting) before anything is unpacked, and their fields are
checked before a runtime uses them."""

from __future__ import annotations

import io
import json
import resource
import zipfile
from typing import Any

import numpy as np
import pytest

from modelport.core.formats import get_format
from modelport.core.formats.archive import unpacked_limit
from modelport.errors import InvalidInputError, UnsafeArtifactError

BOMB = 256 * 1024 * 1024  # unpacks from ~250 KB


def _zip(entries: dict[str, bytes | int]) -> bytes:
    """A zip of ``entries``; an int stands for that many zero bytes (a bomb)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            if isinstance(data, int):
                with zf.open(name, "w", force_zip64=True) as fh:
                    chunk = bytes(1 << 20)
                    for _ in range(data >> 20):
                        fh.write(chunk)
            else:
                zf.writestr(name, data)
    return buf.getvalue()


def _ensemble_manifest(n: int = 2) -> bytes:
    return json.dumps({"weights": [1.0] * n, "members": [
        {"format": "lightgbm", "path": f"member-{i}.lightgbm"} for i in range(n)]}).encode()


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("bomb_in", ["member", "manifest"])
def test_an_ensemble_zip_bomb_is_refused_before_unpacking(bomb_in: str) -> None:
    entries: dict[str, bytes | int] = {"ensemble.json": _ensemble_manifest(),
                                       "member-0.lightgbm": b"{}", "member-1.lightgbm": BOMB}
    if bomb_in == "manifest":
        entries["ensemble.json"] = BOMB
    data = _zip(entries)
    assert len(data) < 1024 * 1024 and unpacked_limit(len(data)) < BOMB
    before = _max_rss_mb()
    with pytest.raises(UnsafeArtifactError, match="decompression bomb"):
        get_format("ensemble").load_model(data)
    assert _max_rss_mb() - before < 100


def test_an_ensemble_manifest_over_its_limit_is_refused() -> None:
    big = b" " * (128 * 1024) + _ensemble_manifest()
    with pytest.raises(UnsafeArtifactError, match=r"ensemble\.json is"):
        get_format("ensemble").load_model(_zip({"ensemble.json": big}))


@pytest.mark.parametrize("manifest, message", [
    ({"weights": [1, 1], "members": [{"format": "lightgbm", "path": "member-0.lightgbm"},
                                     {"format": "lightgbm", "path": "member-0.lightgbm"}]},
     "member 1 is not stored as member-1.lightgbm"),
    ({"weights": [1, 1], "members": [{"format": "lightgbm", "path": "../../etc/passwd"},
                                     {"format": "lightgbm", "path": "member-1.lightgbm"}]},
     "member 0 is not stored"),
    ({"weights": [1, 1], "members": [{"format": "ensemble", "path": "member-0.ensemble"},
                                     {"format": "lightgbm", "path": "member-1.lightgbm"}]},
     "another ensemble"),
])
def test_ensemble_manifests_name_only_their_own_members(manifest: dict[str, Any],
                                                        message: str) -> None:
    data = _zip({"ensemble.json": json.dumps(manifest).encode(), "member-0.lightgbm": b"{}"})
    with pytest.raises(InvalidInputError, match=message):
        get_format("ensemble").load_model(data)


def test_an_ensemble_with_too_many_entries_is_refused() -> None:
    entries: dict[str, bytes | int] = {f"member-{i}.lightgbm": b"{}" for i in range(40)}
    entries["ensemble.json"] = _ensemble_manifest()
    with pytest.raises(UnsafeArtifactError, match="entries, over its limit"):
        get_format("ensemble").load_model(_zip(entries))


def test_a_deeply_nested_manifest_is_an_invalid_input() -> None:
    data = _zip({"ensemble.json": b"[" * 30_000 + b"]" * 30_000})
    with pytest.raises(InvalidInputError, match="not a loadable modelport ensemble"):
        get_format("ensemble").load_model(data)


def test_a_skops_zip_bomb_is_refused_before_skops_reads_it() -> None:
    data = _zip({"schema.json": b"{}", "a.npy": BOMB})
    with pytest.raises(UnsafeArtifactError, match="decompression bomb"):
        get_format("sklearn").load_model(data)


# ---- forecast ----------------------------------------------------------------------------

def _forecast_model(**changes: Any) -> Any:
    from modelport.core.formats.forecast import ForecastModel, SeriesModel

    fields: dict[str, Any] = {
        "freq": "D", "season_length": 7, "horizon": 3, "levels": [80],
        "ids": np.array(["a"] * 20, dtype=object), "times": np.arange(20),
        "values": np.arange(20.0),
        "series": {"a": SeriesModel("AutoARIMA", {"order": [1, 0, 1], "seasonal": [0, 0, 0],
                                                  "period": 7, "mean": True, "drift": False})}}
    return ForecastModel(**{**fields, **changes})


def test_a_forecast_artifact_round_trips() -> None:
    fmt = get_format("forecast")
    loaded = fmt.load_model(fmt.dump(_forecast_model()))
    assert loaded.series["a"].params["order"] == [1, 0, 1]


@pytest.mark.parametrize("changes, message", [
    ({"horizon": 10**9}, "horizon"),
    ({"season_length": 0}, "season"),
    ({"levels": [80, 250]}, "levels"),
    ({"ids": np.array(["a"] * 10 + ["b"] * 10, dtype=object)}, "no chosen model"),
])
def test_forecast_fields_out_of_range_are_refused(changes: dict[str, Any], message: str) -> None:
    fmt = get_format("forecast")
    with pytest.raises(UnsafeArtifactError, match=message):
        fmt.load_model(fmt.dump(_forecast_model(**changes)))


@pytest.mark.parametrize("params", [
    {"order": [1000, 0, 1000], "seasonal": [0, 0, 0], "period": 7, "mean": True,
     "drift": False},
    {"order": [1, 0, 1], "seasonal": [0, 0, 0], "period": 10**9, "mean": True, "drift": False},
    {"order": [1, 0], "seasonal": [0, 0, 0], "period": 7, "mean": True, "drift": False},
    {"order": "x"},
])
def test_a_crafted_arima_specification_is_refused(params: dict[str, Any]) -> None:
    from modelport.core.formats.forecast import SeriesModel

    fmt = get_format("forecast")
    data = fmt.dump(_forecast_model(series={"a": SeriesModel("AutoARIMA", params)}))
    with pytest.raises(UnsafeArtifactError, match="specification is out of range"):
        fmt.load_model(data)


def test_a_run_length_bomb_of_history_rows_is_refused() -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from modelport.core.formats.forecast import META_KEY

    rows = 20_000_000
    table = pa.table({"unique_id": pa.array(["a"] * 1, pa.string()).take(
        pa.array(np.zeros(rows, dtype=np.int32))),
        "ds": pa.array(np.zeros(rows, dtype=np.int64)), "y": pa.array(np.zeros(rows))})
    table = table.replace_schema_metadata({META_KEY: json.dumps(
        _forecast_model().meta()).encode()})
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    data = buf.getvalue()
    assert len(data) < 1024 * 1024
    with pytest.raises(UnsafeArtifactError, match="refusing to unpack"):
        get_format("forecast").load_model(data)


def test_forecast_bytes_that_are_not_parquet_are_an_invalid_input() -> None:
    with pytest.raises(InvalidInputError, match="not a loadable forecast artifact"):
        get_format("forecast").load_model(b"PAR1" + b"\x00" * 64 + b"PAR1")


# ---- booster envelope --------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["lightgbm", "xgboost"])
@pytest.mark.parametrize("envelope, error", [
    (b'{"classes": [[1, 2]], "booster": "x"}', UnsafeArtifactError),
    (b'{"classes": {"a": 1}, "booster": "x"}', UnsafeArtifactError),
    (b'{"classes": null, "booster": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
     InvalidInputError),
])
def test_a_crafted_booster_envelope_is_refused(fmt: str, envelope: bytes, error: type) -> None:
    pytest.importorskip(fmt)
    with pytest.raises(error):
        get_format(fmt).load_model(envelope)
