"""``/api/v1/studies``: tuning studies, their trials and parameter importances, read-only.

A study's name is whatever ``modelport tune --study`` was given, ``/`` included,
so the one-study routes take it as a query parameter, not a path segment.
Studies live in Optuna's storages on the server's own workspace
(``lifecycle.studies``); a key with the ``read`` scope reads them.
"""

from __future__ import annotations

from litestar import Router, get
from litestar.datastructures import State
from litestar.params import FromQuery

from modelport.interfaces.team.access import needs
from modelport.interfaces.team.inputs import storable_request
from modelport.lifecycle import studies, trials
from modelport.lifecycle.studies import StudySummary
from modelport.lifecycle.trials import Importances, StudyDetail


@get("/", guards=[needs("read")], sync_to_thread=True)
def list_studies(state: State) -> list[StudySummary]:
    """Every study with its trial counts and best values, by name."""
    return studies.list_studies(ws=state.ws)


@get("/detail", guards=[needs("read")], sync_to_thread=True)
def study_detail(state: State, name: FromQuery[str]) -> StudyDetail:
    """Every trial (values, params, times, run) and the best trials: the best value's, or
    the Pareto front of a multi-objective study."""
    return trials.study_detail(name, ws=state.ws)


@get("/importances", guards=[needs("read")], sync_to_thread=True)
def importances(state: State, name: FromQuery[str], objective: FromQuery[int] = 0
                ) -> Importances:
    """How much each parameter matters to one objective (PED-ANOVA over the complete
    trials, computed on request; asked for apart from the trials)."""
    return trials.param_importances(name, objective, ws=state.ws)


router = Router("/api/v1/studies", route_handlers=[list_studies, study_detail, importances],
                tags=["studies"], before_request=storable_request)
