"""KServe: modelport as a ``ClusterServingRuntime``, and an ``InferenceService`` per model.

KServe starts the runtime's container for each InferenceService that names it,
appending the service's own container arguments — here the model reference — to
the runtime's. modelport reads the version from its store (the Secret the runtime
names), checks its digest and serves it on KServe's port with the v1 and v2 (OIP)
protocols, so no storage initializer and no ``storageUri`` are involved: what is
served is exactly the registered bytes. ``autoSelect`` stays off, so the runtime
never takes over a service that did not ask for it by name.
"""

from __future__ import annotations

from collections.abc import Sequence

from modelport.config import VERSION
from modelport.interfaces.deploy import kube
from modelport.interfaces.deploy.kube import DeploySpec, Manifest, termination_grace_s
from modelport.lifecycle.registry import ModelVersion

RUNTIME = "modelport"
KSERVE_PORT = 8080  # the port KServe routes to in a runtime's container
# KServe's names for the formats it knows; modelport's other formats go by "modelport"
KSERVE_FORMATS = {"sklearn": "sklearn", "lightgbm": "lightgbm", "xgboost": "xgboost",
                  "onnx": "onnx"}
OWN_FORMAT = "modelport"


def runtime(image: str, store_secret: str, insecure: bool = False) -> Manifest:
    """The cluster-wide runtime; ``insecure``: serve without keys (KServe's ingress or a
    mesh checks callers), else the store's API keys are required."""
    spec = DeploySpec(target=RUNTIME, image=image, store_secret=store_secret)
    args = ["--host", "0.0.0.0", "--port", str(KSERVE_PORT)]
    container = kube.container(spec, args + (["--insecure"] if insecure else []),
                               KSERVE_PORT, name="kserve-container")
    formats = [*dict.fromkeys(KSERVE_FORMATS.values()), OWN_FORMAT]
    return {
        "apiVersion": "serving.kserve.io/v1alpha1", "kind": "ClusterServingRuntime",
        "metadata": {"name": RUNTIME, "labels": {"app.kubernetes.io/name": "modelport",
                                                 "app.kubernetes.io/version": VERSION}},
        "spec": {
            "supportedModelFormats": [{"name": f, "version": "1", "autoSelect": False}
                                      for f in formats],
            "protocolVersions": ["v1", "v2"],
            "multiModel": False,
            "annotations": {"prometheus.io/scrape": "true",
                            "prometheus.io/port": str(KSERVE_PORT),
                            "prometheus.io/path": "/metrics"},
            "containers": [container],
        },
    }


def inference_service(spec: DeploySpec, versions: Sequence[ModelVersion]) -> Manifest:
    """The InferenceService of ``spec.target`` — a model reference, or an endpoint whose
    policy holds ``versions`` — served by the ``modelport`` runtime."""
    formats = {KSERVE_FORMATS.get(v.format, OWN_FORMAT) for v in versions}
    meta: Manifest = {"name": spec.name,
                      "annotations": {"serving.kserve.io/deploymentMode": "RawDeployment",
                                      "modelport.io/versions": ",".join(v.ref for v in versions),
                                      "modelport.io/digests": ",".join(
                                          f"sha256:{v.artifact_digest}" for v in versions)},
                      "labels": {"app.kubernetes.io/name": "modelport"}}
    if spec.namespace:
        meta["namespace"] = spec.namespace
    return {
        "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
        "metadata": meta,
        "spec": {"predictor": {
            "minReplicas": spec.replicas, "maxReplicas": spec.max_replicas,
            "terminationGracePeriodSeconds": termination_grace_s(),
            "model": {
                # one KServe format when every version has it, else modelport's own
                "modelFormat": {"name": formats.pop() if len(formats) == 1 else OWN_FORMAT,
                                "version": "1"},
                "runtime": RUNTIME, "protocolVersion": "v2",
                "args": [spec.target],  # appended to the runtime's: what to serve
                "resources": {"requests": {"cpu": spec.cpu, "memory": spec.memory},
                              "limits": {"memory": spec.memory_limit}},
            },
        }},
    }
