"""Crash recovery from every stage an update can be cut at, without a broker: the
agent's startup alone must land on a consistent, verified bundle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelport.config import Settings
from modelport.core.workspace import Workspace
from modelport.runtimes.edge.export import build_bundle
from modelport_edge.agent import Agent, AgentConfig
from modelport_edge.canary import bucket, selected, target
from modelport_edge.device import DeviceDir, State
from modelport_edge.mqtt import Broker
from modelport_edge.trust import Trust


@pytest.fixture
def bundles(publisher: Path) -> tuple[bytes, bytes]:
    ws = Workspace.open(Settings(home=publisher))
    return (build_bundle("cancer:1", key="release", ws=ws).data,
            build_bundle("cancer:2", key="release", ws=ws).data)


def _agent(root: Path, publisher: Path) -> Agent:
    return Agent(AgentConfig(Broker.parse("mqtt://127.0.0.1:1883"), "d", "g", root,
                             Trust.load([publisher.parent / "release.pub"])))


def _device(root: Path, bundles: tuple[bytes, bytes]) -> tuple[DeviceDir, str, str]:
    from modelport_edge.bundle import sha256

    device = DeviceDir(root)
    v1, v2 = sha256(bundles[0]), sha256(bundles[1])
    device.store(v1, bundles[0])
    device.store(v2, bundles[1])
    return device, v1, v2


def test_killed_after_the_swap_before_the_health_check(tmp_path: Path, publisher: Path,
                                                       bundles: tuple[bytes, bytes]) -> None:
    device, v1, v2 = _device(tmp_path, bundles)
    device.save(State(current=v2, previous=v1, pending={
        "digest": v2, "stage": "check", "from": v1, "previous": None}))
    agent = _agent(tmp_path, publisher)
    agent.recover()
    state = device.load()
    assert (state.current, state.previous, state.pending) == (v1, None, None)
    assert state.interrupted == {v2: 1}
    assert agent.model is not None and agent.model.bundle.version == 1
    assert agent.status()["state"] == "ok" and agent.status()["digest"] == v1
    assert not device.bundle_path(v2).exists()  # unconfirmed: fetched again if still wanted


def test_killed_during_the_download(tmp_path: Path, publisher: Path,
                                    bundles: tuple[bytes, bytes]) -> None:
    device, v1, v2 = _device(tmp_path, bundles)
    device.bundle_path(v2).unlink()
    device.part_path(v2).write_bytes(bundles[1][:100])
    device.save(State(current=v1, pending={"digest": v2, "stage": "download", "from": v1}))
    agent = _agent(tmp_path, publisher)
    agent.recover()
    assert device.load().current == v1 and not device.part_path(v2).exists()
    assert agent.model is not None and agent.model.bundle.version == 1


def test_a_damaged_current_bundle_falls_back_to_the_previous(
        tmp_path: Path, publisher: Path, bundles: tuple[bytes, bytes]) -> None:
    device, v1, v2 = _device(tmp_path, bundles)
    device.save(State(current=v2, previous=v1))
    device.bundle_path(v2).write_bytes(bundles[1][:-10])  # disk corruption
    agent = _agent(tmp_path, publisher)
    agent.recover()
    assert device.load().current == v1 and agent.model is not None
    assert agent.last_error is not None and agent.last_error["digest"] == v2


def test_a_model_this_device_cannot_load_is_rolled_back(
        tmp_path: Path, publisher: Path, bundles: tuple[bytes, bytes]) -> None:
    from fleet import FlakyServer
    from helpers import entries

    from modelport.runtimes.edge.signing import load_private
    from modelport_edge.bundle import pack, sha256

    device, v1, _ = _device(tmp_path, bundles)
    device.save(State(current=v1))
    manifest = json.loads(entries(bundles[1])["manifest.json"])
    broken = pack(manifest, b"not an onnx model", load_private("release"))
    agent = _agent(tmp_path, publisher)
    agent.recover()
    server = FlakyServer(broken, "ok")
    try:
        agent.apply({"model": "cancer", "version": 2, "digest": sha256(broken),
                     "size": len(broken), "url": server.url, "percent": 100})
    finally:
        server.close()
    state = device.load()
    assert state.current == v1 and state.pending is None
    assert state.refused[sha256(broken)]["reason"] == "health_check"
    assert "onnxruntime cannot load the model" in state.refused[sha256(broken)]["message"]
    assert agent.status()["state"] == "rolled_back" and agent.model is not None
    assert agent.model.bundle.version == 1


def test_the_api_key_goes_only_to_the_agents_own_server(
        tmp_path: Path, publisher: Path, bundles: tuple[bytes, bytes]) -> None:
    from fleet import FlakyServer

    from modelport_edge.bundle import sha256

    device, v1, v2 = _device(tmp_path, bundles)
    device.bundle_path(v2).unlink()
    device.save(State(current=v1))
    server = FlakyServer(bundles[1], "ok")
    notice = {"model": "cancer", "version": 2, "digest": v2, "size": len(bundles[1]),
              "url": server.url, "percent": 100}
    try:
        elsewhere = _agent(tmp_path, publisher)
        elsewhere.cfg.server, elsewhere.cfg.api_key = "http://hub.example:8000", "mp_secret"
        elsewhere.recover()
        elsewhere.apply(notice)
        assert server.authorization == [None]
        assert device.load().current == v2 == sha256(bundles[1])

        device.save(State(current=v1))
        ours = _agent(tmp_path, publisher)
        ours.cfg.server, ours.cfg.api_key = server.base, "mp_secret"
        ours.recover()
        ours.apply({**notice, "url": "/bundle"})
        assert server.authorization[-1] == "Bearer mp_secret"
        assert device.load().current == v2
        ours.apply({**notice, "digest": "../../etc/passwd"})  # a malformed notice: ignored
        assert device.load().current == v2 and "../../etc/passwd" not in device.load().refused
    finally:
        server.close()


def test_state_file_is_replaced_whole(tmp_path: Path) -> None:
    device = DeviceDir(tmp_path)
    device.save(State(current="a" * 64))
    assert json.loads(device.state_path.read_text())["current"] == "a" * 64
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == []


def test_canary_selection_is_stable_and_widening_keeps_devices() -> None:
    devices = [f"d{i}" for i in range(400)]
    at10 = {d for d in devices if selected(d, "m", 2, 10)}
    at50 = {d for d in devices if selected(d, "m", 2, 50)}
    assert at10 < at50 and 20 < len(at10) < 60 and 160 < len(at50) < 240
    assert all(0 <= bucket(d, "m", 2) < 100 for d in devices)
    notice = {"model": "m", "version": 2, "digest": "new", "percent": 10,
              "fallback": {"model": "m", "version": 1, "digest": "old"}}
    chosen = {d: target(notice, d)["digest"] for d in devices}  # type: ignore[index]
    assert {d for d, digest in chosen.items() if digest == "new"} == at10
    assert target({**notice, "fallback": None}, next(d for d in devices if d not in at10)) \
        is None
