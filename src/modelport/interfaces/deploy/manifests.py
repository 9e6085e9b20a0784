"""Which manifests ``modelport k8s`` writes for its targets, read from the registry.

A target is a model reference or an endpoint (``targets``); an endpoint without
``store_secret`` is refused rather than deployed as pods that could never see
their next version.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError
from modelport.interfaces.deploy import kserve as ks
from modelport.interfaces.deploy.kube import DeploySpec, Manifest, serving_objects
from modelport.interfaces.deploy.targets import resolve_targets


def manifests_for(targets: Sequence[str], image: str, *, store_secret: str | None = None,
                  kserve: bool = False, ws: Workspace | None = None, **options: Any
                  ) -> dict[str, list[Manifest]]:
    """File name → the objects it holds: ``NAME.yaml`` per target, and with ``kserve``
    the runtime (``kserve-runtime.yaml``) and ``kserve-NAME.yaml`` per target."""
    ws = current(ws)
    if not targets:
        raise InvalidInputError("name at least one model or endpoint to deploy")
    if not store_secret and not options.get("insecure"):
        raise InvalidInputError(
            "without --store-secret the replicas serve the image's own workspace, which has "
            "no API keys: pass --insecure (a mesh or ingress in front checks callers), or "
            "--store-secret SECRET for a shared store that holds the keys")
    if kserve and not store_secret:
        raise InvalidInputError("--kserve needs --store-secret: KServe starts the modelport "
                                "runtime image, which reads its models from that store")
    files: dict[str, list[Manifest]] = {}
    if kserve:
        files["kserve-runtime.yaml"] = [ks.runtime(image, store_secret or "",
                                                   bool(options.get("insecure")))]
    for target in resolve_targets(targets, ws=ws):
        spec = DeploySpec(target=target.text, image=image, store_secret=store_secret,
                          **options)
        if target.needs_store and not store_secret:
            raise InvalidInputError(
                f"{target.text} is an endpoint: its replicas must share the store its "
                "rollouts change — pass --store-secret SECRET (with MODELPORT_DB_URL)")
        if f"{spec.name}.yaml" in files:
            raise InvalidInputError(f"two targets make the name {spec.name!r} — deploy "
                                    "them one at a time")
        files[f"{spec.name}.yaml"] = serving_objects(spec)
        if kserve:
            files[f"kserve-{spec.name}.yaml"] = [ks.inference_service(spec, target.versions)]
    return files
