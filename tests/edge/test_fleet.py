"""A fleet on the real Mosquitto: three agent processes, bundles from a real server.

v1 to every device, v2 to a third (canary), refused bundles (unknown key,
altered model, truncated download, another signature), a failed health check
that rolls back, and an agent killed with SIGKILL in the middle of an update.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fleet import Device, FlakyServer, Watcher, announce, start_agent, stop_agent
from helpers import resigned, tampered_model, wrong_smoke

from cli_runner import cli, cli_json
from modelport.config import Settings
from modelport.core.workspace import Workspace
from modelport.errors import BundleRejectedError
from modelport.runtimes.edge.catalog import record_published
from modelport.runtimes.edge.export import build_bundle
from modelport.runtimes.edge.publish import publish
from modelport_edge.canary import selected
from modelport_edge.mqtt import Broker
from servers import Server, start_server, stop_server

Spawn = Callable[[str, str], Device]


@pytest.fixture(scope="module")
def hub(publisher: Path, mosquitto: str) -> Iterator[Server]:
    server = start_server(publisher)
    yield server
    stop_server(server)


@pytest.fixture
def fleet(tmp_path: Path, prefix: str, mosquitto: str, publisher: Path, hub: Server
          ) -> Iterator[tuple[Spawn, Watcher]]:
    devices: list[Device] = []
    watcher = Watcher(Broker.parse(mosquitto), prefix)

    def spawn(device_id: str, group: str) -> Device:
        device = start_agent(device_id, tmp_path / "devices", broker=mosquitto, group=group,
                             prefix=prefix, server=hub.url,
                             trust=publisher.parent / "release.pub")
        devices.append(device)
        return device

    yield spawn, watcher
    for device in devices:
        stop_agent(device)
    watcher.close()
    for device in devices:
        print(device.log.read_text()[-3000:])


def _publish(ref: str, group: str, prefix: str, broker: str, **kw: Any) -> dict[str, Any]:
    return publish(ref, group, broker=broker, topic_prefix=prefix, key="release", **kw)


def _rows(publisher: Path) -> list[list[float]]:
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer().data[:3].tolist()


def test_v1_to_all_then_v2_canary_to_a_third(fleet: tuple[Spawn, Watcher], prefix: str,
                                             mosquitto: str, publisher: Path) -> None:
    spawn, watch = fleet
    ids = [f"dev-{i}" for i in range(50)]
    canary = next(d for d in ids if selected(d, "cancer", 2, 34))
    others = [d for d in ids if not selected(d, "cancer", 2, 34)][:2]
    for device_id in [canary, *others]:
        spawn(device_id, "field")
    v1 = cli_json("edge", "publish", "cancer:1", "--group", "field", "--broker", mosquitto,
                  "--topic-prefix", prefix, "--key", "release")
    assert v1["fallback"] is None and v1["percent"] == 100
    for device_id in [canary, *others]:
        watch.on(device_id, 1)

    v2 = _publish("cancer:2", "field", prefix, mosquitto, percent=34)
    assert v2["fallback"]["digest"] == v1["digest"]
    status = watch.on(canary, 2)
    assert status["digest"] == v2["digest"] and status["healthy"]
    time.sleep(1.5)  # a heartbeat: the others have seen the notice and kept v1
    for device_id in others:
        assert watch.statuses[device_id]["version"] == 1
        assert watch.statuses[device_id]["digest"] == v1["digest"]

    rows = _rows(publisher)
    answer = watch.predict("field", canary, rows)
    assert answer["version"] == 2 and len(answer["outputs"]["prediction"]) == 3
    assert watch.predict("field", others[0], rows)["version"] == 1

    listed = {d["device"]: d for d in cli_json("edge", "devices", "--group", "field",
                                                 "--broker", mosquitto, "--topic-prefix", prefix)}
    assert {d: s["version"] for d, s in listed.items()} == {canary: 2, others[0]: 1,
                                                            others[1]: 1}
    assert all(s["healthy"] and s["online"] for s in listed.values())
    shown = cli("edge", "devices", "--group", "field", "--broker", mosquitto, "--topic-prefix",
                prefix)
    assert f"{canary} " in shown
    assert shown.count("cancer:1") == 2 and shown.count("cancer:2") == 1
    watch.wait(lambda: watch.statuses[canary]["metrics"]["predictions"] >= 3, 5,
               "the canary's metrics")
    kept = cli("edge", "devices", "--group", "field", "--broker", mosquitto, "--topic-prefix",
               prefix, "--record")
    assert "recorded 3 device status(es)" in kept, kept
    fleet_now = Workspace.open(Settings(home=publisher)).store.devices.list_devices("field")
    assert {d.device: (d.role, d.version) for d in fleet_now} == {
        canary: ("canary", 2), others[0]: ("fallback", 1), others[1]: ("fallback", 1)}

    wider = _publish("cancer:2", "field", prefix, mosquitto, percent=100)
    assert wider["digest"] == v2["digest"]  # same version, same bytes
    for device_id in others:
        watch.on(device_id, 2)


def test_bad_bundles_are_refused_and_the_device_keeps_serving(
        fleet: tuple[Spawn, Watcher], prefix: str, mosquitto: str, publisher: Path,
        tmp_path: Path) -> None:
    spawn, watch = fleet
    device = spawn("solo", "lab")
    v1 = _publish("cancer:1", "lab", prefix, mosquitto)
    watch.on("solo", 1)
    ws = Workspace.open(Settings(home=publisher))
    good = build_bundle("cancer:2", key="release", ws=ws).data
    rows = _rows(publisher)

    def refused(data: bytes, reason: str, model: str = "cancer", version: int = 2,
                url: str | None = None) -> dict[str, Any]:
        digest = announce(publisher, mosquitto, prefix, "lab", data, model=model,
                          version=version, url=url)
        status = watch.refused("solo", digest)
        assert status["last_error"]["reason"] == reason, status["last_error"]
        assert status["version"] == 1 and status["digest"] == v1["digest"]
        assert status["healthy"]
        assert watch.predict("lab", "solo", rows)["version"] == 1
        return dict(status)

    rogue = resigned(good, Ed25519PrivateKey.generate())
    status = refused(rogue, "unknown_key")
    assert "does not trust" in status["last_error"]["message"]
    assert status["state"] == "refused"
    refused(tampered_model(good), "model_digest")
    refused(build_bundle("wine:1", key="release", ws=ws).data, "signature_mismatch",
            model="wine", version=1)
    cut = FlakyServer(good, "truncate")
    try:
        status = refused(good, "truncated", url=cut.url)
    finally:
        cut.close()
    assert "cut short" in status["last_error"]["message"]

    status = refused(wrong_smoke(good, _release_key()), "health_check")
    assert status["state"] == "rolled_back"
    assert "rolled back" in status["last_error"]["message"]
    state = device.state()
    assert state["current"] == v1["digest"] and state["pending"] is None
    assert not list((device.dir / "bundles").glob("*.part"))

    # the publisher refuses to announce a bundle its own keys do not verify
    (tmp_path / "rogue.mpb").write_bytes(rogue)
    with pytest.raises(BundleRejectedError, match="does not trust"):
        _publish("cancer:2", "lab", prefix, mosquitto, bundle=tmp_path / "rogue.mpb")


def test_agent_killed_mid_update_recovers(fleet: tuple[Spawn, Watcher], prefix: str,
                                          mosquitto: str, publisher: Path) -> None:
    spawn, watch = fleet
    device = spawn("phoenix", "crash")
    v1 = _publish("cancer:1", "crash", prefix, mosquitto)
    watch.on("phoenix", 1)
    good = build_bundle("cancer:2", key="release",
                        ws=Workspace.open(Settings(home=publisher))).data
    stall = FlakyServer(good, "stall")  # sends half, hangs; the next download succeeds
    try:
        digest = announce(publisher, mosquitto, prefix, "crash", good, model="cancer",
                          version=2, url=stall.url)
        part = device.dir / "bundles" / f"{digest}.part"
        deadline = time.monotonic() + 20
        while not (part.exists() and part.stat().st_size > 0):
            assert time.monotonic() < deadline, "the download never started"
            time.sleep(0.05)
        assert device.state()["pending"]["stage"] == "download"
        stop_agent(device, kill=True)  # SIGKILL: no cleanup of any kind
        assert device.state()["current"] == v1["digest"]

        restarted = spawn("phoenix", "crash")
        status = watch.on("phoenix", 2)
        assert status["digest"] == digest
    finally:
        stall.close()
    state = restarted.state()
    assert state["current"] == digest and state["previous"] == v1["digest"]
    assert state["pending"] is None and state["interrupted"] == {}
    assert sorted(p.name for p in (device.dir / "bundles").iterdir()) == sorted(
        [f"{digest}.mpb", f"{v1['digest']}.mpb"])


def test_bundle_route_serves_only_published_bundles(hub: Server, publisher: Path) -> None:
    from modelport.core.keys import create_key, list_keys, revoke_key
    from modelport.lifecycle.registry import get_version

    ws = Workspace.open(Settings(home=publisher))
    with hub.client() as http:
        unknown = http.get(f"/v2/edge/bundles/{'0' * 64}")
        assert unknown.status_code == 404 and "no published edge bundle" in unknown.json()[
            "error"]
        model_file = get_version("cancer:1", ws=ws).artifact_digest  # stored, never published
        assert http.get(f"/v2/edge/bundles/{model_file}").status_code == 404
        assert http.get("/v2/edge/bundles/..%2F..%2Fetc").status_code == 404
    data = build_bundle("cancer:1", key="release", ws=ws).data
    digest = ws.artifacts.put(data)
    record_published("cancer:1", digest, {"group": "g"}, ws=ws)
    with hub.client() as http:
        got = http.get(f"/v2/edge/bundles/{digest}")
        assert got.status_code == 200 and got.content == data
        assert got.headers["x-bundle-model"] == "cancer:1"

    reader = create_key("device", ["read"], ws=ws)[1]
    caller = create_key("app", ["predict"], ws=ws)[1]
    secured = start_server(publisher, "--auth", "on")
    try:
        url = f"{secured.url}/v2/edge/bundles/{digest}"
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, headers={"Authorization": f"Bearer {caller}"}).status_code == 403
        ok = httpx.get(url, headers={"Authorization": f"Bearer {reader}"})
        assert ok.status_code == 200 and ok.content == data
    finally:
        stop_server(secured)
        for key in list_keys(ws=ws):
            revoke_key(key.id, ws=ws)


def _release_key() -> Any:
    from modelport.runtimes.edge.signing import load_private

    return load_private("release")
