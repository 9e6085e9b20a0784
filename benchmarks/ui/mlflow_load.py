"""Fill an MLflow SQLite store with the UI benchmark's runs (run inside MLflow's own venv).

    python mlflow_load.py DB_PATH N_RUNS SEED HISTORY_RUNS STEPS

The runs are the tracking benchmark's (``benchmarks/tracking/systems.make_runs``),
logged through MLflow's client as that benchmark does; the first ``HISTORY_RUNS``
also get a ``loss`` history of ``STEPS`` steps. Prints the experiment id and the
ids of the runs with histories as JSON on the last line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tracking"))

from history import loss
from systems import MlflowSystem, make_runs


def main() -> None:
    from mlflow.entities import Metric

    db, n, seed, history_runs, steps = sys.argv[1], *map(int, sys.argv[2:6])
    system = MlflowSystem(Path(db))
    ids = []
    for i, run in enumerate(make_runs(n, seed)):
        system.log(run)
        if i < history_runs:
            run_id = system.client.search_runs(
                [system.exp_id], filter_string=f"attributes.run_name = '{run.name}'")[0].info.run_id
            now = int(time.time() * 1000)
            for start in range(0, steps, 1000):  # MLflow takes 1,000 metrics per batch
                batch = range(start, min(steps, start + 1000))
                system.client.log_batch(run_id, metrics=[Metric("loss", loss(i, s), now, s)
                                                         for s in batch])
            ids.append(run_id)
    print(json.dumps({"experiment": system.exp_id, "history_ids": ids}))


if __name__ == "__main__":
    main()
