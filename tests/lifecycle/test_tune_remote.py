"""Tune workers on a workspace of a team server join one study through the server's
journal: no database URL on the client, every trial visible to every worker."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelport.config import Settings
from modelport.core.workspace import Workspace
from modelport.lifecycle.studies import find_study, list_studies, study_report
from modelport.lifecycle.tune import tune
from team_server import team_server

pytest.importorskip("optuna")
pytestmark = pytest.mark.storage_independent  # the server's database is PostgreSQL itself


def test_workers_join_one_study_through_the_server(tmp_path: Path, pg_schema: str) -> None:
    with team_server(Settings(home=tmp_path / "server", db_url=pg_schema)) as (url, key):
        ws = Workspace.open(Settings(home=tmp_path / "client", db_url=url, artifacts_url=url,
                                     token=key))
        space = {"n_estimators": {"type": "int", "low": 80, "high": 100}}
        result = tune("sklearn:digits", "target", "random_forest", space=space, trials=6,
                      cv=3, workers=2, study="shared", name="digits", prune=False, ws=ws)
        assert result.counts["trials"] >= 6 and result.counts["failed"] == 0
        study = find_study("shared", ws=ws)
        assert len({t.user_attrs["modelport_worker"] for t in study.trials}) == 2
        assert result.version is not None and result.version.ref == "digits:1"
        assert [s.name for s in list_studies(ws=ws)] == ["shared"]
        report = study_report("shared", plot=False, ws=ws)
        assert report.best_run_id is not None and len(report.trials) == result.counts["trials"]
        # a second process's view: a fresh client replays the same journal
        again = Workspace.open(Settings(home=tmp_path / "other", db_url=url, artifacts_url=url,
                                        token=key))
        assert [t.values for t in find_study("shared", ws=again).trials] == \
            [t.values for t in study.trials]
        for each in (ws, again):
            each.store.close()  # type: ignore[attr-defined]
            each.artifacts.close()  # type: ignore[attr-defined]
    assert not list((tmp_path / "client").rglob("*.journal"))
    assert not (tmp_path / "client" / "modelport.db").exists()
