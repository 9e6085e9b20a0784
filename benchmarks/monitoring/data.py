"""The benchmark's rows: 20 features of four shapes, drawn the same way in both venvs.

Only NumPy, so modelport's venv and Evidently's import this one module and draw
identical rows from a seed: the two tools always see the same numbers.
"""

from __future__ import annotations

import numpy as np

N_FEATURES = 20
FEATURES = [f"f{i}" for i in range(N_FEATURES)]
SHAPES = ("normal", "lognormal", "uniform", "poisson")


def draw(rows: int, seed: int, shift_sd: float = 0.0) -> np.ndarray:
    """``rows`` × 20 float64; feature j has shape ``SHAPES[j % 4]``. ``shift_sd`` moves
    every feature's mean by that many of its own standard deviations — a count column by
    raising its rate (counts stay whole numbers, as real ones do)."""
    rng = np.random.default_rng(seed)
    out = np.empty((rows, N_FEATURES))
    for j in range(N_FEATURES):
        shape = SHAPES[j % len(SHAPES)]
        if shape == "normal":
            column, sd = rng.normal(10.0 + j, 2.0, rows), 2.0
        elif shape == "lognormal":
            column, sd = rng.lognormal(1.0, 0.5, rows), float(np.sqrt((np.e ** 0.25 - 1)
                                                                     * np.e ** 2.25))
        elif shape == "uniform":
            column, sd = rng.uniform(0.0, 100.0, rows), 100.0 / np.sqrt(12.0)
        else:
            sd = float(np.sqrt(6.0))
            out[:, j] = rng.poisson(6.0 + shift_sd * sd, rows)
            continue
        out[:, j] = column + shift_sd * sd
    return out


def window_seed(n: int, rep: int, shifted: bool) -> int:
    """The seed of one window of the false-alarm grid (the same in both venvs)."""
    return 10_000_000 + n * 1000 + rep * 2 + int(shifted)
