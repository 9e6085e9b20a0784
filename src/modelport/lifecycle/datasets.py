"""Datasets: tabular data from a file or a bundled set, with a content digest.

The digest hashes the values and column names, not the file bytes, so the
same table read from CSV or Parquet has the same digest — lineage follows the
data, not its encoding.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    import pandas as pd

from modelport.errors import InvalidInputError, NotFoundError, first_line

BUNDLED = ("iris", "wine", "breast_cancer", "diabetes", "digits")


@dataclass
class Dataset:
    name: str
    frame: Any  # pandas.DataFrame
    digest: str
    chosen: list[str] | None = None  # the feature columns a user kept, when they chose

    @property
    def rows(self) -> int:
        return len(self.frame)


def digest_frame(frame: Any) -> str:
    import pandas as pd

    h = hashlib.sha256(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


DataSource: TypeAlias = "str | Dataset | pd.DataFrame"


def as_dataset(data: DataSource) -> Dataset:
    """What every training entry point takes: a spec, a ``Dataset`` or a DataFrame."""
    if isinstance(data, Dataset):
        return data
    if isinstance(data, str):
        return load_dataset(data)
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        raise InvalidInputError(f"cannot train on a {type(data).__name__} — give a CSV or "
                                "Parquet path, a bundled set (sklearn:iris) or a DataFrame")
    if data.empty or len(data.columns) == 0:
        raise InvalidInputError("the DataFrame is empty")
    frame = data.rename(columns=str)
    return Dataset("dataframe", frame, digest_frame(frame))


def load_dataset(spec: str) -> Dataset:
    """``sklearn:NAME`` for a bundled set, else a CSV or Parquet path."""
    frame = _bundled(spec[8:]) if spec.startswith("sklearn:") else _file(spec)
    if frame.empty or len(frame.columns) == 0:
        raise InvalidInputError(f"dataset {spec!r} is empty")
    frame.columns = [str(c) for c in frame.columns]
    return Dataset(spec, frame, digest_frame(frame))


def _bundled(name: str) -> Any:
    if name not in BUNDLED:
        raise NotFoundError(
            f"unknown bundled dataset 'sklearn:{name}' — choose one of "
            + ", ".join(f"sklearn:{b}" for b in BUNDLED)
        )
    from sklearn import datasets

    return getattr(datasets, f"load_{name}")(as_frame=True).frame


def _file(spec: str) -> Any:
    import pandas as pd

    path = Path(spec)
    if not path.exists():
        raise NotFoundError(
            f"dataset {spec!r} not found — give a CSV or Parquet path, or a bundled set "
            f"such as sklearn:iris"
        )
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt", ".tsv"):
            return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    except pd.errors.EmptyDataError:
        raise InvalidInputError(f"dataset {spec!r} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        first = first_line(exc)
        raise InvalidInputError(f"cannot read dataset {spec!r}: {first}") from None
    raise InvalidInputError(f"dataset {spec!r}: unsupported file type {suffix or '(none)'} "
                            "— use .csv or .parquet")


def choose_columns(dataset: Dataset, target: str, *, drop: Sequence[str] | None = None,
                   features: Sequence[str] | None = None) -> Dataset:
    """The dataset with only the feature columns a user chose, and the target.

    ``drop`` names columns to leave out (a ``customer_id``), ``features`` the only
    ones to keep; at most one of the two. The model's signature then records just
    these columns, so a caller never has to send the others. The digest stays the
    source data's: lineage names the table the rows came from.
    """
    if drop and features:
        raise InvalidInputError("give the columns to drop or the features to keep, not both")
    named = list(drop or features or [])
    if not named:
        return dataset
    frame = dataset.frame
    unknown = [c for c in named if c not in frame.columns]
    if unknown:
        raise InvalidInputError(
            f"{'dropped' if drop else 'feature'} column {unknown[0]!r} is not in dataset "
            f"{dataset.name!r} — its columns are: {', '.join(map(str, frame.columns[:30]))}")
    if target in named:
        raise InvalidInputError(f"{target!r} is the target — name only feature columns")
    keep = (list(dict.fromkeys(named)) if features else
            [c for c in frame.columns if c not in named and c != target])
    if not keep:
        raise InvalidInputError("no feature column is left besides the target")
    return Dataset(dataset.name, frame[[*keep, target] if target in frame.columns else keep],
                   dataset.digest, [str(c) for c in keep])

