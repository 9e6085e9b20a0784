"""Instructions per logged row: keeping a sampled request and writing it, base vs this tree.

Why it exists: serving with 10 % prediction logging has to stay within 5 % of serving
without, and the log's writer thread shares the server's core — so what counts is the
CPU one logged row costs, on the request path (``record``: the draw, the references
kept) and in the writer (``flush``: columns built, Parquet written). Requests/s on a
shared, loaded machine move by more than that; instructions do not.

Each side runs the same script under callgrind twice, logging ``--rows`` small and
large (single-row requests of the serving benchmark's shape: 20 float32 features, a
class label, a request id), each with one flush; the difference of the two totals over
the difference of rows is the cost of one row, start-up and imports cancelled out.

    python benchmarks/monitoring/log_instructions.py [--base HEAD~1] [--rows 2000,12000]

Needs valgrind. The baseline's sources come from ``serving/ab.py``'s checkout.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "serving"))

from ab import REPO, checkout, side_env  # noqa: E402

CHILD = """
import sys, tempfile, numpy as np
from pathlib import Path
from modelport.core.signature import ColumnSpec, Signature
from modelport.runtimes.prediction_log import PredictionLog, _warm
_warm()
signature = Signature([ColumnSpec(f"f{i}", "float64") for i in range(20)], classes=[0, 1])
log = PredictionLog(Path(tempfile.mkdtemp()), sample=1.0, max_rows=10**7)
n = int(sys.argv[1])
rows = [np.random.default_rng(i).normal(size=(1, 20)).astype(np.float32) for i in range(n)]
labels = [np.array([i % 2]) for i in range(n)]
for i in range(n):
    log.record("lr", 1, signature, f"0123456789ab-{i}", rows[i], labels[i])
assert log.flush() == n
"""


def instructions(tree: Path, rows: int) -> int:
    out = Path(tempfile.mkdtemp(prefix="mp-logcg-")) / "cg.out"
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                    sys.executable, "-c", CHILD, str(rows)], check=True,
                   env={**os.environ, **side_env(tree)}, capture_output=True)
    return next(int(line.split()[1]) for line in out.read_text().splitlines()
                if line.startswith("totals:"))


def per_row(tree: Path, small: int, large: int) -> float:
    return (instructions(tree, large) - instructions(tree, small)) / (large - small)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="HEAD~1", help="baseline git revision")
    parser.add_argument("--rows", default="2000,12000")
    args = parser.parse_args(argv)
    small, large = (int(n) for n in args.rows.split(","))
    base = per_row(checkout(args.base), small, large)
    head = per_row(REPO, small, large)
    print(f"\n| side | instructions per logged row (record + flush) |\n|---|---:|\n"
          f"| base {args.base} | {base:,.0f} |\n| this tree | {head:,.0f} |\n"
          f"| this tree ÷ base | {head / base:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
