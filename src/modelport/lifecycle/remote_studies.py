"""Studies through ``modelport server``: an Optuna storage that is a client of its REST API.

With ``MODELPORT_URL`` set, ``modelport tune`` workers on any number of machines
join one study by name through the server, which keeps it in Optuna's RDB
storage on its own database — so workers need a key, not database credentials,
and the key's role and projects are checked on every call. Each storage method
is one ``POST /api/v1/studies/{read|write}/METHOD`` with the arguments as JSON;
trials and studies travel as the plain JSON ``trial_to_json`` / ``study_to_json``
write (distributions in Optuna's own JSON form, parameters in their internal
numeric form, non-finite numbers as text) and come back as Optuna's objects.

Why not Optuna's ``GrpcStorageProxy`` (Optuna ≥ 4.2): its client opens an
insecure channel with no way to attach a key, and its server would be a second
listener beside the team server with no place for the key, role and project
checks every other call gets. One route on the server the workers already talk
to keeps one port, one auth path and one audit log.

Optuna's heartbeat is not offered through the server; a worker killed on this
machine is failed by ``studies.fail_dead_trials`` (its ``host:pid``), as on the
journal storage.
"""

from __future__ import annotations

import math
from collections.abc import Container, Sequence
from datetime import datetime
from typing import Any

from optuna.distributions import (
    BaseDistribution,
    distribution_to_json,
    json_to_distribution,
)
from optuna.exceptions import DuplicatedStudyError, UpdateFinishedTrialError
from optuna.storages import BaseStorage
from optuna.study import StudyDirection
from optuna.study._frozen import FrozenStudy
from optuna.trial import FrozenTrial, TrialState

from modelport.errors import ConflictError, NotFoundError


def number_to_json(value: float | None) -> float | str | None:
    """A float JSON can carry: ``inf``, ``-inf`` and ``nan`` as text."""
    return value if value is None or math.isfinite(value) else str(value)


