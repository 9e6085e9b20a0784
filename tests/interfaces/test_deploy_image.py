"""``modelport build``: a build context that installs only what its models need, carries
them by digest with their numbers, and starts a server that answers for them."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from modelport.config import Settings
from modelport.core.artifacts import sha256
from modelport.core.store.engine import forget_stores
from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError
from modelport.interfaces.deploy.image import ImageSpec, build_context, server_context
from servers import serving

pytestmark = pytest.mark.storage_independent

HEAVY = ("onnxruntime", "onnx", "skl2onnx", "onnxmltools", "lightgbm", "xgboost", "river",
         "tokenizers", "statsforecast", "ray", "optuna", "litestar", "psycopg")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """iris:1..3 (LogisticRegression; iris:2 has its ONNX copy), gbm:1 (LightGBM), mix:1
    (an ensemble of both) and the endpoint front (on iris:2)."""
    import lightgbm
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from modelport.core.formats.ensemble import Ensemble
    from modelport.lifecycle.endpoints import create_endpoint
    from modelport.lifecycle.loading import export_onnx
    from modelport.lifecycle.registry import register_model

    home = tmp_path_factory.mktemp("build") / "home"
    ws = Workspace.open(Settings(home=home))
    X, y = load_iris(return_X_y=True, as_frame=True)
    for c in (1.0, 0.5, 0.1):
        register_model("iris", LogisticRegression(C=c, max_iter=300).fit(X, y), X=X, ws=ws)
    export_onnx("iris:2", ws=ws)
    register_model("gbm", lightgbm.LGBMClassifier(n_estimators=5, verbose=-1).fit(X, y), X=X,
                   ws=ws)
    create_endpoint("front", "iris:2", ws=ws)
    members = [LogisticRegression(max_iter=300).fit(X, y),
               lightgbm.LGBMClassifier(n_estimators=5, verbose=-1).fit(X, y)]
    register_model("mix", Ensemble(members), X=X, ws=ws)
    forget_stores()
    return home


def names(requirements: list[str]) -> set[str]:
    return {r.split("==")[0].lower().replace("_", "-") for r in requirements}


# what modelport depends on but serving an ONNX copy never imports
NOT_FOR_ONNX = {"scikit-learn", "scipy", "pandas", "pyarrow", "skops", "onnx", "ml-dtypes"}


def test_a_linear_model_needs_none_of_the_heavy_extras(home: Path, tmp_path: Path) -> None:
    ws = Workspace.open(Settings(home=home))
    ctx = build_context(ImageSpec(["iris:3"], insecure=True), tmp_path / "ctx", ws=ws)
    installed = names(ctx.requirements)
    assert {"scikit-learn", "skops", "numpy"} <= installed  # no ONNX copy: its native runtime
    assert not installed & set(HEAVY), installed & set(HEAVY)
    assert not installed & {"pandas", "pyarrow"}
    assert all("==" in r for r in ctx.requirements)  # every distribution pinned
    lines = (ctx.out / "requirements.txt").read_text().splitlines()
    assert lines[-1] == "modelport==0.1.0"  # no wheel given: from the index


def test_an_onnx_copy_needs_neither_sklearn_nor_pandas(home: Path, tmp_path: Path) -> None:
    """The issue's LogisticRegression image: onnxruntime and protobuf beside the base —
    no scikit-learn, SciPy, pandas, pyarrow, nor the onnx package (the graph is checked
    with protobuf alone)."""
    ws = Workspace.open(Settings(home=home))
    ctx = build_context(ImageSpec(["iris:2"], insecure=True), tmp_path / "ctx", ws=ws)
    installed = names(ctx.requirements)
    assert {"onnxruntime", "protobuf", "numpy", "sqlalchemy", "uvloop"} <= installed
    assert not installed & NOT_FOR_ONNX, installed & NOT_FOR_ONNX


def test_serving_leaves_out_only_what_it_never_imports() -> None:
    """modelport's dependencies are either imported by every server (SERVE_BASE) or left
    to the formats and features that need them, with the reason written down."""
    from modelport.interfaces.deploy.requirements import NOT_SERVED, SERVE_BASE, dependencies

    declared = {name.lower() for name in dependencies()}
    assert declared == set(SERVE_BASE) | set(NOT_SERVED)
    assert not set(SERVE_BASE) & set(NOT_SERVED)


@pytest.mark.parametrize(("ref", "runtime", "needed", "not_needed"), [
    ("iris:2", "auto", {"onnxruntime", "protobuf"},
     {"skl2onnx", "onnxmltools", "lightgbm", "onnx", "scikit-learn"}),
    ("iris:2", "native", {"scikit-learn", "skops"}, {"onnxruntime", "onnx"}),
    ("gbm:1", "auto", {"lightgbm"}, {"onnxruntime", "xgboost", "pandas", "skops"}),
    # an ensemble needs its members' libraries, read from its manifest — not every library
    ("mix:1", "auto", {"lightgbm", "scikit-learn"}, {"onnxruntime", "xgboost", "river"}),
])
def test_only_what_the_runtime_imports(home: Path, tmp_path: Path, ref: str, runtime: str,
                                       needed: set[str], not_needed: set[str]) -> None:
    ws = Workspace.open(Settings(home=home))
    ctx = build_context(ImageSpec([ref], runtime=runtime, insecure=True), tmp_path / "c", ws=ws)
    installed = names(ctx.requirements)
    assert needed <= installed and not installed & not_needed


def test_the_dockerfile_runs_serve_unprivileged_and_checked(home: Path, tmp_path: Path) -> None:
    ws = Workspace.open(Settings(home=home))
    ctx = build_context(ImageSpec(["iris:3"], insecure=True), tmp_path / "ctx", ws=ws)
    lines = (ctx.out / "Dockerfile").read_text().splitlines()
    base = f"python:{sys.version_info.major}.{sys.version_info.minor}-slim"
    assert lines[1] == f"FROM {base} AS build"  # the build stage, then the image
    image = lines.index(f"FROM {base}")
    (install,) = [line for line in lines[:image] if line.startswith("RUN pip install")]
    assert "--no-deps" in install and "-r /opt/modelport/requirements.txt" in install
    assert "COPY --from=build /opt/site /usr/local" in lines[image:]
    assert not any("apt-get" in line for line in lines[image:])  # binutils stays behind
    assert "USER 10001:10001" in lines
    (check,) = [line for line in lines if line.startswith("HEALTHCHECK")]
    assert "/v2/health/ready" in check
    digest = ws.store.registry.get_version("iris", 3)["artifact_digest"]
    assert f'io.modelport.digests="iris:3=sha256:{digest}"' in "\n".join(lines)
    assert 'ENTRYPOINT ["modelport", "serve"]' in lines
    cmd = json.loads(lines[-1].removeprefix("CMD "))
    assert cmd[:3] == ["iris:3", "--host", "0.0.0.0"] and "--insecure" in cmd
    copied = ctx.out / "workspace" / "artifacts" / "sha256" / digest[:2] / digest[2:]
    assert sha256(copied.read_bytes()) == digest  # the model, by digest


def test_the_context_serves_the_same_version(home: Path, tmp_path: Path) -> None:
    """What the image's CMD starts, started here: the version keeps its number, and
    answers as the registry's copy does."""
    ws = Workspace.open(Settings(home=home))
    ctx = build_context(ImageSpec(["iris:3"], insecure=True), tmp_path / "ctx", ws=ws)
    forget_stores()
    row = {"sepal length (cm)": 6.3, "sepal width (cm)": 2.5, "petal length (cm)": 5.0,
           "petal width (cm)": 1.9}
    body = {"inputs": [{"name": k, "shape": [1], "datatype": "FP64", "data": [v]}
                       for k, v in row.items()]}
    with serving(ctx.out / "workspace", "iris:3") as server:
        answer = httpx.post(f"{server.url}/v2/models/iris/versions/3/infer", json=body,
                            timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["model_version"] == "3"
        predicted = answer.json()["outputs"][0]["data"]
    from modelport.lifecycle.loading import load

    expected = load("iris:3", ws=Workspace.open(Settings(home=home))).predict([row])
    assert predicted == expected.tolist()


def test_grpc_adds_its_port_and_protobuf(home: Path, tmp_path: Path) -> None:
    ws = Workspace.open(Settings(home=home))
    ctx = build_context(ImageSpec(["iris:3"], insecure=True, grpc=True), tmp_path / "g", ws=ws)
    assert "protobuf" in names(ctx.requirements)
    lines = (ctx.out / "Dockerfile").read_text().splitlines()
    assert "EXPOSE 8000 8001" in lines
    cmd = json.loads(lines[-1].removeprefix("CMD "))
    assert cmd[cmd.index("--grpc-port") + 1] == "8001"


def test_pull_at_start_carries_no_model(home: Path, tmp_path: Path) -> None:
    ws = Workspace.open(Settings(home=home))
    url = "postgresql+psycopg://modelport@db:5432/modelport"
    ctx = build_context(ImageSpec(["iris:3"], pull_at_start=url,
                                  artifacts_url="file:///mnt/models"), tmp_path / "ctx", ws=ws)
    assert not (ctx.out / "workspace").exists()
    dockerfile = (ctx.out / "Dockerfile").read_text()
    assert f'MODELPORT_DB_URL="{url}"' in dockerfile and "COPY --chown" not in dockerfile
    assert {"psycopg", "psycopg-binary"} <= names(ctx.requirements)
    assert "--insecure" not in dockerfile  # the store's API keys apply
    # an object store's fsspec client is pinned from this environment, or refused by name
    with pytest.raises(InvalidInputError, match=r"gcsfs is needed in the image \(to serve"):
        build_context(ImageSpec(["iris:3"], pull_at_start=url, artifacts_url="gs://models"),
                      tmp_path / "gs", ws=ws)


def test_pull_at_start_serves_from_the_shared_store(pg_schema: str, tmp_path: Path) -> None:
    """The image's ENV and CMD, run here on an empty home: the version comes from the
    shared PostgreSQL and artifact store, and answers."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from modelport.lifecycle.registry import register_model

    shared = tmp_path / "shared-artifacts"
    store = Workspace.open(Settings(home=tmp_path / "dev", db_url=pg_schema,
                                    artifacts_url=str(shared)))
    X, y = load_iris(return_X_y=True, as_frame=True)
    register_model("iris", LogisticRegression(max_iter=300).fit(X, y), X=X, ws=store)
    ctx = build_context(ImageSpec(["iris:1"], pull_at_start=pg_schema,
                                  artifacts_url=str(shared), insecure=True),
                        tmp_path / "ctx", ws=store)
    forget_stores()
    lines = (ctx.out / "Dockerfile").read_text().splitlines()
    env = dict(w.split("=", 1) for w in shlex.split(
        next(line for line in lines if line.startswith("ENV ")).removeprefix("ENV ")))
    assert env.pop("MODELPORT_HOME") == "/srv/modelport"  # here: an empty directory
    cmd = json.loads(lines[-1].removeprefix("CMD "))
    refs = cmd[:cmd.index("--host")]
    empty = tmp_path / "container-home"
    with serving(empty, *refs, "--insecure", env=env) as server:
        answer = httpx.get(f"{server.url}/v2/models/iris/versions/1", timeout=30)
        assert answer.status_code == 200 and answer.json()["name"] == "iris"
    assert not (empty / "artifacts").exists()  # nothing was stored in the container


def test_an_endpoint_is_read_from_the_store_not_baked(home: Path, tmp_path: Path) -> None:
    ws = Workspace.open(Settings(home=home))
    with pytest.raises(InvalidInputError, match=r"front is an endpoint.*--pull-at-start"):
        build_context(ImageSpec(["front"], insecure=True), tmp_path / "baked", ws=ws)
    ctx = build_context(ImageSpec(["front"], pull_at_start="https://modelport.example"),
                        tmp_path / "ctx", ws=ws)
    assert ctx.out.joinpath("Dockerfile").read_text().count('io.modelport.models="iris:2"') == 1
    assert {"httpx", "onnxruntime"} <= names(ctx.requirements)  # iris:2's ONNX copy


def test_refusals(home: Path, tmp_path: Path) -> None:
    ws = Workspace.open(Settings(home=home))
    with pytest.raises(InvalidInputError, match="has no API keys: pass --insecure"):
        build_context(ImageSpec(["iris"]), tmp_path / "a", ws=ws)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(InvalidInputError, match="is not an empty directory"):
        build_context(ImageSpec(["iris"], insecure=True), tmp_path / "full", ws=ws)
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
    with pytest.raises(InvalidInputError, match=r"--wheel: .* is not a wheel file"):
        build_context(ImageSpec(["iris"], insecure=True, wheel=tmp_path / "full" / "keep.txt"),
                      tmp_path / "b", ws=ws)
    with pytest.raises(InvalidInputError, match="invalid model name"):
        build_context(ImageSpec(["../etc"], insecure=True), tmp_path / "c", ws=ws)


def test_the_team_server_image_for_the_chart(tmp_path: Path) -> None:
    ctx = server_context(tmp_path / "server")
    assert {"litestar", "uvicorn", "psycopg"} <= names(ctx.requirements)
    assert not names(ctx.requirements) & {"onnxruntime", "lightgbm", "xgboost"}
    lines = (ctx.out / "Dockerfile").read_text().splitlines()
    assert 'ENTRYPOINT ["modelport", "server"]' in lines and "USER 10001:10001" in lines
    assert "/readyz" in next(line for line in lines if line.startswith("HEALTHCHECK"))
    assert not (ctx.out / "workspace").exists()


def test_the_command_says_what_it_wrote(home: Path, tmp_path: Path) -> None:
    env = {**os.environ, "MODELPORT_HOME": str(home)}
    env.pop("MODELPORT_DB_URL", None)
    out = tmp_path / "ctx"
    result = subprocess.run([sys.executable, "-m", "modelport", "build", "gbm", "--out",
                             str(out), "--insecure"], capture_output=True, text=True, env=env,
                            timeout=120, check=True)
    assert "gbm:1 (lightgbm" in result.stdout and (out / "Dockerfile").is_file()
    both = subprocess.run([sys.executable, "-m", "modelport", "build", "gbm", "--server",
                           "--out", str(tmp_path / "s")], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert both.returncode == 1 and "--server builds the team server's image" in both.stderr


# Put first on PYTHONPATH, this makes every distribution outside MODELPORT_TEST_ONLY
# unimportable in the server and its spawned workers — what an image without them sees.
ONLY_THESE = '''
import importlib.abc, importlib.metadata, os, re, sys

_canonical = lambda name: re.sub(r"[-_.]+", "-", name).lower()
_ALLOWED = set(os.environ["MODELPORT_TEST_ONLY"].split(","))
_OWNERS = importlib.metadata.packages_distributions()


class _OnlyThese(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        owners = {_canonical(d) for d in _OWNERS.get(name.partition(".")[0], ())}
        if owners and not owners & _ALLOWED:
            with open(os.environ["MODELPORT_TEST_REFUSED"], "a") as out:
                out.write(name + "\\n")
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _OnlyThese())
'''


@pytest.mark.parametrize(("ref", "untried"), [
    # the ONNX copy: not even an attempt at the heavy libraries
    ("iris:2", {"pandas", "pyarrow", "sklearn", "scipy", "onnx", "skops"}),
    # scikit-learn tries pandas, optionally, and does without
    ("iris:3", {"pyarrow", "onnx", "onnxruntime"}),
    ("gbm:1", {"pyarrow", "onnx", "onnxruntime"}),  # lightgbm tries sklearn and pandas
    ("mix:1", {"pyarrow", "onnx"}),
])
def test_each_format_serves_with_only_its_requirements(home: Path, tmp_path: Path,
                                                       ref: str, untried: set[str]) -> None:
    """``modelport serve`` of each format, every distribution outside the image's pinned
    list unimportable: it starts, answers as the registry does, and what it tried to
    import beyond the list (optional imports it does without) is none of ``untried``."""
    ws = Workspace.open(Settings(home=home))
    ctx = build_context(ImageSpec([ref], insecure=True), tmp_path / "ctx", ws=ws)
    forget_stores()
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(ONLY_THESE)
    refused = tmp_path / "refused.txt"
    refused.touch()
    root = Path(__file__).resolve().parents[2]
    env = {"MODELPORT_TEST_ONLY": ",".join([*names(ctx.requirements), "modelport"]),
           "MODELPORT_TEST_REFUSED": str(refused),
           "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(root / "src"),
                                          str(root / "edge" / "src")])}
    row = {"sepal length (cm)": 6.3, "sepal width (cm)": 2.5, "petal length (cm)": 5.0,
           "petal width (cm)": 1.9}
    name, version = ref.split(":")
    body = {"inputs": [{"name": k, "shape": [1], "datatype": "FP64", "data": [v]}
                       for k, v in row.items()]}
    with serving(ctx.out / "workspace", ref, env=env) as server:
        answer = httpx.post(f"{server.url}/v2/models/{name}/versions/{version}/infer",
                            json=body, timeout=30)
        assert answer.status_code == 200, answer.text
        predicted = answer.json()["outputs"][0]["data"]
    from modelport.lifecycle.loading import load

    expected = load(ref, ws=Workspace.open(Settings(home=home))).predict([row])
    assert predicted == expected.tolist()
    tried = {line.partition(".")[0] for line in refused.read_text().split()}
    assert not tried & untried, tried


def test_logging_without_pyarrow_is_refused_by_name(home: Path, tmp_path: Path) -> None:
    """An image leaves pyarrow out; turning prediction logging on there says what is
    missing in one line before anything listens — not a writer thread dying unseen."""
    ws = Workspace.open(Settings(home=home))
    ctx = build_context(ImageSpec(["iris:2"], insecure=True), tmp_path / "ctx", ws=ws)
    forget_stores()
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(ONLY_THESE)
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "MODELPORT_HOME": str(ctx.out / "workspace"),
           "MODELPORT_TEST_ONLY": ",".join([*names(ctx.requirements), "modelport"]),
           "MODELPORT_TEST_REFUSED": str(tmp_path / "refused.txt"),
           "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(root / "src"),
                                          str(root / "edge" / "src")])}
    result = subprocess.run([sys.executable, "-m", "modelport", "serve", "iris:2",
                             "--log-sample", "0.1"], capture_output=True, text=True,
                            env=env, timeout=120, check=False)
    assert result.returncode == 1
    assert "--log-sample writes Parquet with pyarrow, which is not installed" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_replayed_image_serves_the_registry_answer(tmp_path: Path) -> None:
    """The image benchmark's replay, as a test: the build stage's RUN lines in a fresh
    virtualenv (only the pinned set, ``--no-deps``), then the image's CMD from it — the
    LogisticRegression's ONNX copy answers as the registry does."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "image" / "replay.py"
    spec = importlib.util.spec_from_file_location("image_replay", path)
    assert spec is not None and spec.loader is not None
    replay = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(replay)
    result = replay.measure(tmp_path)
    assert result["prediction_matches"] and result["served_version"] == "1"
    installed = {r.split("==")[0].lower() for r in result["requirement_names"]}
    assert not installed & NOT_FOR_ONNX
