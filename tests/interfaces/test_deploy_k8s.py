"""``modelport k8s``: every object it writes is valid against Kubernetes' and KServe's
schemas, probes gate traffic on warm models, and a stop drains before the kill."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from kube_schemas import validate
from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError
from modelport.interfaces.deploy.kube import DeploySpec, k8s_name, termination_grace_s
from modelport.interfaces.deploy.manifests import manifests_for
from modelport.runtimes.serving.process import GRACE_S

pytestmark = pytest.mark.storage_independent


@pytest.fixture
def registry(ws: Workspace) -> Workspace:
    """iris:1 (scikit-learn) and iris-gbm:1 (LightGBM), and an endpoint on iris."""
    import lightgbm
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from modelport.lifecycle.endpoints import create_endpoint
    from modelport.lifecycle.registry import register_model

    X, y = load_iris(return_X_y=True, as_frame=True)
    register_model("iris", LogisticRegression(max_iter=300).fit(X, y), X=X, ws=ws)
    register_model("iris_GBM", lightgbm.LGBMClassifier(n_estimators=5, verbose=-1).fit(X, y),
                   X=X, ws=ws)
    create_endpoint("front", "iris", ws=ws)
    return ws


def objects(files: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    return {f"{o['kind']}/{o['metadata']['name']}": o for objs in files.values() for o in objs}


def test_every_object_is_valid_for_kubernetes_and_kserve(registry: Workspace) -> None:
    files = manifests_for(["iris:1", "iris_GBM", "front"], "registry.example/iris:1",
                          store_secret="modelport-store", kserve=True, ws=registry,
                          namespace="ml")
    assert sorted(files) == ["front.yaml", "iris-1.yaml", "iris-gbm.yaml", "kserve-front.yaml",
                             "kserve-iris-1.yaml", "kserve-iris-gbm.yaml", "kserve-runtime.yaml"]
    found = objects(files)
    for obj in found.values():
        validate(obj)
    kinds = sorted({key.split("/")[0] for key in found})
    assert kinds == ["ClusterServingRuntime", "Deployment", "HorizontalPodAutoscaler",
                     "InferenceService", "PodDisruptionBudget", "Service"]
    runtime = found["ClusterServingRuntime/modelport"]["spec"]
    assert runtime["protocolVersions"] == ["v1", "v2"]
    assert {"sklearn", "lightgbm", "xgboost", "onnx"} <= {
        f["name"] for f in runtime["supportedModelFormats"]}
    gbm = found["InferenceService/iris-gbm"]["spec"]["predictor"]["model"]
    assert (gbm["modelFormat"]["name"], gbm["runtime"], gbm["args"]) == (
        "lightgbm", "modelport", ["iris_GBM"])
    digest = registry.store.registry.get_version("iris_GBM", 1)["artifact_digest"]
    assert found["InferenceService/iris-gbm"]["metadata"]["annotations"][
        "modelport.io/digests"] == f"sha256:{digest}"


def test_traffic_waits_for_warm_models_and_a_stop_drains(registry: Workspace) -> None:
    deployment = objects(manifests_for(["iris:1"], "img", ws=registry, insecure=True))[
        "Deployment/iris-1"]
    pod = deployment["spec"]["template"]["spec"]
    (serve,) = pod["containers"]
    assert serve["args"][:1] == ["iris:1"]
    for probe in ("startupProbe", "readinessProbe"):
        assert serve[probe]["httpGet"]["path"] == "/v2/health/ready"
    assert serve["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    pause = int(serve["lifecycle"]["preStop"]["exec"]["command"][1])
    # the pause, then serve's whole drain after SIGTERM, all before the kill
    assert pod["terminationGracePeriodSeconds"] == termination_grace_s() > pause + GRACE_S
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] > 0


def test_grpc_beside_http(registry: Workspace) -> None:
    found = objects(manifests_for(["iris"], "img", ws=registry, insecure=True, grpc=True))
    for obj in found.values():
        validate(obj)
    (serve,) = found["Deployment/iris"]["spec"]["template"]["spec"]["containers"]
    assert serve["args"][serve["args"].index("--grpc-port") + 1] == "8001"
    assert [p["name"] for p in serve["ports"]] == ["http", "grpc"]
    grpc = found["Service/iris"]["spec"]["ports"][1]
    assert (grpc["targetPort"], grpc["appProtocol"]) == ("grpc", "kubernetes.io/h2c")


def test_an_endpoint_needs_the_shared_store(registry: Workspace) -> None:
    with pytest.raises(InvalidInputError, match=r"front is an endpoint.*--store-secret"):
        manifests_for(["front"], "img", ws=registry, insecure=True)
    with pytest.raises(InvalidInputError, match="--kserve needs --store-secret"):
        manifests_for(["iris"], "img", kserve=True, ws=registry, insecure=True)
    with pytest.raises(InvalidInputError, match="--replicas must be at least 1"):
        manifests_for(["iris"], "img", ws=registry, replicas=0, insecure=True)
    # a baked image has no keys: serving it on the pod network without them is a choice
    with pytest.raises(InvalidInputError, match="own workspace, which has no API keys"):
        manifests_for(["iris"], "img", ws=registry)


@pytest.mark.parametrize(("text", "name"), [("Iris_v2:3", "iris-v2-3"),
                                            ("3d@champion", "m-3d-champion"),
                                            ("a" * 80, "a" * 63)])
def test_names_are_dns_labels(text: str, name: str) -> None:
    assert k8s_name(text) == name
    validate({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
              "spec": {"ports": [{"port": 80}]}})


def test_a_name_with_nothing_usable_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="cannot make a Kubernetes name"):
        DeploySpec(target="___", image="img")


def test_the_schemas_catch_what_the_api_server_would_drop(registry: Workspace) -> None:
    """The validation is real: a misspelt field or a missing requirement fails."""
    files = manifests_for(["iris"], "img", store_secret="s", kserve=True, ws=registry)
    found = objects(files)
    broken = json.loads(json.dumps(found["Deployment/iris"]))
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(jsonschema.ValidationError, match="readinesProbe"):
        validate(broken)
    isvc = json.loads(json.dumps(found["InferenceService/iris"]))
    del isvc["spec"]["predictor"]["model"]["modelFormat"]
    with pytest.raises(jsonschema.ValidationError, match="'modelFormat' is a required"):
        validate(isvc)
    runtime = json.loads(json.dumps(found["ClusterServingRuntime/modelport"]))
    runtime["spec"]["protocolVersions"] = ["v3"]
    with pytest.raises(jsonschema.ValidationError, match="'v3' is not one of"):
        validate(runtime)


def test_the_command_prints_documents_for_kubectl(registry: Workspace, tmp_path: Path) -> None:
    env = {**os.environ, "MODELPORT_HOME": str(registry.settings.home)}
    env.pop("MODELPORT_DB_URL", None)
    k8s = [sys.executable, "-m", "modelport", "k8s", "--image", "i", "--insecure"]
    result = subprocess.run([*k8s, "iris"],
                            capture_output=True, text=True, env=env, timeout=60, check=True)
    docs = list(yaml.safe_load_all(result.stdout))
    assert [d["kind"] for d in docs] == ["Deployment", "Service", "HorizontalPodAutoscaler",
                                         "PodDisruptionBudget"]
    refused = subprocess.run([*k8s, "nope"],
                             capture_output=True, text=True, env=env, timeout=60, check=False)
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr
    assert "model 'nope'" in refused.stderr
