"""``modelport build``, ``modelport k8s`` and ``modelport chart``: images and clusters."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from modelport.errors import InvalidInputError
from modelport.interfaces.cli.render import console


def register(app: typer.Typer) -> None:
    app.command("build")(build)
    app.command("k8s")(k8s)
    app.command("chart")(chart)


def build(
    out: Annotated[Path, typer.Option(help="New directory for the build context.")],
    refs: Annotated[list[str] | None, typer.Argument(
        help="Models or endpoints to serve (NAME, NAME:VERSION, NAME@ALIAS).")] = None,
    runtime: Annotated[str, typer.Option(help="auto, native or onnx (as for serve).")] = "auto",
    pull_at_start: Annotated[str | None, typer.Option(
        help="Put no model in the image: the container reads this store URL when it "
             "starts (postgresql+psycopg://…, https://modelport-server…).")] = None,
    artifacts_url: Annotated[str | None, typer.Option(
        help="With a database --pull-at-start: the shared artifact store URL.")] = None,
    insecure: Annotated[bool, typer.Option(
        help="Serve without API keys (a mesh or ingress in front checks callers).")] = False,
    grpc: Annotated[bool, typer.Option(
        help="Also answer OIP over gRPC on port 8001 (serve --grpc-port).")] = False,
    wheel: Annotated[Path | None, typer.Option(
        help="modelport's wheel to install (default: modelport==VERSION from the index).")
    ] = None,
    server: Annotated[bool, typer.Option(
        help="The image of `modelport server` (for the Helm chart) instead: no model.")
    ] = False,
) -> None:
    """Write a container build context (Dockerfile, pinned requirements, the models by
    digest) for docker/podman/buildah build."""
    from modelport.interfaces.deploy.image import ImageSpec, build_context, server_context

    if server:
        if refs:
            raise InvalidInputError("--server builds the team server's image: name no model")
        ctx = server_context(out, wheel)
        console.print(f"build context of modelport server in {out}; "
                      f"{len(ctx.requirements)} pinned requirements", soft_wrap=True)
        return
    spec = ImageSpec(refs=refs or [], runtime=runtime, pull_at_start=pull_at_start,
                     artifacts_url=artifacts_url, insecure=insecure, wheel=wheel, grpc=grpc)
    ctx = build_context(spec, out)
    served = ", ".join(f"{v.ref} ({v.format}, sha256:{v.artifact_digest[:12]}…)"
                       for v in ctx.versions)
    console.print(f"build context in {out}: {served}; {len(ctx.requirements)} pinned "
                  f"requirements", soft_wrap=True)
    console.print(f"build it with: buildah bud -t NAME {out}  (or docker/podman build)",
                  soft_wrap=True, markup=False)


def k8s(
    targets: Annotated[list[str], typer.Argument(
        help="Model references or endpoint names; each gets its own Deployment.")],
    image: Annotated[str, typer.Option(help="The image `modelport build` made.")],
    out: Annotated[Path | None, typer.Option(
        help="Directory for the manifests (default: print them for kubectl apply -f -).")
    ] = None,
    namespace: Annotated[str | None, typer.Option(help="Namespace of the objects.")] = None,
    replicas: Annotated[int, typer.Option(help="Fewest replicas.")] = 2,
    max_replicas: Annotated[int, typer.Option(help="Most replicas (autoscaler).")] = 10,
    cpu: Annotated[str, typer.Option(help="CPU request per replica.")] = "500m",
    memory: Annotated[str, typer.Option(help="Memory request per replica.")] = "512Mi",
    memory_limit: Annotated[str, typer.Option(help="Memory limit per replica.")] = "1Gi",
    store_secret: Annotated[str | None, typer.Option(
        help="Secret with MODELPORT_DB_URL (and MODELPORT_ARTIFACTS_URL, PGPASSWORD…) for "
             "replicas sharing a store; needed for endpoints.")] = None,
    insecure: Annotated[bool, typer.Option(
        help="Serve without API keys (a mesh or ingress in front checks callers).")] = False,
    grpc: Annotated[bool, typer.Option(
        help="Also expose OIP over gRPC on port 8001 (an image built with --grpc).")] = False,
    kserve: Annotated[bool, typer.Option(
        help="Also write the KServe ClusterServingRuntime and an InferenceService per "
             "target.")] = False,
) -> None:
    """Kubernetes manifests: Deployment, Service, HorizontalPodAutoscaler and
    PodDisruptionBudget per target (and KServe objects with --kserve)."""
    from modelport.interfaces.deploy.manifests import manifests_for

    files = manifests_for(targets, image, store_secret=store_secret, kserve=kserve,
                          insecure=insecure, grpc=grpc, namespace=namespace, replicas=replicas,
                          max_replicas=max_replicas, cpu=cpu, memory=memory,
                          memory_limit=memory_limit)
    if out is None:
        sys.stdout.write("---\n".join(documents(objs) for objs in files.values()))
        return
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInputError(f"{out} is not an empty directory")
    out.mkdir(parents=True, exist_ok=True)
    for name, objs in files.items():
        (out / name).write_text(documents(objs))
    console.print(f"wrote {', '.join(files)} in {out}; apply with: kubectl apply -f {out}",
                  soft_wrap=True, markup=False)


def documents(objs: list[dict[str, Any]]) -> str:
    """YAML documents — each written as JSON, which is YAML too, so no emitter can
    change a value (a version "1" stays a string)."""
    return "---\n".join(json.dumps(obj, indent=2) + "\n" for obj in objs)


def chart(out: Annotated[Path, typer.Option(help="New directory for the chart.")]) -> None:
    """Write the Helm chart of `modelport server` (PostgreSQL settings in values.yaml)."""
    from modelport.interfaces.deploy.chart import write_chart

    written = write_chart(out)
    console.print(f"wrote the chart ({len(written)} files) in {out}; install with: "
                  f"helm install modelport {out} -f my-values.yaml", soft_wrap=True,
                  markup=False)
