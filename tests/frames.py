"""Generated frames with text (category) columns and missing values — no downloads.

breast_cancer (classification) or diabetes (regression) from scikit-learn, plus a
``grade`` text column that carries signal, a ``site`` category that carries none,
and holes in two numeric columns and in ``grade``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def mixed_frame(task: str = "classification", rows: int | None = None,
                seed: int = 0) -> pd.DataFrame:
    from sklearn import datasets

    loader = datasets.load_breast_cancer if task == "classification" else datasets.load_diabetes
    frame = loader(as_frame=True).frame
    if rows is not None:
        frame = frame.head(rows)
    rng = np.random.default_rng(seed)
    y = frame["target"].to_numpy()
    high = y >= np.median(y)
    frame.insert(0, "grade", np.where(high, rng.choice(["a", "b"], len(frame), p=[0.8, 0.2]),
                                      rng.choice(["b", "c"], len(frame), p=[0.3, 0.7])))
    frame.insert(1, "site", pd.Categorical(rng.choice(["north", "south", "east"], len(frame))))
    frame = frame.astype({"grade": object})
    for column in (frame.columns[2], frame.columns[3], "grade"):
        frame.loc[rng.random(len(frame)) < 0.05, column] = None if column == "grade" else np.nan
    return frame
