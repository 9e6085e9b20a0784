"""Reading a job's input as a stream of fixed-size Arrow record batches.

An input is a path, a directory, a glob or any fsspec URL (``s3://bucket/day=*/``)
naming CSV and Parquet files. It is cut into **splits** — one per Parquet row
group (small ones merged) and one per CSV file — and each split into
**chunks** of exactly ``batch_size`` rows (the last one shorter). Both cuts
depend only on the files and the batch size, never on the worker count, so a
resumed job finds the same chunks it committed before and skips them: that is
what makes the output exactly-once. Memory stays bounded by one chunk plus the
reader's buffers, whatever the input size.

Parquet columns are read as stored. CSV feature columns are read as text and
converted per chunk (see ``scoring.py``), so one unparsable value sets aside
one row instead of failing the whole file; lines with the wrong number of
fields are reported through ``bad_lines``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from modelport.errors import InvalidInputError, NotFoundError, first_line

KINDS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".csv.gz": "csv",
         ".tsv": "csv"}
CSV_BLOCK = 4 << 20  # bytes the CSV reader parses at a time

# the way out of a job stopped by bad rows, for every message that stops one
SET_ASIDE = " — rerun with --on-error skip or quarantine to set such rows aside"


@dataclass(frozen=True)
class InputFile:
    url: str  # what fsspec opens: a local path or protocol://path
    kind: str  # parquet | csv
    size: int
    stamp: str  # modification time or ETag: with the size, tells a changed file
    rows: int | None = None  # known for Parquet (footer), unknown for CSV
    columns: tuple[str, ...] = ()
    types: tuple[str, ...] = ()  # Arrow type of each column (Parquet); CSV columns are text


@dataclass(frozen=True)
class Split:
    """A piece of one file that one worker reads from start to end."""

    file: int  # index of the file in the input
    index: int  # index of the split in its file
    url: str
    kind: str
    row_groups: tuple[int, ...] = ()  # Parquet only
    first_row: int = 0  # the file row number where the split starts
    rows: int | None = None

    @property
    def key(self) -> str:
        return f"{self.file:05d}-{self.index:05d}"


@dataclass
class BadLine:
    """A CSV line the parser could not split into the header's number of fields."""

    text: str
    reason: str


@dataclass
class Chunk:
    index: int  # within its split
    first_row: int  # file row number of its first row
    batch: Any  # pyarrow.RecordBatch
    bad_lines: list[BadLine] = field(default_factory=list)


def kind_of(path: str) -> str | None:
    lower = path.lower()
    for suffix, kind in KINDS.items():
        if lower.endswith(suffix):
            return kind
    return None


def resolve_input(spec: str) -> list[InputFile]:
    """The CSV/Parquet files ``spec`` names, in a stable (sorted) order."""
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(spec)
    except (ImportError, ValueError) as exc:
        raise InvalidInputError(f"cannot open input {spec!r}: {first_line(exc)}") from None
    if any(c in path for c in "*?["):
        paths = sorted(p for p in fs.glob(path) if not fs.isdir(p))
    elif fs.isdir(path):
        paths = sorted(p for p in fs.find(path, maxdepth=1)
                       if not _hidden(p) and kind_of(p) is not None)
    elif fs.exists(path):
        paths = [path]
    else:
        raise NotFoundError(f"input {spec!r} not found — give a CSV/Parquet file, a directory, "
                            "a glob such as 'data/*.parquet' or a URL")
    if not paths:
        raise NotFoundError(f"input {spec!r} matches no CSV or Parquet file")
    files = []
    for p in paths:
        kind = kind_of(p)
        if kind is None:
            raise InvalidInputError(f"input file {p!r} is neither CSV nor Parquet — name files "
                                    ".csv, .csv.gz, .tsv or .parquet")
        info = fs.info(p)
        stamp = str(info.get("mtime") or info.get("LastModified") or info.get("ETag")
                    or info.get("etag") or info.get("created") or "")
        url = p if _is_local(fs) else fs.unstrip_protocol(p)
        files.append(_describe(fs, p, InputFile(url, kind, int(info.get("size") or 0), stamp)))
    return files


def _hidden(path: str) -> bool:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return name.startswith((".", "_"))


def _is_local(fs: Any) -> bool:
    return "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))


def _describe(fs: Any, path: str, file: InputFile) -> InputFile:
    """Fill in rows and columns from a Parquet footer or a CSV header line."""
    import dataclasses

    if file.size == 0:
        return dataclasses.replace(file, rows=0)
    if file.kind == "parquet":
        import pyarrow.parquet as pq

        try:
            with fs.open(path, "rb") as fh:
                meta = pq.ParquetFile(fh).metadata
                schema = meta.schema.to_arrow_schema()
                return dataclasses.replace(file, rows=meta.num_rows, columns=tuple(schema.names),
                                           types=tuple(_type_name(t) for t in schema.types))
        except Exception as exc:
            raise InvalidInputError(f"cannot read Parquet file {file.url!r}: {first_line(exc)}"
                                    ) from None
    with fs.open(path, "rb", compression="infer") as fh:
        header = fh.readline().decode("utf-8", errors="replace").strip("\r\n")
    if not header.strip():
        return dataclasses.replace(file, rows=0)
    import csv

    delimiter = "\t" if path.lower().endswith(".tsv") else ","
    names = tuple(next(csv.reader([header], delimiter=delimiter)))
    return dataclasses.replace(file, columns=names)


