"""The device agent: follow a group's update notices, install verified bundles, roll back.

One update, step by step (each step leaves ``state.json`` consistent):

1. a retained notice arrives on ``PREFIX/GROUP/update``; ``canary.target``
   says which bundle this device should run;
2. ``pending`` is recorded, the bundle is downloaded to a ``.part`` file with
   a size limit and checked against the announced SHA-256, then verified
   (signature with a trusted key → model digest) and checked to take the
   same inputs as the running model;
3. the new bundle becomes ``current`` (the old one ``previous``) and the
   health check replays the manifest's smoke rows; the old model keeps
   answering predictions meanwhile;
4. pass → the new model serves; fail → ``current`` goes back to the old
   bundle and the status says ``rolled_back`` with the reason.

A refused bundle (bad signature, unknown key, truncated, another signature)
never replaces the running one. Killed at any point, the agent restarts on
the bundle it ran before the update and the still-retained notice starts the
update again. Status and metrics go to ``PREFIX/GROUP/status/DEVICE``
(retained), after every change and every ``heartbeat`` seconds.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modelport_edge import canary
from modelport_edge.bundle import MAX_BUNDLE, Bundle, read_bundle
from modelport_edge.device import DeviceDir, State
from modelport_edge.errors import BundleRejected
from modelport_edge.mqtt import Broker, Topics, client, connect
from modelport_edge.runtime import EdgeModel, Health, health_check
from modelport_edge.trust import Trust

log = logging.getLogger("modelport_edge.agent")

_HEX = frozenset("0123456789abcdef")
MAX_INTERRUPTED = 3  # crashes during one update before its bundle is refused
# may be the network or the device, not the bundle: tried again after --retry seconds
RETRYABLE = frozenset({"download_failed", "truncated", "error"})


@dataclass
class AgentConfig:
    broker: Broker
    device_id: str
    group: str
    dir: Path
    trust: Trust
    server: str | None = None  # base URL of `modelport serve` for relative bundle URLs
    api_key: str | None = None
    topics: Topics = field(default_factory=Topics)
    heartbeat_s: float = 30.0
    retry_s: float = 60.0
    max_size: int = MAX_BUNDLE
    timeout_s: float = 60.0


class Agent:
    """Runs until ``stop()``: one thread applies notices, one answers predictions."""

    def __init__(self, config: AgentConfig) -> None:
        self.cfg = config
        self.dir = DeviceDir(config.dir)
        self.model: EdgeModel | None = None
        self.state_name = "empty"  # ok | updating | rolled_back | refused | failed | empty
        self.last_error: dict[str, Any] | None = None
        self.last_health: dict[str, Any] | None = None
        self.requests = 0
        self.predictions = 0
        self.errors = 0
        self._latency: deque[float] = deque(maxlen=1000)
        self._notice: dict[str, Any] | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._infer: queue.Queue[bytes] = queue.Queue(maxsize=1000)
        self._mqtt: Any = None

    # ------------------------------------------------------------------ startup

    def recover(self) -> None:
        """Undo an update a crash cut short, then load the current bundle."""
        state = self.dir.load()
        if state.pending:
            digest = str(state.pending.get("digest"))
            _undo(state)
            state.interrupted[digest] = state.interrupted.get(digest, 0) + 1
            log.warning("update to %s was interrupted; back on %s", digest[:12],
                        (state.current or "no bundle")[:12])
            self.dir.save(state)
        self.dir.clean(state)
        for candidate in (state.current, state.previous):
            if candidate is None:
                continue
            digest = candidate
            try:
                bundle = read_bundle(self.dir.bundle_path(digest), self.cfg.trust,
                                     self.cfg.max_size, expected_digest=digest)
                self.model = EdgeModel(bundle)
            except BundleRejected as exc:
                self._error("startup", digest, exc)
                continue
            if digest != state.current:  # the current one broke on disk: previous serves
                state.current, state.previous = digest, None
                self.dir.save(state)
            self.state_name = "ok"
            return
        self.state_name = "failed" if state.current else "empty"

    # ------------------------------------------------------------------ running

    def run(self) -> None:
        self.recover()
        c = client(self.cfg.broker, f"modelport-edge-{self.cfg.device_id}")
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        c.reconnect_delay_set(1, 30)
        self._mqtt = c
        connect(c, self.cfg.broker)
        worker = threading.Thread(target=self._serve_predictions, daemon=True)
        worker.start()
        self.publish_status()
        try:
            while not self._stop.is_set():
                self._wake.wait(self.cfg.heartbeat_s)
                self._wake.clear()
                if self._stop.is_set():
                    break
                notice = self._notice
                if notice is not None:
                    self.apply(notice)
                self.publish_status()
        finally:
            self.publish_status(online=False)
            c.disconnect()
            c.loop_stop()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _on_connect(self, c: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        t, cfg = self.cfg.topics, self.cfg
        c.subscribe([(t.update(cfg.group), 1), (t.infer(cfg.group, cfg.device_id), 0)])

    def _on_message(self, c: Any, userdata: Any, msg: Any) -> None:
        if msg.topic == self.cfg.topics.update(self.cfg.group):
            if not msg.payload:  # a cleared notice: keep running what we run
                return
            try:
                notice = json.loads(msg.payload)
                if not isinstance(notice, dict) or "digest" not in notice:
                    raise ValueError("no digest")
            except ValueError:
                log.warning("ignoring a malformed update notice")
                return
            self._notice = notice
            self._wake.set()
        else:
            with contextlib.suppress(queue.Full):
                self._infer.put_nowait(msg.payload)

    # ------------------------------------------------------------------ updating

    def apply(self, notice: dict[str, Any]) -> None:
        """Bring this device to the bundle ``notice`` asks of it, or say why not."""
        target = canary.target(notice, self.cfg.device_id)
        if target is None:
            return
        digest = str(target.get("digest", ""))
        if len(digest) != 64 or not set(digest) <= _HEX:
            log.warning("ignoring a notice whose digest is not a SHA-256: %r", digest[:80])
            return
        state = self.dir.load()
        if digest == state.current:
            return
        refused = state.refused.get(digest)
        if refused and not (refused.get("retry") and
                            time.time() - float(refused["at"]) > self.cfg.retry_s):
            return
        if state.interrupted.get(digest, 0) >= MAX_INTERRUPTED:
            self._refuse(state, digest, BundleRejected(
                "interrupted", f"the update to {digest[:12]}… was interrupted "
                               f"{MAX_INTERRUPTED} times; giving up on it"))
            return
        self.state_name = "updating"
        self.publish_status()
        try:
            self._install(state, target, digest)
        except BundleRejected as exc:
            self._refuse(self.dir.load(), digest, exc)
        except Exception as exc:  # a full disk, a bug: undo, report, try again later
            log.exception("update to %s failed", digest[:12])
            state = self.dir.load()
            _undo(state)
            self._refuse(state, digest, BundleRejected("error", f"update failed: {exc}"))

    def _install(self, state: State, target: dict[str, Any], digest: str) -> None:
        before, older = state.current, state.previous
        state.pending = {"digest": digest, "stage": "download", "from": before,
                         "previous": older, "at": time.time()}
        self.dir.save(state)
        data = self._download(target, digest)
        bundle = read_bundle(data, self.cfg.trust, self.cfg.max_size, expected_digest=digest)
        self._check_fits(bundle, target)
        self.dir.store(digest, data)
        self.dir.part_path(digest).unlink(missing_ok=True)
        state.current, state.previous = digest, before
        state.pending = {**state.pending, "stage": "check"}
        self.dir.save(state)
        try:
            candidate = EdgeModel(bundle)
            health = health_check(candidate)
        except BundleRejected as exc:  # onnxruntime cannot load it on this device
            health = Health(False, exc.message, 0, 0.0)
        self.last_health = health.to_dict()
        if not health.ok:
            state.current, state.previous, state.pending = before, older, None
            self.dir.save(state)
            raise BundleRejected("health_check", f"health check failed: {health.reason}; "
                                                 "rolled back")
        with self._lock:
            self.model = candidate
        state.pending = None
        state.interrupted.pop(digest, None)
        self.dir.save(state)
        self.dir.clean(state)
        self.state_name, self.last_error = "ok", None
        log.info("now running %s:%s (%s)", bundle.model, bundle.version, digest[:12])

    def _download(self, target: dict[str, Any], digest: str) -> bytes:
        url = str(target.get("url", ""))
        if not url.startswith(("http://", "https://")):
            if not self.cfg.server:
                raise BundleRejected("download_failed", "the notice gives a relative URL and "
                                                        "the agent has no --server")
            url = self.cfg.server.rstrip("/") + "/" + url.lstrip("/")
        size = int(target.get("size", 0))
        if size > self.cfg.max_size:
            raise BundleRejected("too_large", f"the bundle is {size:,} bytes, over this "
                                              f"device's {self.cfg.max_size:,}-byte limit")
        # the key goes only to our own server: a notice may name any URL (the signature
        # protects the bundle, nothing would protect a key sent elsewhere)
        server = self.cfg.server
        ours = server is not None and url.startswith(server.rstrip("/") + "/")
        headers = ({"Authorization": f"Bearer {self.cfg.api_key}"}
                   if self.cfg.api_key and ours else {})
        part = self.dir.part_path(digest)
        hasher, total = hashlib.sha256(), 0
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                        timeout=self.cfg.timeout_s) as resp, \
                    part.open("wb") as fh:
                while chunk := resp.read1(64 * 1024):
                    total += len(chunk)
                    if total > self.cfg.max_size:
                        raise BundleRejected("too_large", "the download is over this device's "
                                             f"{self.cfg.max_size:,}-byte limit")
                    hasher.update(chunk)
                    fh.write(chunk)
                    fh.flush()
        except urllib.error.HTTPError as exc:
            raise BundleRejected("download_failed", f"the server answered {exc.code} for "
                                                    f"{url}") from None
        except http.client.IncompleteRead:
            raise BundleRejected("truncated", f"the download of {digest[:12]}… was cut short "
                                              f"after {total:,} bytes") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise BundleRejected("download_failed", f"cannot download {url}: {reason}") from None
        if size and total != size:
            raise BundleRejected("truncated", f"the download of {digest[:12]}… was cut short: "
                                              f"{total:,} of {size:,} bytes")
        if hasher.hexdigest() != digest:
            raise BundleRejected("digest_mismatch", f"the downloaded bundle's SHA-256 is not "
                                                    f"the announced {digest[:12]}…")
        return part.read_bytes()

    def _check_fits(self, bundle: Bundle, target: dict[str, Any]) -> None:
        if bundle.model != target.get("model") or bundle.version != target.get("version"):
            raise BundleRejected("mismatch", f"the bundle holds {bundle.model}:{bundle.version}"
                                 f", the notice announced {target.get('model')}:"
                                 f"{target.get('version')}")
        running = self.model
        if running is not None and _inputs(bundle) != _inputs(running.bundle):
            raise BundleRejected(
                "signature_mismatch", f"{bundle.model}:{bundle.version} takes inputs "
                f"({_describe(bundle)}) but this device feeds ({_describe(running.bundle)}) — "
                "a bundle for another signature is not installed over a running one")

    def _refuse(self, state: State, digest: str, exc: BundleRejected) -> None:
        self.dir.part_path(digest).unlink(missing_ok=True)
        state.pending = None
        state.refused[digest] = {"reason": exc.reason, "message": exc.message,
                                 "at": time.time(), "retry": exc.reason in RETRYABLE}
        self.dir.save(state)
        self._error("update", digest, exc)
        if self.model is None:
            self.state_name = "failed"
        else:
            self.state_name = "rolled_back" if exc.reason == "health_check" else "refused"
        log.warning("refused %s: %s", digest[:12], exc.message)

    def _error(self, during: str, digest: str, exc: BundleRejected) -> None:
        self.last_error = {"during": during, "digest": digest, "reason": exc.reason,
                           "message": exc.message, "at": time.time()}

    # ------------------------------------------------------------------ predicting

    def _serve_predictions(self) -> None:
        result_topic = self.cfg.topics.result(self.cfg.group, self.cfg.device_id)
        while not self._stop.is_set():
            try:
                payload = self._infer.get(timeout=0.5)
            except queue.Empty:
                continue
            answer = self.predict_request(payload)
            if self._mqtt is not None:
                self._mqtt.publish(result_topic, json.dumps(answer), qos=0)

    def predict_request(self, payload: bytes) -> dict[str, Any]:
        """Answer one ``{"id", "inputs"}`` request with the model running now."""
        started = time.perf_counter()
        request_id = None
        with self._lock:
            model = self.model
        try:
            doc = json.loads(payload)
            request_id = doc.get("id") if isinstance(doc, dict) else None
            if model is None:
                raise RuntimeError("no bundle installed yet")
            outputs = model.predict(doc["inputs"])
        except Exception as exc:
            self.errors += 1
            return {"id": request_id, "error": str(exc)}
        self._latency.append(time.perf_counter() - started)
        self.requests += 1
        self.predictions += len(outputs["prediction"])
        return {"id": request_id, "model": model.bundle.model,
                "version": model.bundle.version, "digest": model.bundle.digest,
                "outputs": {k: np.asarray(v).tolist() for k, v in outputs.items()}}

    # ------------------------------------------------------------------ reporting

    def status(self, online: bool = True) -> dict[str, Any]:
        with self._lock:
            model = self.model
        lat = sorted(self._latency)
        return {
            "device": self.cfg.device_id, "group": self.cfg.group, "online": online,
            "state": self.state_name, "healthy": model is not None and self.state_name in (
                "ok", "rolled_back", "refused", "updating"),
            "model": model.bundle.model if model else None,
            "version": model.bundle.version if model else None,
            "digest": model.bundle.digest if model else None,
            "last_error": self.last_error, "last_health": self.last_health,
            "metrics": {"requests": self.requests, "predictions": self.predictions,
                        "errors": self.errors,
                        "latency_ms_p50": _quantile(lat, 0.5),
                        "latency_ms_p99": _quantile(lat, 0.99)},
            "ts": time.time(),
        }

    def publish_status(self, online: bool = True) -> None:
        if self._mqtt is None:
            return
        topic = self.cfg.topics.status(self.cfg.group, self.cfg.device_id)
        info = self._mqtt.publish(topic, json.dumps(self.status(online)), qos=1, retain=True)
        with contextlib.suppress(RuntimeError, ValueError):
            info.wait_for_publish(5)


def _undo(state: State) -> None:
    """Put ``state`` back to where it was before its pending update began."""
    pending = state.pending or {}
    if pending.get("stage") == "check":  # swapped, never confirmed healthy
        state.current = pending.get("from")
        state.previous = pending.get("previous")
    state.pending = None


def _inputs(bundle: Bundle) -> list[tuple[str, str]]:
    return [(c["name"], c["dtype"]) for c in bundle.inputs]


def _describe(bundle: Bundle) -> str:
    names = [c["name"] for c in bundle.inputs]
    return ", ".join(names[:4]) + (f", … {len(names)} columns" if len(names) > 4 else "")


def _quantile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return round(sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))] * 1000,
                 3)
