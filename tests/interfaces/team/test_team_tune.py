"""Remote tune: ``modelport tune`` on two machines joins one study through a live server
on PostgreSQL; the study holds both workers' trials, none twice, in the key's project."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from modelport.config import Settings
from modelport.core.keys import create_key
from modelport.core.store.rest import RestStore
from modelport.core.workspace import Workspace
from modelport.lifecycle.remote_studies import ServerStorage
from modelport.lifecycle.studies import WORKER_ATTR
from team_server import team_server

TUNE = ["tune", "--data", "sklearn:iris", "--target", "target", "--model", "knn", "--cv", "2",
        "--trials", "8", "--study", "shared", "--json"]


def _machine(home: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """``modelport tune`` as a second machine runs it: its own home, the server's URL."""
    return subprocess.Popen([sys.executable, "-m", "modelport", *TUNE], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **env, "MODELPORT_HOME": str(home)})


def test_workers_on_two_machines_join_one_study(pg_schema: str, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "server", db_url=pg_schema)
    _, tuner = create_key("tuner", ["write"], ws=Workspace.open(settings), projects=["vision"])
    with team_server(settings) as (url, admin):
        env = {"MODELPORT_URL": url, "MODELPORT_TOKEN": tuner, "MODELPORT_PROJECT": "vision"}
        machines = [_machine(tmp_path / f"machine{i}", env) for i in (1, 2)]
        outputs = [m.communicate(timeout=300) for m in machines]
        for machine, (out, err) in zip(machines, outputs, strict=True):
            assert machine.returncode == 0, err
            assert json.loads(out)["study"] == "shared"
        store = RestStore(url, admin, "vision")
        study = optuna.load_study(study_name="shared", storage=ServerStorage(store.api))
        trials = study.get_trials(deepcopy=False)
        workers = {t.user_attrs[WORKER_ATTR] for t in trials}
        assert len(workers) == 2  # both machines' trials are in the one study
        assert sorted(t.number for t in trials) == list(range(len(trials)))  # none twice
        assert len({t._trial_id for t in trials}) == len(trials) >= 8
        run_ids = [t.user_attrs["run_id"] for t in trials if "run_id" in t.user_attrs]
        assert len(set(run_ids)) == len(run_ids) and run_ids
        assert [r.id for r in store.runs.get_runs(run_ids)] == run_ids  # in vision's runs
        store.close()
        default = RestStore(url, admin)  # the study is vision's: the default project's
        assert [s.study_name for s in ServerStorage(default.api).get_all_studies()] == []
        assert default.runs.get_runs(run_ids) == []
        default.close()


def test_a_key_without_the_project_cannot_join(pg_schema: str, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "server", db_url=pg_schema)
    _, outsider = create_key("outsider", ["write"], ws=Workspace.open(settings),
                             projects=["other"])
    _, reader = create_key("reader", ["read"], ws=Workspace.open(settings))
    with team_server(settings) as (url, _):
        for key, said in ((outsider, "project 'vision' not found"), (reader, "may not write")):
            env = {"MODELPORT_URL": url, "MODELPORT_TOKEN": key, "MODELPORT_PROJECT": "vision"}
            machine = _machine(tmp_path / "machine", env)
            _, err = machine.communicate(timeout=300)
            assert machine.returncode == 1 and said in err, err


@pytest.mark.parametrize("method", ["get_trial", "set_trial_user_attr"])
def test_a_trial_of_another_projects_study_is_absent(pg_schema: str, tmp_path: Path,
                                                     method: str) -> None:
    settings = Settings(home=tmp_path / "server", db_url=pg_schema)
    with team_server(settings) as (url, admin):
        vision, other = RestStore(url, admin, "vision"), RestStore(url, admin, "other")
        mine = ServerStorage(vision.api)
        study_id = mine.create_new_study([optuna.study.StudyDirection.MAXIMIZE], "s")
        trial_id = mine.create_new_trial(study_id)
        args = {"study_id": study_id, "trial_id": trial_id, "key": "k", "value": 1}
        kind = "read" if method.startswith("get") else "write"
        with pytest.raises(Exception, match=f"study {study_id} not found") as caught:
            other.api.call("POST", f"/studies/{kind}/{method}", args)
        assert getattr(caught.value, "status", None) == 404
        assert ServerStorage(other.api).get_all_studies() == []
        with pytest.raises(KeyError):
            ServerStorage(other.api).get_study_id_from_name("s")
        assert mine.get_trial(trial_id).user_attrs == {}
        vision.close()
        other.close()
