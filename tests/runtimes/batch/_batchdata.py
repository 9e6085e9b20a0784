"""Input files written the way users have them, and what a model should answer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

FEATURES = ["a", "b", "c", "d"]


def frame(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.normal(size=(rows, len(FEATURES))), columns=FEATURES)
    df.insert(0, "id", np.arange(rows, dtype=np.int64))
    return df


def expected(clf, df: pd.DataFrame) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.asarray(clf.predict(df[FEATURES].to_numpy()))


def write_parquet(df: pd.DataFrame, path: Path, row_group_size: int = 1000) -> Path:
    df.to_parquet(path, row_group_size=row_group_size, index=False)
    return path
