"""The Helm chart of ``modelport server``: its templates render to valid Kubernetes objects.

Helm itself is not installable here (neither apt nor PyPI has it), so the templates are
rendered by ``render`` below — which accepts only the small part of Helm's language the
chart promises to use (``{{ .Values.a.b }}``, ``{{ .Release.Name }}``,
``{{ .Chart.AppVersion }}``, each optionally ``| quote``) and fails on anything else, so
the chart cannot drift into constructs this test would not understand.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kube_schemas import validate
from modelport.config import VERSION
from modelport.interfaces.deploy.chart import write_chart

ACTION = re.compile(r"{{-?\s*(.*?)\s*-?}}")
LOOKUP = re.compile(r"\.(Values|Release|Chart)((?:\.[A-Za-z_][A-Za-z0-9_]*)+)(\s*\|\s*quote)?")


def render(template: str, values: dict[str, Any], chart: dict[str, Any], release: str) -> str:
    scopes = {"Values": values, "Release": {"Name": release},
              "Chart": {"AppVersion": chart["appVersion"], "Version": chart["version"]}}

    def one(match: re.Match[str]) -> str:
        found = LOOKUP.fullmatch(match.group(1))
        if found is None:
            raise AssertionError(f"outside the chart's template subset: {match.group(0)}")
        value: Any = scopes[found.group(1)]
        for key in found.group(2).strip(".").split("."):
            if not isinstance(value, dict) or key not in value:
                raise AssertionError(f"{match.group(0)}: no such value")
            value = value[key]
        text = str(value).lower() if isinstance(value, bool) else str(value)
        return json.dumps(text) if found.group(3) else text

    return ACTION.sub(one, template)


@pytest.fixture(scope="module")
def chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("chart") / "modelport-server"
    write_chart(out)
    return out


def rendered(chart: Path, values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    merged = yaml.safe_load((chart / "values.yaml").read_text()) | (values or {})
    docs = []
    for template in sorted((chart / "templates").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(render(template.read_text(), merged, meta, "rel"))
                 if d]
    return docs


def test_the_chart_renders_valid_objects(chart: Path) -> None:
    docs = rendered(chart)
    assert sorted(d["kind"] for d in docs) == ["Deployment", "PodDisruptionBudget", "Service"]
    for doc in docs:
        validate(doc)
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    (server,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in server["env"]}
    assert env["MODELPORT_DB_URL"]["value"] == \
        "postgresql+psycopg://modelport@postgresql:5432/modelport"
    # the password never sits in values or the URL: libpq reads it from the Secret
    assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "modelport-postgresql",
                                                              "key": "password"}
    assert env["MODELPORT_ARTIFACTS_URL"]["value"] == "s3://modelport-artifacts"
    assert server["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert server["command"] + server["args"][:1] == ["modelport", "server"]


def test_values_reach_the_objects(chart: Path) -> None:
    values = yaml.safe_load((chart / "values.yaml").read_text())
    values["postgresql"] |= {"host": "pg.db.svc", "port": 6432, "database": "mp"}
    values["replicaCount"] = 4
    docs = rendered(chart, values)
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    assert deployment["spec"]["replicas"] == 4
    (server,) = deployment["spec"]["template"]["spec"]["containers"]
    url = {e["name"]: e.get("value") for e in server["env"]}["MODELPORT_DB_URL"]
    assert url == "postgresql+psycopg://modelport@pg.db.svc:6432/mp"


def test_the_chart_is_this_version_and_the_renderer_is_strict(chart: Path) -> None:
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    assert meta["appVersion"] == VERSION
    notes = render((chart / "templates" / "NOTES.txt").read_text(), {}, meta, "rel")
    assert "deployment/rel-modelport-server" in notes
    with pytest.raises(AssertionError, match="outside the chart's template subset"):
        render("{{ toYaml .Values.resources }}", {}, {"appVersion": "", "version": ""}, "r")


def test_the_command_writes_the_chart_once(tmp_path: Path) -> None:
    out = tmp_path / "chart"
    run = [sys.executable, "-m", "modelport", "chart", "--out", str(out)]
    env = {**os.environ, "MODELPORT_HOME": str(tmp_path / "home")}
    subprocess.run(run, capture_output=True, text=True, env=env, timeout=60, check=True)
    assert sorted(p.name for p in (out / "templates").iterdir()) == [
        "NOTES.txt", "deployment.yaml", "pdb.yaml", "service.yaml"]
    again = subprocess.run(run, capture_output=True, text=True, env=env, timeout=60,
                           check=False)
    assert again.returncode == 1 and "is not an empty directory" in again.stderr
