"""Bundles: export, signature and digest verification, quantization, the health check."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from helpers import entries, resigned, rezip, tampered_model, wrong_smoke

from modelport.config import Settings
from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError
from modelport.lifecycle.loading import load
from modelport.runtimes.edge.export import build_bundle, export_bundle
from modelport.runtimes.edge.signing import load_private, local_trust
from modelport_edge import BundleRejected, EdgeModel, Trust, health_check, read_bundle
from modelport_edge.bundle import pack


@pytest.fixture(scope="module")
def ws(publisher: Path) -> Workspace:
    return Workspace.open(Settings(home=publisher))


@pytest.fixture(scope="module")
def trust(publisher: Path) -> Trust:
    return Trust.load([publisher.parent / "release.pub"])


@pytest.fixture
def cancer1(ws: Workspace) -> bytes:
    return build_bundle("cancer:1", key="release", ws=ws).data


def test_export_writes_a_verified_bundle_that_predicts_like_the_source(
        ws: Workspace, trust: Trust, tmp_path: Path) -> None:
    from sklearn.datasets import load_breast_cancer

    out = export_bundle("cancer:2", tmp_path / "b" / "cancer.mpb", key="release", ws=ws)
    assert out.path is not None and out.path.read_bytes() == out.data
    bundle = read_bundle(out.path, trust)
    m = bundle.manifest
    assert (bundle.model, bundle.version, bundle.digest) == ("cancer", 2, out.digest)
    assert m["parity"]["passed"] and m["parity"]["labels_agree"] == 1.0
    assert m["source"]["format"] == "sklearn" and m["quantized"] is None
    assert m["key_id"] == bundle.key_id == next(iter(trust.keys))
    assert len(bundle.inputs) == 30 and len(m["smoke"]["inputs"]) == 16
    X = load_breast_cancer(as_frame=True).data
    got = EdgeModel(bundle).predict(X.to_dict(orient="records"))
    native = load("cancer:2", ws=ws).predict_outputs(X)
    assert (got["prediction"] == native["prediction"]).all()
    np.testing.assert_allclose(got["probabilities"], native["probabilities"], atol=1e-4)
    assert health_check(EdgeModel(bundle)).ok


def test_rows_must_fit_the_signature(cancer1: bytes, trust: Trust) -> None:
    model = EdgeModel(read_bundle(cancer1, trust))
    with pytest.raises(ValueError, match="expected rows of 30 values"):
        model.predict([[1.0, 2.0]])
    with pytest.raises(ValueError, match="missing column 'mean radius' in a row"):
        model.predict([{"x": 1}])


@pytest.mark.parametrize(("damage", "reason", "match"), [
    (tampered_model, "model_digest", "does not match the digest in the signed manifest"),
    (lambda d: d[: len(d) // 2], "corrupt", "corrupt or truncated"),
    (lambda d: rezip({**entries(d), "../../evil.sh": b"rm -rf /"}), "unsafe_archive",
     "unexpected entry '../../evil.sh'"),
    (lambda d: rezip({k: v for k, v in entries(d).items() if k != "signature.json"}),
     "corrupt", "has no signature.json"),
    (lambda d: b"not a zip at all", "corrupt", "not a modelport bundle"),
])
def test_damaged_bundles_are_refused(cancer1: bytes, trust: Trust, damage, reason: str,  # type: ignore[no-untyped-def]
                                     match: str) -> None:
    with pytest.raises(BundleRejected, match=match) as info:
        read_bundle(damage(cancer1), trust)
    assert info.value.reason == reason


def test_an_edited_manifest_fails_its_signature(cancer1: bytes, trust: Trust) -> None:
    files = entries(cancer1)
    manifest = json.loads(files["manifest.json"])
    manifest["version"] = 99
    files["manifest.json"] = json.dumps(manifest, sort_keys=True,
                                        separators=(",", ":")).encode()
    with pytest.raises(BundleRejected, match="does not verify") as info:
        read_bundle(rezip(files), trust)
    assert info.value.reason == "bad_signature"


def test_unknown_key_and_limits(cancer1: bytes, trust: Trust) -> None:
    rogue = resigned(cancer1, Ed25519PrivateKey.generate())
    with pytest.raises(BundleRejected, match="which this device does not trust") as info:
        read_bundle(rogue, trust)
    assert info.value.reason == "unknown_key"
    with pytest.raises(BundleRejected, match="over the 1,000-byte limit"):
        read_bundle(cancer1, trust, max_size=1000)
    with pytest.raises(BundleRejected, match="not the announced") as info:
        read_bundle(cancer1, trust, expected_digest="0" * 64)
    assert info.value.reason == "digest_mismatch"
    with pytest.raises(BundleRejected, match="does not trust"):
        read_bundle(cancer1, Trust())


def test_health_check_catches_a_model_that_misbehaves(cancer1: bytes, trust: Trust,
                                                      publisher: Path) -> None:
    bad = read_bundle(wrong_smoke(cancer1, load_private("release")), trust)
    health = health_check(EdgeModel(bad))
    assert not health.ok and "differ from the manifest on 16 of 16 rows" in health.reason


def test_int8_quantization_shrinks_a_network_and_records_its_accuracy(
        ws: Workspace, trust: Trust) -> None:
    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from modelport.lifecycle.registry import register_model

    X, y = load_digits(return_X_y=True, as_frame=True)
    net = make_pipeline(StandardScaler(), MLPClassifier((128,), max_iter=300, random_state=0))
    register_model("digits", net.fit(X, y), X=X, ws=ws)
    plain = build_bundle("digits", key="release", ws=ws)
    small = build_bundle("digits", key="release", quantize="int8", ws=ws)
    q = small.manifest
    assert q["quantized"]["integer_ops"] > 0 and q["quantized"]["weights"] == "int8"
    assert q["sizes"]["model"] * 2.5 < plain.manifest["sizes"]["model"]
    assert q["parity"]["labels_agree"] >= 0.98
    assert health_check(EdgeModel(read_bundle(small.data, trust))).ok


def test_quantizing_a_forest_keeps_it_and_says_why(ws: Workspace) -> None:
    bundle = build_bundle("cancer:2", key="release", quantize="int8", ws=ws)
    q = bundle.manifest["quantized"]
    assert q["integer_ops"] == 0 and "stay float" in q["note"]
    assert bundle.manifest["sizes"]["model"] == bundle.manifest["sizes"]["source_onnx"]


def test_export_errors_are_clear(ws: Workspace) -> None:
    with pytest.raises(InvalidInputError, match="unknown quantization 'int4'"):
        build_bundle("cancer:1", key="release", quantize="int4", ws=ws)
    with pytest.raises(Exception, match="no signing key 'nope'"):
        build_bundle("cancer:1", key="nope", ws=ws)
    assert list(local_trust().keys) == [read_bundle(
        build_bundle("cancer:1", key="release", ws=ws).data, local_trust()).key_id]


def test_a_signed_bundle_whose_model_reads_external_data_finds_no_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """onnxruntime resolves external data of in-memory bytes against the working
    directory; the device runtime points it at an empty folder instead."""
    from onnx import TensorProto, helper

    (tmp_path / "device.key").write_bytes(b"PRIVATE KEY OF THE DEVICE")
    monkeypatch.chdir(tmp_path)
    weights = TensorProto(name="W", data_type=TensorProto.UINT8, dims=[8])
    weights.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "device.key"), ("offset", "0"), ("length", "8")):
        entry = weights.external_data.add()
        entry.key, entry.value = k, v
    graph = helper.make_graph(
        [helper.make_node("Add", ["input", "W"], ["output"])], "g",
        [helper.make_tensor_value_info("input", TensorProto.UINT8, [8])],
        [helper.make_tensor_value_info("output", TensorProto.UINT8, [8])], initializer=[weights])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    key = Ed25519PrivateKey.generate()
    manifest = {"model": "evil", "version": 1, "smoke": {},
                "signature": {"inputs": [{"name": "x", "dtype": "float64"}]}}
    bundle = read_bundle(pack(manifest, model.SerializeToString(), key),
                         Trust([key.public_key()]))
    with pytest.raises(BundleRejected, match="External data path"):
        EdgeModel(bundle)


def _with_entry_mode(data: bytes, name: str, mode: int) -> bytes:
    """The same bundle with ``name`` marked as another kind of zip entry."""
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            if info.filename == name:
                info.external_attr = mode << 16
            dst.writestr(info, src.read(info))
    return buf.getvalue()


@pytest.mark.parametrize("mode", [0o120777, 0o040755])  # a symlink, a directory
def test_a_bundle_entry_that_is_a_link_or_directory_is_refused(
        cancer1: bytes, trust: Trust, mode: int) -> None:
    with pytest.raises(BundleRejected, match="not a regular file") as info:
        read_bundle(_with_entry_mode(cancer1, "model.onnx", mode), trust)
    assert info.value.reason == "unsafe_archive"


def test_a_bundle_that_unpacks_past_the_limit_is_refused_before_unpacking(
        cancer1: bytes, trust: Trust) -> None:
    import io
    import zipfile

    files = entries(cancer1)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in ("manifest.json", "signature.json"):
            zf.writestr(name, files[name])
        with zf.open("model.onnx", "w", force_zip64=True) as fh:
            for _ in range(64):
                fh.write(bytes(1 << 20))
    bomb = buf.getvalue()
    assert len(bomb) < 1024 * 1024
    with pytest.raises(BundleRejected, match="would unpack to 67,108,864 bytes") as info:
        read_bundle(bomb, trust, max_size=16 * 1024 * 1024)
    assert info.value.reason == "too_large"
    with pytest.raises(BundleRejected, match="unexpected entry"):
        read_bundle(rezip({**files, **{f"x{i}": b"" for i in range(5)}}), trust)


def test_missing_and_infinite_values_never_get_a_silent_answer(cancer1: bytes,
                                                                trust: Trust) -> None:
    """cancer:1 is a bare logistic regression (no imputer): like every runtime of the
    platform, the device refuses a missing value for it, and an infinite one always."""
    model = EdgeModel(read_bundle(cancer1, trust))
    assert model.predict([[1.0] * 30])["prediction"].shape == (1,)
    for value, what in ((float("nan"), "missing"), (None, "missing"),
                        (float("inf"), "infinite"), (1e39, "infinite")):  # 1e39: FP32 inf
        row: list[float | None] = [1.0] * 30
        row[3] = value
        with pytest.raises(ValueError, match=f"row 1, column 'mean area' has an? {what}"):
            model.predict([[1.0] * 30, row])
