"""The edge commands as a user types them: one line per refusal, exit code 1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import tampered_model

REF_ROWS = 2


def run(publisher: Path, *args: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "modelport", *args], capture_output=True,
                          text=True, env={**os.environ, "MODELPORT_HOME": str(publisher),
                                          "COLUMNS": "200"}, timeout=120)


def test_export_verify_predict_and_refusals(publisher: Path, tmp_path: Path) -> None:
    out = tmp_path / "cancer.mpb"
    done = run(publisher, "edge", "export", "cancer:1", "--out", str(out), "--key", "release")
    assert done.returncode == 0, done.stderr
    assert "labels agree on 100.0%" in done.stdout
    ok = run(publisher, "edge", "verify", str(out), "--json")  # trusts local signing keys
    assert ok.returncode == 0 and json.loads(ok.stdout)["health"]["ok"] is True

    manifest = json.loads(ok.stdout)
    rows = tmp_path / "rows.json"
    from modelport_edge import Trust, read_bundle

    bundle = read_bundle(out, Trust.load([publisher.parent / "release.pub"]))
    rows.write_text(json.dumps(bundle.manifest["smoke"]["inputs"][:REF_ROWS]))
    pred = run(publisher, "edge", "predict", str(out), "--input", str(rows), "--trust",
               str(publisher.parent / "release.pub"))
    assert pred.returncode == 0, pred.stderr
    assert json.loads(pred.stdout)["prediction"] == \
        bundle.manifest["smoke"]["expected"]["prediction"][:REF_ROWS]
    assert manifest["version"] == 1

    bad = tmp_path / "bad.mpb"
    bad.write_bytes(tampered_model(out.read_bytes()))
    refused = run(publisher, "edge", "verify", str(bad))
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "error: bundle refused (model_digest): model.onnx does not match the digest in the "
        "signed manifest — the bundle was altered; refusing to load it"]
    rows.write_text("[[1, 2]]")
    wrong = run(publisher, "edge", "predict", str(out), "--input", str(rows))
    assert wrong.returncode == 1 and len(wrong.stderr.strip().splitlines()) == 1
    assert "expected rows of 30 values" in wrong.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["edge", "export", "cancer:1", "--out", "x.mpb", "--quantize", "int4", "--key",
      "release"], "unknown quantization 'int4'"),
    (["edge", "publish", "cancer:1", "--group", "g", "--percent", "0"],
     "--percent must be in (0, 100]"),
    (["edge", "devices", "--broker", "mqtt://127.0.0.1:1", "--wait", "0.1"],
     "cannot reach the MQTT broker at 127.0.0.1:1"),
    (["keys", "signing", "public", "nobody"], "no signing key 'nobody'"),
    (["edge", "agent", "--broker", "mqtt://127.0.0.1:1883", "--device-id", "d", "--group",
      "g", "--dir", "dev"], "the agent needs --trust PUBKEY_FILE"),
    (["edge", "agent", "--broker", "http://x", "--device-id", "d", "--group", "g", "--dir",
      "dev", "--trust", "missing.pub"], "cannot read trusted key missing.pub"),
])
def test_errors_are_one_line(publisher: Path, tmp_path: Path, args: list[str],
                             message: str) -> None:
    done = run(publisher, *args)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr
