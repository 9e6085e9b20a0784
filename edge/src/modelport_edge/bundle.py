"""The bundle file: one zip holding ``manifest.json``, ``model.onnx`` and ``signature.json``.

The manifest names the model, its version and input signature, the SHA-256 and
size of ``model.onnx``, the parity of the model against its source and the
smoke rows a health check replays. ``signature.json`` is an Ed25519 signature
over the manifest's exact bytes (written canonically: sorted keys, no spaces).

Verification runs in an order that never lets an unchecked byte reach a
parser that matters: archive shape and sizes → signature of the manifest with
a trusted key → digest of ``model.onnx`` → only then may onnxruntime load it.
The archive is read in memory, entry by entry by exact name, so a crafted
path (``../../etc``) has nowhere to go; any unexpected entry is refused.

>>> bundle = read_bundle("iris.mpb", Trust.load(["publisher.pub"]))  # doctest: +SKIP
>>> bundle.model, bundle.version                                       # doctest: +SKIP
('iris', 3)
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelport_edge.errors import BundleRejected
from modelport_edge.trust import Trust, key_id

FORMAT = "modelport-bundle/1"
MANIFEST, MODEL, SIGNATURE = "manifest.json", "model.onnx", "signature.json"
ENTRIES = frozenset({MANIFEST, MODEL, SIGNATURE})
MAX_BUNDLE = 512 * 1024 * 1024  # a device has little memory: refuse anything larger
MAX_SMALL = 4 * 1024 * 1024  # manifest and signature


def canonical(doc: Any) -> bytes:
    """The one byte form of a JSON document that is signed and verified."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Bundle:
    """A verified bundle: its manifest, model bytes and the digest of the whole file."""

    manifest: dict[str, Any]
    model_bytes: bytes = field(repr=False)
    digest: str  # SHA-256 of the bundle file: how publishers and devices name it
    key_id: str
    size: int

    @property
    def model(self) -> str:
        return str(self.manifest["model"])

    @property
    def version(self) -> int:
        return int(self.manifest["version"])

    @property
    def inputs(self) -> list[dict[str, str]]:
        return list(self.manifest["signature"]["inputs"])

    def summary(self) -> dict[str, Any]:
        m = self.manifest
        return {"model": self.model, "version": self.version, "digest": self.digest,
                "size": self.size, "key_id": self.key_id, "quantized": m.get("quantized"),
                "model_sha256": m["model_file"]["sha256"], "parity": m.get("parity"),
                "inputs": [c["name"] for c in self.inputs]}


def pack(manifest: dict[str, Any], model: bytes, private_key: Any) -> bytes:
    """A signed bundle of ``model`` (ONNX bytes) described by ``manifest``.

    Fills in the model's digest and size and the signing key id, then signs the
    manifest's canonical bytes with ``private_key`` (an Ed25519 private key).
    """
    kid = key_id(private_key.public_key())
    doc = {**manifest, "format": FORMAT, "key_id": kid,
           "model_file": {"path": MODEL, "sha256": sha256(model), "size": len(model)}}
    manifest_bytes = canonical(doc)
    signature = {"algorithm": "ed25519", "key_id": kid,
                 "signature": base64.b64encode(private_key.sign(manifest_bytes)).decode()}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in ((MANIFEST, manifest_bytes), (MODEL, model),
                           (SIGNATURE, canonical(signature))):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # reproducible bytes
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


def read_bundle(source: str | Path | bytes, trust: Trust, max_size: int = MAX_BUNDLE,
                expected_digest: str | None = None) -> Bundle:
    """Read and verify a bundle; raise ``BundleRejected`` saying why it is refused."""
    data = _read_source(source, max_size)
    digest = sha256(data)
    if expected_digest is not None and digest != expected_digest:
        raise BundleRejected("digest_mismatch", f"bundle digest {digest[:12]}… is not the "
                             f"announced {expected_digest[:12]}… (truncated or altered download)")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise BundleRejected("corrupt", "not a modelport bundle: the archive is corrupt or "
                                        "truncated") from None
    with zf:
        infos = _check_entries(zf, max_size)
        signature = _json(_entry(zf, infos[SIGNATURE], MAX_SMALL), SIGNATURE)
        manifest_bytes = _entry(zf, infos[MANIFEST], MAX_SMALL)
        kid = _verify_signature(manifest_bytes, signature, trust)
        manifest = _json(manifest_bytes, MANIFEST)
        _check_manifest(manifest)
        model = _entry(zf, infos[MODEL], max_size)
    expected = manifest["model_file"]
    if sha256(model) != expected["sha256"] or len(model) != expected["size"]:
        raise BundleRejected("model_digest", "model.onnx does not match the digest in the "
                             "signed manifest — the bundle was altered; refusing to load it")
    return Bundle(manifest, model, digest, kid, len(data))


