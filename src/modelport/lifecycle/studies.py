"""Where studies live: Optuna storages on modelport's own database.

A study is stored next to the runs it made: Optuna's RDB storage on the
workspace's database URL (its tables — ``studies``, ``trials``, … — sit beside
modelport's; each tool keeps its schema revision in a table of its own, Optuna
in ``alembic_version``, modelport in ``modelport_alembic_version``; Optuna's
schema check is skipped because it loads Alembic's scripts for every storage
object, and modelport makes many short-lived ones). Several processes writing one SQLite file hit
"database is locked", so a multi-worker study on SQLite uses Optuna's journal
storage, a file under ``MODELPORT_HOME/studies/`` with the same study name;
on PostgreSQL every worker — on this machine or another — shares the RDB
storage and joins the same study by name. With ``MODELPORT_URL`` set, workers
share it through ``modelport server`` instead (``remote_studies``): they need
a key, not the database's credentials.

A worker killed with ``kill -9`` leaves its trial RUNNING. On PostgreSQL and
SQLite-RDB Optuna's heartbeat marks it failed once it goes stale; the journal
storage has no heartbeat, so each trial records ``host:pid`` and
``fail_dead_trials`` fails the trials whose process is gone (on every storage:
it also covers a worker killed before its first heartbeat).
"""

from __future__ import annotations

import os
import socket
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelport.core.store import short_lived_engine_options
from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError, NotFoundError, require

HEARTBEAT_SECONDS = int(os.environ.get("MODELPORT_TUNE_HEARTBEAT", "10"))
WORKER_ATTR = "modelport_worker"


def optuna() -> Any:
    """Optuna, imported on first use (``import modelport`` stays light)."""
    module = require("optuna", "tune")
    module.logging.set_verbosity(module.logging.WARNING)
    return module


@contextmanager
def quiet() -> Iterator[None]:
    """Silence Optuna's ExperimentalWarning for the features we chose on purpose
    (heartbeats, ``fail_stale_trials``, multivariate TPE) — and nothing else."""
    from optuna.exceptions import ExperimentalWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        yield


def rdb_storage(ws: Workspace, pooled: bool = False) -> Any:
    """Optuna's RDB storage on the workspace database, with a heartbeat for dead workers.
    ``pooled``: keep connections, for a storage that lives as long as its process (the
    team server's), rather than a connect per call."""
    opt = optuna()
    url = ws.settings.db_url
    options = {"pool_pre_ping": True} if pooled and not is_sqlite(ws) else \
        short_lived_engine_options(url)
    with quiet():
        return opt.storages.RDBStorage(
            url, engine_kwargs=options, skip_compatibility_check=True,
            heartbeat_interval=HEARTBEAT_SECONDS, grace_period=2 * HEARTBEAT_SECONDS)


def journal_path(ws: Workspace) -> Path:
    return Path(ws.settings.home) / "studies" / "studies.journal"


def journal_storage(ws: Workspace) -> Any:
    opt = optuna()
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    path = journal_path(ws)
    path.parent.mkdir(parents=True, exist_ok=True)
    return opt.storages.JournalStorage(
        JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))


def server_storage(ws: Workspace) -> Any:
    """The storage of a workspace on ``modelport server``: its REST API (``MODELPORT_URL``)."""
    optuna()
    from modelport.lifecycle.remote_studies import ServerStorage

    return ServerStorage(ws.store.api)  # type: ignore[attr-defined]


def is_sqlite(ws: Workspace) -> bool:
    return ws.settings.db_url.startswith("sqlite")


def _names(storage: Any) -> set[str]:
    return {s.study_name for s in storage.get_all_studies()}


def storage_for(name: str, workers: int, ws: Workspace | None = None) -> Any:
    """The storage study ``name`` lives in, or will, for ``workers`` processes."""
    ws = current(ws)
    if ws.settings.remote:
        return server_storage(ws)
    if not is_sqlite(ws):
        return rdb_storage(ws)
    in_journal = journal_path(ws).exists() and name in _names(journal_storage(ws))
    if in_journal:
        return journal_storage(ws)
    if workers > 1:
        if name in _names(rdb_storage(ws)):
            raise InvalidInputError(
                f"study {name!r} lives in the SQLite database, which several worker processes "
                "cannot share — continue it with --workers 1, or use a new study name")
        return journal_storage(ws)
    return rdb_storage(ws)


def find_study(name: str, ws: Workspace | None = None) -> Any:
    """A stored study by name, from whichever storage holds it."""
    ws = current(ws)
    opt = optuna()
    for storage in _storages(ws):
        if name in _names(storage):
            return opt.load_study(study_name=name, storage=storage)
    raise NotFoundError(f"study {name!r} not found — list studies with: modelport studies list")


def _storages(ws: Workspace) -> list[Any]:
    if ws.settings.remote:
        return [server_storage(ws)]
    found = [rdb_storage(ws)]
    if is_sqlite(ws) and journal_path(ws).exists():
        found.append(journal_storage(ws))
    return found


@dataclass
class StudySummary:
    name: str
    storage: str
    directions: list[str]
    trials: int
    complete: int
    pruned: int
    failed: int
    best_values: list[float] | None
    attrs: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def list_studies(ws: Workspace | None = None) -> list[StudySummary]:
    """Every study of the workspace, in both storages."""
    ws = current(ws)
    opt = optuna()
    out = []
    for storage in _storages(ws):
        kind = "journal" if isinstance(storage, opt.storages.JournalStorage) else "database"
        for frozen in storage.get_all_studies():
            study = opt.load_study(study_name=frozen.study_name, storage=storage)
            out.append(summarize(study, kind))
    return sorted(out, key=lambda s: s.name)


def summarize(study: Any, kind: str = "database") -> StudySummary:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    count = {s: sum(t.state == s for t in trials) for s in TrialState}
    best = None
    if count[TrialState.COMPLETE]:
        best = (list(study.best_trials[0].values) if len(study.directions) > 1
                else [float(study.best_value)])
    return StudySummary(study.study_name, kind, [d.name.lower() for d in study.directions],
                        len(trials), count[TrialState.COMPLETE], count[TrialState.PRUNED],
                        count[TrialState.FAIL], best, dict(study.user_attrs))


def this_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def fail_dead_trials(study: Any) -> list[int]:
    """Mark failed the RUNNING trials whose worker is gone; returns their numbers.

    A trial started on this host whose ``host:pid`` no longer runs is failed at
    once (every storage). On the RDB storage Optuna's heartbeat also fails the
    trials of workers on other machines, once they are stale for the grace period.
    """
    opt = optuna()
    from optuna.trial import TrialState

    before = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))}
    if not isinstance(study._storage, opt.storages.JournalStorage):
        with quiet():
            opt.storages.fail_stale_trials(study)
    host = socket.gethostname()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = str(trial.user_attrs.get(WORKER_ATTR, ""))
        owner_host, _, pid = owner.rpartition(":")
        if owner_host == host and pid.isdigit() and not _alive(int(pid)):
            study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
    after = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))}
    return sorted(after - before)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
