"""``/api/v1/studies/{read,write}``: Optuna's storage contract, for tune workers on any machine.

``lifecycle/remote_studies.ServerStorage`` sends each storage call here as
``POST /studies/read/METHOD`` (a read key) or ``/studies/write/METHOD`` (a write
key) with its arguments as JSON; the server runs it on Optuna's RDB storage on
its own database. Only the methods named below are served (the path names one
of them, never an arbitrary attribute). A study belongs to the request's
project: in a project other than ``default`` it is stored as ``PROJECT`` + ``SEPARATOR`` + ``NAME``,
and a study id or trial id of another project's study answers 404, as a missing
one does.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from litestar import Litestar, Router, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody

from modelport.core.store.projects import DEFAULT_PROJECT
from modelport.errors import ConflictError, InvalidInputError, NotFoundError
from modelport.interfaces.team.access import ProjectStore, needs, project_of
from modelport.interfaces.team.inputs import storable

SEPARATOR = "\x1f"  # between a project and its study's name: a name never holds it


def stored_name(project: str, name: object) -> str:
    """The name a study of ``project`` has in the server's storage: a project other than
    ``default`` prefixes its own, joined by a control character no name may hold."""
    if not isinstance(name, str) or not name or len(name) > 400 or \
            any(ord(c) < 32 for c in name):
        raise InvalidInputError("a study name is 1 to 400 characters, none a control "
                                "character")
    return name if project == DEFAULT_PROJECT else f"{project}{SEPARATOR}{name}"


def visible_name(project: str, stored: str) -> str | None:
    """The name ``project`` knows a stored study by; None if it is another project's."""
    if project == DEFAULT_PROJECT:
        return None if SEPARATOR in stored else stored
    prefix = f"{project}{SEPARATOR}"
    return stored[len(prefix):] if stored.startswith(prefix) else None


@dataclass
class Answer:
    result: Any


class Studies:
    """The server's Optuna storage, with which trial belongs to which study remembered
    (a fact that never changes, so a trial's calls after its first cost no lookup)."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self._trials: dict[int, int] = {}
        self._lock = threading.Lock()

    def study(self, project: str, args: dict[str, Any]) -> int:
        """The ``study_id`` argument, if it names a study of ``project``."""
        study_id = _int(args, "study_id")
        try:
            stored = self.storage.get_study_name_from_id(study_id)
        except KeyError:
            stored = None
        if stored is None or visible_name(project, stored) is None:
            raise NotFoundError(f"study {study_id} not found")
        return study_id

    def trial(self, project: str, args: dict[str, Any]) -> int:
        """The ``trial_id`` argument, if it names a trial of ``study_id``, a study of
        ``project``."""
        study_id, trial_id = self.study(project, args), _int(args, "trial_id")
        if self._trials.get(trial_id) == study_id:
            return trial_id
        try:
            number = self.storage.get_trial_number_from_id(trial_id)
            found = self.storage.get_trial_id_from_study_id_trial_number(study_id, number)
        except KeyError:
            found = None
        if found != trial_id:
            raise NotFoundError(f"trial {trial_id} not found in study {study_id}")
        with self._lock:
            self._trials[trial_id] = study_id
        return trial_id


def _int(args: dict[str, Any], key: str) -> int:
    value = args.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInputError(f"argument {key!r} must be an integer")
    return value


def _str(args: dict[str, Any], key: str) -> str:
    value = args.get(key)
    if not isinstance(value, str):
        raise InvalidInputError(f"argument {key!r} must be text")
    return value


Op = Callable[[Studies, str, dict[str, Any]], Any]


def _reads() -> dict[str, Op]:
    from optuna.trial import TrialState

    from modelport.lifecycle.remote_studies import study_to_json, trial_to_json

    def study_id_from_name(s: Studies, p: str, a: dict[str, Any]) -> int:
        try:
            return int(s.storage.get_study_id_from_name(stored_name(p, a.get("study_name"))))
        except KeyError:
            raise NotFoundError(f"study {a.get('study_name')!r} not found") from None

    def all_trials(s: Studies, p: str, a: dict[str, Any]) -> list[dict[str, Any]]:
        states = a.get("states")
        wanted = None if states is None else tuple(TrialState[n] for n in states)
        return [trial_to_json(t) for t in s.storage.get_all_trials(
            s.study(p, a), deepcopy=False, states=wanted)]

    return {
        "get_study_id_from_name": study_id_from_name,
        "get_study_name_from_id": lambda s, p, a: visible_name(
            p, s.storage.get_study_name_from_id(s.study(p, a))),
        "get_study_directions": lambda s, p, a: [
            d.name for d in s.storage.get_study_directions(s.study(p, a))],
        "get_study_user_attrs": lambda s, p, a: s.storage.get_study_user_attrs(s.study(p, a)),
        "get_study_system_attrs": lambda s, p, a: s.storage.get_study_system_attrs(
            s.study(p, a)),
        "get_all_studies": lambda s, p, a: [
            study_to_json(study, name) for study in s.storage.get_all_studies()
            if (name := visible_name(p, study.study_name)) is not None],
        "get_trial_id_from_study_id_trial_number": lambda s, p, a:
            s.storage.get_trial_id_from_study_id_trial_number(s.study(p, a), _int(a, "number")),
        "get_trial": lambda s, p, a: trial_to_json(s.storage.get_trial(s.trial(p, a))),
        "get_all_trials": all_trials,
    }


def _writes() -> dict[str, Op]:
    from optuna.distributions import json_to_distribution
    from optuna.study import StudyDirection
    from optuna.trial import TrialState

    from modelport.lifecycle.remote_studies import number_from_json, trial_from_json

    def create_study(s: Studies, p: str, a: dict[str, Any]) -> int:
        name = a.get("study_name") or f"no-name-{uuid.uuid4()}"
        directions = [StudyDirection[d] for d in a.get("directions") or ["MINIMIZE"]]
        return int(s.storage.create_new_study(directions, stored_name(p, name)))

    def create_trial(s: Studies, p: str, a: dict[str, Any]) -> int:
        template = a.get("template")
        return int(s.storage.create_new_trial(
            s.study(p, a), None if template is None else trial_from_json(template)))

    def state_values(s: Studies, p: str, a: dict[str, Any]) -> bool:
        values = a.get("values")
        return bool(s.storage.set_trial_state_values(
            s.trial(p, a), TrialState[_str(a, "state")],
            None if values is None else [number_from_json(v) for v in values]))

    return {
        "create_new_study": create_study,
        "delete_study": lambda s, p, a: s.storage.delete_study(s.study(p, a)),
        "set_study_user_attr": lambda s, p, a: s.storage.set_study_user_attr(
            s.study(p, a), _str(a, "key"), a.get("value")),
        "set_study_system_attr": lambda s, p, a: s.storage.set_study_system_attr(
            s.study(p, a), _str(a, "key"), a.get("value")),
        "create_new_trial": create_trial,
        "set_trial_param": lambda s, p, a: s.storage.set_trial_param(
            s.trial(p, a), _str(a, "name"), float(a.get("value")),
            json_to_distribution(_str(a, "distribution"))),
        "set_trial_state_values": state_values,
        "set_trial_intermediate_value": lambda s, p, a: s.storage.set_trial_intermediate_value(
            s.trial(p, a), _int(a, "step"), number_from_json(a.get("value"))),
        "set_trial_user_attr": lambda s, p, a: s.storage.set_trial_user_attr(
            s.trial(p, a), _str(a, "key"), a.get("value")),
        "set_trial_system_attr": lambda s, p, a: s.storage.set_trial_system_attr(
            s.trial(p, a), _str(a, "key"), a.get("value")),
    }


_MAKING = threading.Lock()  # one storage per server: two would race creating Optuna's tables


def _studies(state: State) -> Studies:
    """The server's Optuna storage, made on the first call (Optuna loads only then)."""
    with _MAKING:
        found = state.get("studies")
        if found is None:
            from modelport.lifecycle.studies import rdb_storage

            found = state.studies = Studies(rdb_storage(state.ws, pooled=True))
    return found  # type: ignore[no-any-return]


