"""``modelport build``: a container build context for serving some versions.

The context is plain files any OCI builder takes (``docker build``, ``buildah bud``,
``podman build``, kaniko): a Dockerfile on ``python:X.Y-slim`` (this interpreter's
version, the one the pins were resolved for), ``requirements.txt`` pinned to what
is installed here and holding only what the versions need, modelport's own wheel
when one is given, and either

- the versions themselves: a small workspace of their metadata (numbers kept) and
  their blobs by digest, each re-hashed on the way out of the registry and again
  on every load in the container; or
- ``pull_at_start``: no model at all — the container reads the shared store named by
  the URL when it starts (the way replicas share PostgreSQL and an object store).

The image runs as an unprivileged user, checks itself with a HEALTHCHECK on
``/v2/health/ready`` (ready only once its models are loaded and warmed), and says
in its labels which versions and digests it serves.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from modelport.config import VERSION, Settings
from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError
from modelport.interfaces.deploy.requirements import pinned, serving_needs, store_needs
from modelport.interfaces.deploy.targets import resolve_targets
from modelport.lifecycle.registry import ModelVersion
from modelport.lifecycle.transfer import copy_versions

PORT = 8000
UID = 10001
HOME = "/srv/modelport"  # the image's own workspace (MODELPORT_HOME)
READY_PATH = "/v2/health/ready"
LABEL = "io.modelport"


@dataclass
class ImageSpec:
    """What to build: ``refs`` to serve, and how the container finds them."""

    refs: list[str]
    runtime: str = "auto"
    pull_at_start: str | None = None  # a store URL; None: the versions go in the image
    artifacts_url: str | None = None  # with a SQL store URL: where its artifacts live
    insecure: bool = False  # serve without API keys (a mesh or ingress checks callers)
    wheel: Path | None = None  # modelport's wheel; None: modelport==VERSION from an index
    extra_args: list[str] = field(default_factory=list)


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
    needs = serving_needs(versions, spec.runtime, ws=ws)
    for url in (spec.pull_at_start, spec.artifacts_url):
        needs |= store_needs(url or "")
    requirements = pinned(needs)
    out.mkdir(parents=True, exist_ok=True)
    if not spec.pull_at_start:  # the image's own workspace: the versions, numbers kept
        # its SQLite file and write-ahead log go in together, a consistent pair
        copy_versions([v.ref for v in versions], ws,
                      Workspace.open(Settings(home=out / "workspace")))
    lines = list(requirements)
    if spec.wheel is None:
        lines.append(f"modelport=={VERSION}")
    else:
        (out / "wheels").mkdir(exist_ok=True)
        shutil.copy2(spec.wheel, out / "wheels" / spec.wheel.name)
    (out / "requirements.txt").write_text("\n".join(lines) + "\n")
    (out / "Dockerfile").write_text(dockerfile(spec, versions))
    return BuildContext(out, versions, requirements)


def _check(spec: ImageSpec, out: Path) -> None:
    if not spec.refs:
        raise InvalidInputError("name at least one model to build an image for")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInputError(f"{out} is not an empty directory — the build context "
                                "is written into a new one")
    if spec.wheel is not None and (spec.wheel.suffix != ".whl" or not spec.wheel.is_file()):
        raise InvalidInputError(f"--wheel: {spec.wheel} is not a wheel file")
    if not spec.pull_at_start and not spec.insecure:
        raise InvalidInputError(
            "an image with its own workspace has no API keys: pass --insecure (the network "
            "in front of it checks callers), or --pull-at-start STORE_URL (keys come from "
            "that store)")


def serve_args(spec: ImageSpec) -> list[str]:
    """The ``modelport serve`` arguments the container starts with."""
    args = [*spec.refs, "--host", "0.0.0.0", "--port", str(PORT), "--runtime", spec.runtime]
    return args + (["--insecure"] if spec.insecure else []) + spec.extra_args


def labels(versions: Sequence[ModelVersion]) -> dict[str, str]:
    """OCI and modelport labels: which versions the image serves, by digest."""
    return {
        "org.opencontainers.image.title": "modelport serve " + " ".join(v.ref for v in versions),
        "org.opencontainers.image.version": VERSION,
        f"{LABEL}.models": ",".join(v.ref for v in versions),
        f"{LABEL}.digests": ",".join(f"{v.ref}=sha256:{v.artifact_digest}" for v in versions),
        f"{LABEL}.formats": ",".join(f"{v.ref}={v.format}" for v in versions),
    }


def dockerfile(spec: ImageSpec, versions: Sequence[ModelVersion]) -> str:
    base = f"python:{sys.version_info.major}.{sys.version_info.minor}-slim"
    env = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "PIP_NO_CACHE_DIR": "1",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1", "MODELPORT_HOME": HOME}
    if spec.pull_at_start:
        env["MODELPORT_DB_URL"] = spec.pull_at_start
    if spec.artifacts_url:
        env["MODELPORT_ARTIFACTS_URL"] = spec.artifacts_url
    probe = (f"import urllib.request; urllib.request.urlopen("
             f"'http://127.0.0.1:{PORT}{READY_PATH}', timeout=2)")
    lines = [
        "# generated by `modelport build` — the versions and digests are in the labels",
        f"FROM {base}",
        "ENV " + " ".join(f"{k}={json.dumps(v)}" for k, v in env.items()),
        f"RUN useradd --system --uid {UID} --user-group --no-create-home modelport",
        "COPY requirements.txt /opt/modelport/requirements.txt",
        # the libraries' own test suites are a sixth of what they install; serving
        # never imports them
        "RUN pip install -r /opt/modelport/requirements.txt && find \"$(python -c "
        "'import sysconfig; print(sysconfig.get_path(\"purelib\"))')\" -depth -type d "
        "-name tests -exec rm -rf {} +",
        *(["COPY wheels/ /opt/modelport/wheels/",
           "RUN pip install --no-deps /opt/modelport/wheels/*.whl"] if spec.wheel else []),
        # writable by the service user: SQLite's journal and prediction logs live there
        *([] if spec.pull_at_start
          else [f"COPY --chown={UID}:{UID} workspace/ {HOME}/"]),
        f"RUN mkdir -p {HOME} && chown {UID}:{UID} {HOME}",
        f"USER {UID}:{UID}",
        f"WORKDIR {HOME}",
        f"EXPOSE {PORT}",
        "HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 "
        f"CMD {json.dumps(['python', '-c', probe])}",
        "LABEL " + " \\\n      ".join(f"{k}={json.dumps(v)}" for k, v in labels(versions).items()),
        'ENTRYPOINT ["modelport", "serve"]',
        f"CMD {json.dumps(serve_args(spec))}",
    ]
    return "\n".join(lines) + "\n"
