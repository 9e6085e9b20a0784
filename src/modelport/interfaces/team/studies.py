"""``/api/v1/studies``: tuning studies, their trials and parameter importances, read-only.

A study's name is whatever ``modelport tune --study`` was given, ``/`` included,
so the one-study routes take it as a query parameter, not a path segment.
Studies live in Optuna's storages on the server's own workspace
(``lifecycle.studies``); a key with the ``read`` scope reads its project's, named as
``study_storage`` names them (another project's study answers as a missing one).
"""

from __future__ import annotations

import dataclasses

from litestar import Router, get
from litestar.params import FromQuery

from modelport.interfaces.team.access import ProjectStore, ProjectWorkspace, needs, project_of
from modelport.interfaces.team.inputs import storable_request
from modelport.interfaces.team.study_storage import stored_name, visible_name
from modelport.lifecycle import studies, trials
from modelport.lifecycle.studies import StudySummary
from modelport.lifecycle.trials import Importances, StudyDetail, TrialPage


@get("/", guards=[needs("read")], sync_to_thread=True)
def list_studies(store: ProjectStore, ws: ProjectWorkspace) -> list[StudySummary]:
    """Every study of the project with its trial counts and best values, by name."""
    project = project_of(store)
    return [dataclasses.replace(s, name=name) for s in studies.list_studies(ws=ws)
            if (name := visible_name(project, s.name)) is not None]


@get("/detail", guards=[needs("read")], sync_to_thread=True)
def study_detail(store: ProjectStore, ws: ProjectWorkspace, name: FromQuery[str],
                 limit: FromQuery[int] = 100, points: FromQuery[int] = 1000) -> StudyDetail:
    """The best trials (the best value's, or the Pareto front of a multi-objective study),
    the first ``limit`` trials (values, params, times, run) and the charts' points: each
    objective's history and the Pareto chart's trials, thinned to about ``points``."""
    detail = trials.study_detail(stored_name(project_of(store), name), limit, points, ws=ws)
    return dataclasses.replace(detail, summary=dataclasses.replace(detail.summary, name=name))


@get("/trials", guards=[needs("read")], sync_to_thread=True)
def trial_page(store: ProjectStore, ws: ProjectWorkspace, name: FromQuery[str],
               after: FromQuery[int] = -1, limit: FromQuery[int] = 100) -> TrialPage:
    """The next page of trials: those numbered above ``after``, at most ``limit`` (1-1000);
    ``next_after`` is the ``after`` of the page that follows (None on the last)."""
    return trials.trial_page(stored_name(project_of(store), name), after, limit, ws=ws)


@get("/importances", guards=[needs("read")], sync_to_thread=True)
def importances(store: ProjectStore, ws: ProjectWorkspace, name: FromQuery[str],
                objective: FromQuery[int] = 0) -> Importances:
    """How much each parameter matters to one objective (PED-ANOVA over the complete
    trials, computed on request; asked for apart from the trials)."""
    return trials.param_importances(stored_name(project_of(store), name), objective, ws=ws)


router = Router("/api/v1/studies", route_handlers=[list_studies, study_detail, trial_page,
                                                   importances],
                tags=["studies"], before_request=storable_request)
