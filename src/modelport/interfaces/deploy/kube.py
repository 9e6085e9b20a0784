"""Kubernetes objects for ``modelport serve`` replicas: Deployment, Service, HPA, PDB.

Replicas are stateless: a baked image carries its versions; an image built with
``--pull-at-start`` reads them — and endpoints, keys and rollouts — from the store
a Secret names (``MODELPORT_DB_URL``, ``MODELPORT_ARTIFACTS_URL``). A pod is put
behind the Service only when ``/v2/health/ready`` answers, which is after its
models are loaded and warmed; a slow warm-up gets a startup probe's patience
instead of a liveness kill. On a stop, the pod first leaves the Service's
endpoints (the preStop pause lets every proxy notice) and then gets serve's whole
drain on SIGTERM: ``terminationGracePeriodSeconds`` covers both.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from modelport.errors import InvalidInputError
from modelport.interfaces.deploy.image import GRPC_PORT, PORT, READY_PATH, UID
from modelport.runtimes.serving.process import GRACE_S

LIVE_PATH = "/v2/health/live"
PRESTOP_S = 5  # for kube-proxy and ingresses to drop the pod before it stops accepting
STOP_MARGIN_S = 10  # serve's own wait for its workers past GRACE_S, plus slack
Manifest = dict[str, Any]


@dataclass
class DeploySpec:
    """What to run: ``target`` (model reference or endpoint name) in ``image``."""

    target: str
    image: str
    name: str = ""  # the objects' name; default: from the target
    namespace: str | None = None
    replicas: int = 2
    max_replicas: int = 10
    cpu_target: int = 70  # average CPU utilisation the autoscaler keeps, %
    cpu: str = "500m"
    memory: str = "512Mi"
    memory_limit: str = "1Gi"
    store_secret: str | None = None  # a Secret holding MODELPORT_DB_URL and friends
    insecure: bool = False
    grpc: bool = False  # also OIP over gRPC (an image built with --grpc)

    def __post_init__(self) -> None:
        self.name = k8s_name(self.name or self.target)
        if not 1 <= self.replicas <= self.max_replicas:
            raise InvalidInputError("--replicas must be at least 1 and at most --max-replicas")
        if not 1 <= self.cpu_target <= 100:
            raise InvalidInputError("--cpu-target is a percentage, 1 to 100")


def k8s_name(text: str) -> str:
    """``text`` as a DNS-1035 label (what Service and InferenceService names must be):
    ``Iris_v2:3`` → ``iris-v2-3``, ``3d@champion`` → ``m-3d-champion``."""
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if name[:1].isdigit():
        name = f"m-{name}"
    name = name[:63].rstrip("-")
    if not name:
        raise InvalidInputError(f"cannot make a Kubernetes name of {text!r} — pass --name")
    return name


def termination_grace_s() -> int:
    """The preStop pause, serve's drain after SIGTERM, and its wait for the workers."""
    return PRESTOP_S + math.ceil(GRACE_S) + STOP_MARGIN_S


def serving_objects(spec: DeploySpec) -> list[Manifest]:
    """Deployment, Service, HorizontalPodAutoscaler and PodDisruptionBudget."""
    return [deployment(spec), service(spec), autoscaler(spec), disruption_budget(spec)]


def _meta(spec: DeploySpec, **extra: Any) -> Manifest:
    meta: Manifest = {"name": spec.name, "labels": labels(spec), **extra}
    if spec.namespace:
        meta["namespace"] = spec.namespace
    return meta


def labels(spec: DeploySpec) -> dict[str, str]:
    return {"app.kubernetes.io/name": "modelport", "app.kubernetes.io/instance": spec.name,
            "app.kubernetes.io/component": "serving"}


def probe(path: str, period_s: int, failures: int) -> Manifest:
    return {"httpGet": {"path": path, "port": "http"}, "periodSeconds": period_s,
            "timeoutSeconds": 2, "failureThreshold": failures}


def container(spec: DeploySpec, args: list[str], port: int, name: str = "modelport"
              ) -> Manifest:
    """The serve container: probes, graceful stop, resources, no privileges."""
    out: Manifest = {
        "name": name, "image": spec.image, "args": args,
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"},
                  *([{"name": "grpc", "containerPort": GRPC_PORT, "protocol": "TCP"}]
                    if spec.grpc else [])],
        # startup: up to 5 minutes to load and warm; then readiness gates traffic
        "startupProbe": probe(READY_PATH, 2, 150),
        "readinessProbe": probe(READY_PATH, 5, 2),
        "livenessProbe": probe(LIVE_PATH, 10, 3),
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(PRESTOP_S)]}}},
        "resources": {"requests": {"cpu": spec.cpu, "memory": spec.memory},
                      "limits": {"memory": spec.memory_limit}},
        "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                            "capabilities": {"drop": ["ALL"]}},
    }
    if spec.store_secret:
        out["envFrom"] = [{"secretRef": {"name": spec.store_secret}}]
    return out


def serve_args(spec: DeploySpec) -> list[str]:
    args = [spec.target, "--host", "0.0.0.0", "--port", str(PORT)]
    args += ["--grpc-port", str(GRPC_PORT)] if spec.grpc else []
    return args + (["--insecure"] if spec.insecure else [])


def deployment(spec: DeploySpec) -> Manifest:
    selector = labels(spec)
    pod_spec: Manifest = {
        "terminationGracePeriodSeconds": termination_grace_s(),
        "securityContext": {"runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID,
                            "fsGroup": UID, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container(spec, serve_args(spec), PORT)],
    }
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(spec),
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": selector},
            # a new pod is ready (models warm) before an old one goes: no capacity dip
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": selector, "annotations": {
                    "prometheus.io/scrape": "true", "prometheus.io/port": str(PORT),
                    "prometheus.io/path": "/metrics"}},
                "spec": pod_spec,
            },
        },
    }


def service(spec: DeploySpec) -> Manifest:
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(spec),
            "spec": {"type": "ClusterIP", "selector": labels(spec),
                     "ports": [{"name": "http", "port": 80, "targetPort": "http",
                                "protocol": "TCP"},
                               *([{"name": "grpc", "port": GRPC_PORT, "targetPort": "grpc",
                                   "protocol": "TCP", "appProtocol": "kubernetes.io/h2c"}]
                                 if spec.grpc else [])]}}


def autoscaler(spec: DeploySpec) -> Manifest:
    return {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(spec),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                               "name": spec.name},
            "minReplicas": spec.replicas, "maxReplicas": spec.max_replicas,
            "metrics": [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization",
                                          "averageUtilization": spec.cpu_target}}}],
            # scale down slowly: a replica warms its models before it takes traffic
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
        },
    }


def disruption_budget(spec: DeploySpec) -> Manifest:
    """Voluntary evictions (node drains, upgrades) take one replica at a time."""
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": _meta(spec),
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": labels(spec)}}}
