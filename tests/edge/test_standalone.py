"""modelport-edge installs alone in a fresh virtualenv and runs a bundle there.

pip installs it from ./edge with its real dependencies (from the configured
package index) and nothing of modelport's: no scikit-learn, no SQLAlchemy,
no pandas. Slow-ish (~30 s, mostly pip), but it is the promise of the package.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

from modelport.config import Settings
from modelport.core.workspace import Workspace
from modelport.runtimes.edge.export import export_bundle

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(240)
def test_edge_runtime_alone_in_a_fresh_venv(publisher: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # built from a copy: pip's build leaves build/ and egg-info behind in its source
    source = tmp_path / "edge-src"
    shutil.copytree(REPO / "edge", source, ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__"))
    install = subprocess.run([py, "-m", "pip", "install", "-q", str(source)],
                             capture_output=True, text=True, env=env, timeout=200)
    assert install.returncode == 0, install.stderr[-2000:]
    listed = subprocess.run([py, "-m", "pip", "list", "--format", "json"], capture_output=True,
                            text=True, env=env, check=True)
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert {"modelport-edge", "onnxruntime", "numpy", "cryptography", "paho-mqtt"} <= names
    assert not names & {"scikit-learn", "sqlalchemy", "pandas", "modelport", "skl2onnx"}

    bundle = export_bundle("cancer:1", tmp_path / "cancer.mpb", key="release",
                           ws=Workspace.open(Settings(home=publisher))).path
    pub = publisher.parent / "release.pub"
    cli = env_dir / "bin" / "modelport-edge"
    ok = subprocess.run([cli, "verify", bundle, "--trust", pub], capture_output=True,
                        text=True, env=env, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "ok: cancer:1" in ok.stdout and "16 smoke rows pass" in ok.stdout

    rows = tmp_path / "rows.json"
    smoke = json.loads(subprocess.run(
        [py, "-c", "import json,sys,zipfile; print(zipfile.ZipFile(sys.argv[1])"
                   ".read('manifest.json').decode())", bundle],
        capture_output=True, text=True, env=env, check=True).stdout)["smoke"]
    rows.write_text(json.dumps({"inputs": smoke["inputs"][:3]}))
    out = subprocess.run([cli, "predict", bundle, "--trust", pub, "--input", rows],
                         capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["model"] == "cancer" and answer["version"] == 1
    assert answer["prediction"] == smoke["expected"]["prediction"][:3]

    # the runtime never imports modelport, and refuses a damaged bundle with one line
    imported = subprocess.run([py, "-c", "import modelport_edge.agent, modelport_edge.cli, sys;"
                               "print('modelport' in sys.modules)"],
                              capture_output=True, text=True, env=env, check=True, cwd=tmp_path)
    assert imported.stdout.strip() == "False"
    cut = tmp_path / "cut.mpb"
    cut.write_bytes(bundle.read_bytes()[:2000])
    bad = subprocess.run([cli, "verify", cut, "--trust", pub], capture_output=True, text=True,
                         env=env, cwd=tmp_path)
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [
        "refused (corrupt): not a modelport bundle: the archive is corrupt or truncated"]