def _read_source(source: str | Path | bytes, max_size: int) -> bytes:
    if isinstance(source, bytes):
        data = source
    else:
        path = Path(source)
        try:
            if path.stat().st_size > max_size:
                raise BundleRejected("too_large", f"{path} is over the {max_size:,}-byte limit")
            data = path.read_bytes()
        except OSError as exc:
            raise BundleRejected("unreadable", f"cannot read {path}: {exc.strerror}") from None
    if len(data) > max_size:
        raise BundleRejected("too_large", f"bundle of {len(data):,} bytes is over the "
                                          f"{max_size:,}-byte limit")
    return data


def _check_entries(zf: zipfile.ZipFile, max_size: int) -> dict[str, zipfile.ZipInfo]:
    infos: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        if info.filename not in ENTRIES or info.filename in infos:
            raise BundleRejected("unsafe_archive", f"unexpected entry {info.filename!r} in the "
                                 "bundle — only manifest.json, model.onnx, signature.json")
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind not in (0, stat.S_IFREG) or info.is_dir():
            # never extracted, but a link or a directory is not what any publisher writes
            raise BundleRejected("unsafe_archive", f"{info.filename} is not a regular file "
                                 "in the bundle (a link or a directory)")
        if info.file_size > max_size:
            raise BundleRejected("too_large", f"{info.filename} would unpack to "
                                 f"{info.file_size:,} bytes, over the limit")
        infos[info.filename] = info
    missing = sorted(ENTRIES - set(infos))
    if missing:
        raise BundleRejected("corrupt", f"the bundle has no {missing[0]}")
    return infos


def _entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    if info.file_size > limit:
        raise BundleRejected("too_large", f"{info.filename} is {info.file_size:,} bytes, over "
                                          f"its {limit:,}-byte limit")
    try:
        with zf.open(info) as fh:
            data = fh.read(limit + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise BundleRejected("corrupt", f"{info.filename} cannot be read from the bundle "
                                        f"(corrupt or truncated: {exc})") from None
    if len(data) > limit:
        raise BundleRejected("too_large", f"{info.filename} is over its {limit:,}-byte limit")
    return data


def _json(data: bytes, name: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise BundleRejected("corrupt", f"{name} is not JSON") from None
    if not isinstance(doc, dict):
        raise BundleRejected("corrupt", f"{name} is not a JSON object")
    return doc


def _verify_signature(manifest: bytes, signature: dict[str, Any], trust: Trust) -> str:
    from cryptography.exceptions import InvalidSignature

    if signature.get("algorithm") != "ed25519":
        raise BundleRejected("bad_signature", f"unsupported signature algorithm "
                                              f"{signature.get('algorithm')!r}")
    kid = str(signature.get("key_id", ""))
    key = trust.get(kid)
    if key is None:
        known = ", ".join(sorted(trust.keys)) or "none"
        raise BundleRejected("unknown_key", f"the bundle is signed by key {kid or '?'}, which "
                             f"this device does not trust (trusted: {known})")
    try:
        raw = base64.b64decode(str(signature.get("signature", "")), validate=True)
        key.verify(raw, manifest)
    except (InvalidSignature, ValueError):
        raise BundleRejected("bad_signature", f"the manifest's signature does not verify with "
                             f"key {kid} — the bundle was altered or mis-signed") from None
    return kid


def _check_manifest(manifest: dict[str, Any]) -> None:
    if manifest.get("format") != FORMAT:
        raise BundleRejected("corrupt", f"unsupported bundle format {manifest.get('format')!r}"
                                        f" — this runtime reads {FORMAT}")
    for key in ("model", "version", "signature", "model_file", "smoke"):
        if key not in manifest:
            raise BundleRejected("corrupt", f"the manifest has no {key!r}")