def number_from_json(value: float | str | None) -> float | None:
    return None if value is None else float(value)


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _untime(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def trial_to_json(trial: FrozenTrial) -> dict[str, Any]:
    dists = trial.distributions
    return {
        "number": trial.number, "state": trial.state.name, "trial_id": trial._trial_id,
        "values": None if trial.values is None else [number_to_json(v) for v in trial.values],
        "datetime_start": _time(trial.datetime_start),
        "datetime_complete": _time(trial.datetime_complete),
        "params": {k: dists[k].to_internal_repr(v) for k, v in trial.params.items()},
        "distributions": {k: distribution_to_json(d) for k, d in dists.items()},
        "user_attrs": trial.user_attrs, "system_attrs": trial.system_attrs,
        "intermediate_values": {str(step): number_to_json(v)
                                for step, v in trial.intermediate_values.items()},
    }


def trial_from_json(data: dict[str, Any]) -> FrozenTrial:
    dists = {k: json_to_distribution(v) for k, v in data["distributions"].items()}
    values = data["values"]
    return FrozenTrial(
        number=int(data["number"]), state=TrialState[data["state"]], value=None,
        values=None if values is None else [float(v) for v in values],
        datetime_start=_untime(data["datetime_start"]),
        datetime_complete=_untime(data["datetime_complete"]),
        params={k: dists[k].to_external_repr(v) for k, v in data["params"].items()},
        distributions=dists, user_attrs=data["user_attrs"], system_attrs=data["system_attrs"],
        intermediate_values={int(k): number_from_json(v)  # type: ignore[misc]
                             for k, v in data["intermediate_values"].items()},
        trial_id=int(data["trial_id"]))


def study_to_json(study: FrozenStudy, name: str) -> dict[str, Any]:
    return {"study_name": name, "directions": [d.name for d in study.directions],
            "user_attrs": study.user_attrs, "system_attrs": study.system_attrs,
            "study_id": study._study_id}


def study_from_json(data: dict[str, Any]) -> FrozenStudy:
    return FrozenStudy(study_name=data["study_name"], direction=None,
                       directions=[StudyDirection[d] for d in data["directions"]],
                       user_attrs=data["user_attrs"], system_attrs=data["system_attrs"],
                       study_id=int(data["study_id"]))


class ServerStorage(BaseStorage):
    """Optuna's storage contract over a ``modelport server`` (``api``: the workspace's
    REST store connection). Thread-safe as its HTTP client is."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self._study_of: dict[int, int] = {}  # trial id -> its study's id, as learned

    def _read(self, method: str, **args: Any) -> Any:
        try:
            return self.api.call("POST", f"/studies/read/{method}", args)["result"]
        except NotFoundError as exc:  # Optuna's contract: a missing study or trial
            raise KeyError(str(exc)) from None

    def _write(self, method: str, **args: Any) -> Any:
        try:
            return self.api.call("POST", f"/studies/write/{method}", args)["result"]
        except NotFoundError as exc:
            raise KeyError(str(exc)) from None

    def _trial(self, trial_id: int) -> dict[str, int]:
        """A trial as the server names it: with its study, so the project can be checked."""
        if trial_id not in self._study_of:
            raise KeyError(f"trial {trial_id} is not one of the studies this worker joined")
        return {"study_id": self._study_of[trial_id], "trial_id": trial_id}

    def _learn(self, study_id: int, trials: Sequence[FrozenTrial]) -> None:
        for trial in trials:
            self._study_of[trial._trial_id] = study_id

    # -- studies
    def create_new_study(self, directions: Sequence[StudyDirection],
                         study_name: str | None = None) -> int:
        try:
            return int(self._write("create_new_study", directions=[d.name for d in directions],
                                   study_name=study_name))
        except ConflictError as exc:
            raise DuplicatedStudyError(str(exc)) from None

    def delete_study(self, study_id: int) -> None:
        self._write("delete_study", study_id=study_id)

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        self._write("set_study_user_attr", study_id=study_id, key=key, value=value)

    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        self._write("set_study_system_attr", study_id=study_id, key=key, value=value)

    def get_study_id_from_name(self, study_name: str) -> int:
        return int(self._read("get_study_id_from_name", study_name=study_name))

    def get_study_name_from_id(self, study_id: int) -> str:
        return str(self._read("get_study_name_from_id", study_id=study_id))

    def get_study_directions(self, study_id: int) -> list[StudyDirection]:
        return [StudyDirection[d] for d in self._read("get_study_directions",
                                                      study_id=study_id)]

    def get_study_user_attrs(self, study_id: int) -> dict[str, Any]:
        return dict(self._read("get_study_user_attrs", study_id=study_id))

    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        return dict(self._read("get_study_system_attrs", study_id=study_id))

    def get_all_studies(self) -> list[FrozenStudy]:
        return [study_from_json(s) for s in self._read("get_all_studies")]

    # -- trials
    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        template = None if template_trial is None else trial_to_json(template_trial)
        trial_id = int(self._write("create_new_trial", study_id=study_id, template=template))
        self._study_of[trial_id] = study_id
        return trial_id

    def set_trial_param(self, trial_id: int, param_name: str, param_value_internal: float,
                        distribution: BaseDistribution) -> None:
        self._finished_is_an_error("set_trial_param", trial_id, name=param_name,
                                   value=param_value_internal,
                                   distribution=distribution_to_json(distribution))

    def get_trial_id_from_study_id_trial_number(self, study_id: int, trial_number: int) -> int:
        trial_id = int(self._read("get_trial_id_from_study_id_trial_number",
                                  study_id=study_id, number=trial_number))
        self._study_of[trial_id] = study_id
        return trial_id

    def set_trial_state_values(self, trial_id: int, state: TrialState,
                               values: Sequence[float] | None = None) -> bool:
        return bool(self._finished_is_an_error(
            "set_trial_state_values", trial_id, state=state.name,
            values=None if values is None else [number_to_json(v) for v in values]))

    def set_trial_intermediate_value(self, trial_id: int, step: int,
                                     intermediate_value: float) -> None:
        self._finished_is_an_error("set_trial_intermediate_value", trial_id, step=step,
                                   value=number_to_json(intermediate_value))

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._finished_is_an_error("set_trial_user_attr", trial_id, key=key, value=value)

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._finished_is_an_error("set_trial_system_attr", trial_id, key=key, value=value)

    def get_trial(self, trial_id: int) -> FrozenTrial:
        return trial_from_json(self._read("get_trial", **self._trial(trial_id)))

    def get_all_trials(self, study_id: int, deepcopy: bool = True,
                       states: Container[TrialState] | None = None) -> list[FrozenTrial]:
        wanted = None if states is None else [s.name for s in TrialState if s in states]
        trials = [trial_from_json(t) for t in self._read("get_all_trials", study_id=study_id,
                                                         states=wanted)]
        self._learn(study_id, trials)
        return trials

    def _finished_is_an_error(self, method: str, trial_id: int, **args: Any) -> Any:
        try:
            return self._write(method, **self._trial(trial_id), **args)
        except ConflictError as exc:  # the trial has finished: Optuna's own error for it
            raise UpdateFinishedTrialError(str(exc)) from None