def _type_name(dtype: Any) -> str:
    import pyarrow as pa

    if pa.types.is_dictionary(dtype):
        dtype = dtype.value_type
    numeric = (pa.types.is_integer(dtype) or pa.types.is_floating(dtype)
               or pa.types.is_boolean(dtype) or pa.types.is_null(dtype))
    text = pa.types.is_string(dtype) or pa.types.is_large_string(dtype)
    return "numeric" if numeric else "text" if text else str(dtype)


def input_digest(files: list[InputFile]) -> str:
    """SHA-256 of the input's listing (URL, size, modification stamp), read without
    opening the data: it tells a changed input from the one a staged job started on."""
    listing = [[f.url, f.size, f.stamp] for f in files]
    return hashlib.sha256(json.dumps(listing).encode()).hexdigest()


def plan_splits(files: list[InputFile], batch_size: int) -> list[Split]:
    """Cut the files into splits; merges Parquet row groups smaller than ``batch_size``."""
    import fsspec
    import pyarrow.parquet as pq

    splits: list[Split] = []
    for i, f in enumerate(files):
        if f.rows == 0:
            continue
        if f.kind == "csv":
            splits.append(Split(i, 0, f.url, "csv"))
            continue
        with fsspec.open(f.url, "rb") as fh:
            meta = pq.ParquetFile(fh).metadata
        groups: list[int] = []
        first = start = count = index = 0
        for g in range(meta.num_row_groups):
            rows = meta.row_group(g).num_rows
            if not groups:
                first = start
            groups.append(g)
            count += rows
            start += rows
            if count >= batch_size:
                splits.append(Split(i, index, f.url, "parquet", tuple(groups), first, count))
                groups, count, index = [], 0, index + 1
        if groups:
            splits.append(Split(i, index, f.url, "parquet", tuple(groups), first, count))
    return splits


def read_chunks(split: Split, columns: list[str], text_columns: list[str], batch_size: int,
                skip: frozenset[int] = frozenset(), strict_lines: bool = True) -> Iterator[Chunk]:
    """The split's chunks of ``batch_size`` rows, in order; chunks in ``skip`` are read
    past but not yielded. ``text_columns`` are read as text from CSV. With
    ``strict_lines``, a malformed CSV line is an error; otherwise it is reported."""
    bad: list[BadLine] = []
    if split.kind == "parquet":
        batches = _parquet_batches(split, columns, batch_size)
    else:
        batches = _csv_batches(split, columns, text_columns, bad, strict_lines)
    index, row = 0, split.first_row
    for batch in _rechunk(batches, batch_size):
        if index not in skip:
            yield Chunk(index, row, batch, bad[:])
        bad.clear()
        index += 1
        row += batch.num_rows
    if bad and index not in skip:  # malformed lines after the last full chunk
        import pyarrow as pa

        yield Chunk(index, row, pa.RecordBatch.from_pylist([], schema=_empty_schema(columns)),
                    bad[:])


def _empty_schema(columns: list[str]) -> Any:
    import pyarrow as pa

    return pa.schema([(c, pa.string()) for c in columns])


def _rechunk(batches: Iterator[Any], size: int) -> Iterator[Any]:
    """Exactly ``size`` rows per batch (the last may be shorter), whatever the source gives."""
    import pyarrow as pa

    pending: list[Any] = []
    held = 0
    for batch in batches:
        while batch.num_rows:
            take = min(size - held, batch.num_rows)
            pending.append(batch.slice(0, take))
            held += take
            batch = batch.slice(take)
            if held == size:
                yield _combine(pa, pending)
                pending, held = [], 0
    if held:
        yield _combine(pa, pending)


def _combine(pa: Any, parts: list[Any]) -> Any:
    if len(parts) == 1:
        return parts[0]
    return pa.Table.from_batches(parts).combine_chunks().to_batches()[0]


def _parquet_batches(split: Split, columns: list[str], batch_size: int) -> Iterator[Any]:
    import fsspec
    import pyarrow.parquet as pq

    with fsspec.open(split.url, "rb") as fh:
        reader = pq.ParquetFile(fh)
        yield from reader.iter_batches(batch_size=batch_size, row_groups=list(split.row_groups),
                                       columns=columns, use_threads=False)


def _csv_batches(split: Split, columns: list[str], text_columns: list[str], bad: list[BadLine],
                 strict: bool) -> Iterator[Any]:
    import fsspec
    import pyarrow as pa
    import pyarrow.csv as pcsv

    def on_invalid(row: Any) -> str:
        reason = (f"malformed line: {row.actual_columns} fields where the header has "
                  f"{row.expected_columns}")
        if strict:
            return "error"
        bad.append(BadLine(str(row.text), reason))
        return "skip"

    delimiter = "\t" if split.url.lower().endswith(".tsv") else ","
    with fsspec.open(split.url, "rb", compression="infer") as fh:
        try:
            reader = pcsv.open_csv(
                fh,
                read_options=pcsv.ReadOptions(block_size=CSV_BLOCK, use_threads=False),
                parse_options=pcsv.ParseOptions(delimiter=delimiter,
                                                invalid_row_handler=on_invalid),
                convert_options=pcsv.ConvertOptions(
                    include_columns=columns, strings_can_be_null=True,
                    column_types={c: pa.string() for c in text_columns}))
            yield from reader
        except pa.ArrowInvalid as exc:
            if "Empty CSV file" in str(exc):
                return
            # a malformed line stops only a job that does not set bad rows aside
            hint = SET_ASIDE if strict and "CSV parse error" in str(exc) else ""
            raise InvalidInputError(f"cannot read CSV file {split.url!r}: {first_line(exc)}"
                                    f"{hint}") from None


