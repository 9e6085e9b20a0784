"""``modelport build``: a container build context for serving some versions.

The context is plain files any OCI builder takes (``docker build``, ``buildah bud``,
``podman build``, kaniko): a Dockerfile on ``python:X.Y-slim`` (this interpreter's
version, the one the pins were resolved for), ``requirements.txt`` pinned to what
is installed here and holding only what serving the versions imports (installed
with ``--no-deps``: no scikit-learn, pandas or pyarrow for an ONNX copy),
modelport's own wheel when one is given, and either

- the versions themselves: a small workspace of their metadata (numbers kept) and
  their blobs by digest, each re-hashed on the way out of the registry and again
  on every load in the container; or
- ``pull_at_start``: no model at all — the container reads the shared store named by
  the URL when it starts (the way replicas share PostgreSQL and an object store).

The image runs as an unprivileged user, checks itself with a HEALTHCHECK on
``/v2/health/ready`` (ready only once its models are loaded and warmed), and says
in its labels which versions and digests it serves. ``server_context`` writes the
same kind of context for ``modelport server``, the image the Helm chart runs.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from modelport.config import VERSION, Settings
from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError
from modelport.interfaces.deploy.requirements import (
    SERVE_BASE,
    SERVING_NEEDS,
    dependencies,
    pinned,
    serving_formats,
    serving_imports,
    store_needs,
)
from modelport.interfaces.deploy.targets import resolve_targets
from modelport.lifecycle.registry import ModelVersion
from modelport.lifecycle.transfer import copy_versions

PORT = 8000
GRPC_PORT = 8001  # OIP over gRPC, Triton's port for it
GRPC_NEEDS = ("protobuf",)  # the grpc extra
UID = 10001
HOME = "/srv/modelport"  # the image's own workspace (MODELPORT_HOME)
READY_PATH = "/v2/health/ready"
SERVER_PORT = 8080
SERVER_READY_PATH = "/readyz"  # the team server's: ready when its store answers
# ``modelport server`` on PostgreSQL: the server and postgres extras, no model library
SERVER_NEEDS = ("litestar", "uvicorn", "httpx", "psycopg", "psycopg-binary")
LABEL = "io.modelport"
PREFIX = "/opt/site"  # where the build stage installs, copied to /usr/local


@dataclass
class ImageSpec:
    """What to build: ``refs`` to serve, and how the container finds them."""

    refs: list[str]
    runtime: str = "auto"
    pull_at_start: str | None = None  # a store URL; None: the versions go in the image
    artifacts_url: str | None = None  # with a SQL store URL: where its artifacts live
    insecure: bool = False  # serve without API keys (a mesh or ingress checks callers)
    grpc: bool = False  # also OIP over gRPC on GRPC_PORT
    wheel: Path | None = None  # modelport's wheel; None: modelport==VERSION from an index


@dataclass
class BuildContext:
    out: Path
    versions: list[ModelVersion]
    requirements: list[str]


def build_context(spec: ImageSpec, out: Path, ws: Workspace | None = None) -> BuildContext:
    """Write the build context for ``spec`` into the empty or new directory ``out``."""
    ws = current(ws)
    _check(spec, out)
    targets = resolve_targets(spec.refs, ws=ws)
    baked_endpoint = next((t for t in targets if t.needs_store), None)
    if baked_endpoint is not None and not spec.pull_at_start:
        raise InvalidInputError(
            f"{baked_endpoint.text} is an endpoint: rollouts change it in the store, which a "
            "copy in the image would never see — build it with --pull-at-start STORE_URL")
    versions = list({v.ref: v for t in targets for v in t.versions}.values())
    formats = serving_formats(versions, spec.runtime, ws=ws)
    needs = {*SERVE_BASE, *(n for fmt in formats for n in SERVING_NEEDS.get(fmt, ()))}
    imports = serving_imports(formats)
    for url in (spec.pull_at_start, spec.artifacts_url):
        needs |= store_needs(url or "")
    if spec.grpc:
        needs |= set(GRPC_NEEDS)
        imports.append("modelport.runtimes.serving.grpc_server")
    requirements = pinned(needs)
    if not spec.pull_at_start:  # the image's own workspace: the versions, numbers kept
        # its SQLite file and write-ahead log go in together, a consistent pair
        copy_versions([v.ref for v in versions], ws,
                      Workspace.open(Settings(home=out / "workspace")))
    _write_requirements(out, requirements, spec.wheel)
    (out / "Dockerfile").write_text(dockerfile(spec, versions, imports))
    return BuildContext(out, versions, requirements)


def _write_requirements(out: Path, requirements: list[str], wheel: Path | None) -> None:
    """``requirements.txt`` (modelport itself from the index, unless its wheel is given)."""
    out.mkdir(parents=True, exist_ok=True)
    lines = list(requirements)
    if wheel is None:
        lines.append(f"modelport=={VERSION}")
    else:
        (out / "wheels").mkdir(exist_ok=True)
        shutil.copy2(wheel, out / "wheels" / wheel.name)
    (out / "requirements.txt").write_text("\n".join(lines) + "\n")


def _check_out(out: Path, wheel: Path | None) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInputError(f"{out} is not an empty directory — the build context "
                                "is written into a new one")
    if wheel is not None and (wheel.suffix != ".whl" or not wheel.is_file()):
        raise InvalidInputError(f"--wheel: {wheel} is not a wheel file")


def _check(spec: ImageSpec, out: Path) -> None:
    if not spec.refs:
        raise InvalidInputError("name at least one model to build an image for, or pass "
                                "--server for the team server's image")
    _check_out(out, spec.wheel)
    if not spec.pull_at_start and not spec.insecure:
        raise InvalidInputError(
            "an image with its own workspace has no API keys: pass --insecure (the network "
            "in front of it checks callers), or --pull-at-start STORE_URL (keys come from "
            "that store)")


def serve_args(spec: ImageSpec) -> list[str]:
    """The ``modelport serve`` arguments the container starts with."""
    args = [*spec.refs, "--host", "0.0.0.0", "--port", str(PORT), "--runtime", spec.runtime]
    args += ["--grpc-port", str(GRPC_PORT)] if spec.grpc else []
    return args + (["--insecure"] if spec.insecure else [])


def labels(versions: Sequence[ModelVersion]) -> dict[str, str]:
    """OCI and modelport labels: which versions the image serves, by digest."""
    return {
        "org.opencontainers.image.title": "modelport serve " + " ".join(v.ref for v in versions),
        "org.opencontainers.image.version": VERSION,
        f"{LABEL}.models": ",".join(v.ref for v in versions),
        f"{LABEL}.digests": ",".join(f"{v.ref}=sha256:{v.artifact_digest}" for v in versions),
        f"{LABEL}.formats": ",".join(f"{v.ref}={v.format}" for v in versions),
    }


def dockerfile(spec: ImageSpec, versions: Sequence[ModelVersion],
               precompile: Sequence[str] | None = None) -> str:
    """The serving image: ``modelport serve`` of the versions, or of what the store holds
    (``precompile``: the modules whose bytecode it keeps; None: all)."""
    env = {"MODELPORT_HOME": HOME}
    if spec.pull_at_start:
        env["MODELPORT_DB_URL"] = spec.pull_at_start
    if spec.artifacts_url:
        env["MODELPORT_ARTIFACTS_URL"] = spec.artifacts_url
    ports = [PORT, GRPC_PORT] if spec.grpc else [PORT]
    return _dockerfile(env, spec.wheel is not None, not spec.pull_at_start, ports, READY_PATH,
                       labels(versions), "serve", serve_args(spec), precompile)


def server_context(out: Path, wheel: Path | None = None) -> BuildContext:
    """The image of ``modelport server`` (the team control plane the Helm chart runs): no
    model, its store settings from the environment (``MODELPORT_DB_URL``, PGPASSWORD…)."""
    _check_out(out, wheel)
    requirements = pinned({*dependencies(), *SERVER_NEEDS})
    _write_requirements(out, requirements, wheel)
    title = {"org.opencontainers.image.title": "modelport server",
             "org.opencontainers.image.version": VERSION}
    (out / "Dockerfile").write_text(_dockerfile(
        {"MODELPORT_HOME": HOME}, wheel is not None, False, [SERVER_PORT], SERVER_READY_PATH,
        title, "server", ["--host", "0.0.0.0", "--port", str(SERVER_PORT)]))
    return BuildContext(out, [], requirements)


def _dockerfile(env: dict[str, str], wheel: bool, workspace: bool, ports: list[int],
                ready: str, image_labels: dict[str, str], command: str, args: list[str],
                precompile: Sequence[str] | None = None) -> str:
    """``ports``: the HTTP port (probed by the HEALTHCHECK) first; ``precompile``: the
    modules whose bytecode the image keeps (None: every module's)."""
    base = f"python:{sys.version_info.major}.{sys.version_info.minor}-slim"
    env = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "PIP_NO_CACHE_DIR": "1",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1", **env}
    probe = (f"import urllib.request; urllib.request.urlopen("
             f"'http://127.0.0.1:{ports[0]}{ready}', timeout=2)")
    lines = [
        "# generated by `modelport build`",
        *_install_stage(base, wheel, precompile),
        f"FROM {base}",
        "ENV " + " ".join(f"{k}={json.dumps(v)}" for k, v in env.items()),
        f"RUN useradd --system --uid {UID} --user-group --no-create-home modelport",
        f"COPY --from=build {PREFIX} /usr/local",
        # writable by the service user: SQLite's journal and prediction logs live there
        *([f"COPY --chown={UID}:{UID} workspace/ {HOME}/"] if workspace else []),
        f"RUN mkdir -p {HOME} && chown {UID}:{UID} {HOME}",
        f"USER {UID}:{UID}",
        f"WORKDIR {HOME}",
        "EXPOSE " + " ".join(map(str, ports)),
        "HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 "
        f"CMD {json.dumps(['python', '-c', probe])}",
        "LABEL " + " \\\n      ".join(f"{k}={json.dumps(v)}" for k, v in image_labels.items()),
        f"ENTRYPOINT {json.dumps(['modelport', command])}",
        f"CMD {json.dumps(args)}",
    ]
    return "\n".join(lines) + "\n"


def _install_stage(base: str, wheel: bool, precompile: Sequence[str] | None) -> list[str]:
    """The build stage: everything installed under ``PREFIX``, which the image copies to
    ``/usr/local`` — the stage's tools (binutils) and pip's leftovers stay behind."""
    site = f"{PREFIX}/lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"
    packages = "-r /opt/modelport/requirements.txt" + (
        " /opt/modelport/wheels/*.whl" if wheel else "")
    compiled = "--no-compile " if precompile is not None else ""
    return [
        f"FROM {base} AS build",
        "RUN apt-get update && apt-get install -y --no-install-recommends binutils "
        "&& rm -rf /var/lib/apt/lists/*",
        "COPY requirements.txt /opt/modelport/requirements.txt",
        *(["COPY wheels/ /opt/modelport/wheels/"] if wheel else []),
        # the whole closure, pinned (requirements.py): pip adds nothing of its own — not
        # the dependencies of modelport serving leaves out
        f"RUN pip install --no-deps {compiled}--prefix {PREFIX} {packages}",
        # the libraries' own test suites (serving never imports them), and the debug
        # information some extensions ship (uvloop's is 12 MB); the libraries auditwheel
        # grafted into *.libs are left whole (patchelf moved their segments: strip would
        # break them)
        f"RUN find {PREFIX} -depth -type d -name tests -exec rm -rf {{}} + "
        f"&& find {PREFIX} -name '*.so' ! -path '*.libs/*' -exec strip --strip-debug {{}} +",
        # bytecode for what serving imports at start, not for all that is installed
        *([f"RUN PYTHONPATH={site} python -c {shlex.quote('import ' + ', '.join(precompile))}"]
          if precompile else []),
    ]
