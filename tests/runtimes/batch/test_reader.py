"""Reading inputs: paths, directories, globs and fsspec URLs, cut the same way every time."""

from __future__ import annotations

from pathlib import Path

import fsspec
import pyarrow as pa
import pytest
from _batchdata import frame, write_parquet

from modelport.errors import InvalidInputError, NotFoundError
from modelport.runtimes.batch.reader import (
    input_digest,
    plan_splits,
    read_chunks,
    resolve_input,
)


def test_directory_glob_and_single_file(tmp_path: Path) -> None:
    write_parquet(frame(10), tmp_path / "b.parquet")
    frame(5).to_csv(tmp_path / "a.csv", index=False)
    (tmp_path / "_SUCCESS").write_text("")
    (tmp_path / "notes.txt").write_text("x")
    files = resolve_input(str(tmp_path))
    assert [Path(f.url).name for f in files] == ["a.csv", "b.parquet"]
    assert [f.kind for f in files] == ["csv", "parquet"]
    assert files[1].rows == 10 and files[0].rows is None
    assert files[0].columns == ("id", "a", "b", "c", "d")
    assert [Path(f.url).name for f in resolve_input(str(tmp_path / "*.parquet"))] == ["b.parquet"]
    with pytest.raises(InvalidInputError, match="neither CSV nor Parquet"):
        resolve_input(str(tmp_path / "notes.txt"))
    with pytest.raises(NotFoundError, match="not found — give a CSV/Parquet file"):
        resolve_input(str(tmp_path / "missing.csv"))


def test_chunks_are_exact_and_independent_of_row_groups(tmp_path: Path) -> None:
    write_parquet(frame(2500), tmp_path / "x.parquet", row_group_size=300)
    files = resolve_input(str(tmp_path / "x.parquet"))
    splits = plan_splits(files, batch_size=400)
    # row groups of 300 are merged until a split holds at least one batch
    assert [s.rows for s in splits] == [600, 600, 600, 600, 100]
    assert [s.first_row for s in splits] == [0, 600, 1200, 1800, 2400]
    sizes = [c.batch.num_rows for s in splits for c in read_chunks(s, ["id"], [], 400)]
    assert sizes == [400, 200] * 4 + [100]
    again = [c.index for c in read_chunks(splits[0], ["id"], [], 400, skip=frozenset({0}))]
    assert again == [1]
    ids = [v for s in splits for c in read_chunks(s, ["id"], [], 400)
           for v in c.batch.column("id").to_pylist()]
    assert ids == list(range(2500))


def test_fsspec_url_input(tmp_path: Path) -> None:
    fs = fsspec.filesystem("memory")
    with fs.open("/bucket/day=1/part-0.csv", "wb") as fh:
        fh.write(frame(7).to_csv(index=False).encode())
    files = resolve_input("memory://bucket/day=*/part-*.csv")
    assert [f.url for f in files] == ["memory:///bucket/day=1/part-0.csv"]
    [split] = plan_splits(files, 4)
    chunks = list(read_chunks(split, ["id", "a"], ["a"], 4))
    assert [c.batch.num_rows for c in chunks] == [4, 3]
    assert chunks[0].batch.schema.field("a").type == pa.string()
    digest = input_digest(files)
    with fs.open("/bucket/day=1/part-0.csv", "wb") as fh:
        fh.write(frame(8).to_csv(index=False).encode())
    assert input_digest(resolve_input("memory://bucket/day=*/part-*.csv")) != digest
    fs.rm("/bucket", recursive=True)