def close(app: Litestar) -> None:
    """Let the storage's pooled connections go with the app (a server's shutdown, a test's
    client), rather than when the collector finds them."""
    found = app.state.get("studies")
    if found is not None:
        found.storage.remove_session()
        found.storage.engine.dispose()


def _run(ops: dict[str, Op], state: State, store: Any, method: str,
         args: dict[str, Any]) -> Answer:
    from optuna.exceptions import DuplicatedStudyError, UpdateFinishedTrialError

    op = ops.get(method)
    if op is None:
        raise NotFoundError(f"no study call {method[:60]!r} — one of {', '.join(sorted(ops))}")
    storable(args)
    project = project_of(store)
    try:
        return Answer(op(_studies(state), project, args))
    except DuplicatedStudyError:
        raise ConflictError(f"study {args.get('study_name')!r} already exists") from None
    except UpdateFinishedTrialError as exc:
        raise ConflictError(str(exc)) from None
    except KeyError as exc:  # Optuna's word for a missing study or trial, or an argument
        raise NotFoundError(f"not found: {exc}") from None
    except (ValueError, TypeError, AttributeError) as exc:  # arguments Optuna refused
        raise InvalidInputError(f"{method}: {exc}") from None


READS: dict[str, Op] = {}
WRITES: dict[str, Op] = {}


def _ops(table: dict[str, Op], make: Callable[[], dict[str, Op]]) -> dict[str, Op]:
    if not table:
        table.update(make())
    return table


@post("/read/{method:str}", guards=[needs("read")], status_code=200, sync_to_thread=True)
def read(state: State, store: ProjectStore, method: FromPath[str],
         data: JSONBody[dict[str, Any]]) -> Answer:
    """One read of Optuna's storage contract (``get_*``)."""
    return _run(_ops(READS, _reads), state, store, method, data)


@post("/write/{method:str}", guards=[needs("write")], status_code=200, sync_to_thread=True)
def write(state: State, store: ProjectStore, method: FromPath[str],
          data: JSONBody[dict[str, Any]]) -> Answer:
    """One write of Optuna's storage contract (studies, trials, their attributes)."""
    return _run(_ops(WRITES, _writes), state, store, method, data)


router = Router("/api/v1/studies", route_handlers=[read, write], tags=["studies"])
