"""``modelport edge``: signed bundles for devices, publishing them, watching the fleet.

``export``, ``publish`` and ``devices`` are the publisher's side; ``verify``,
``predict`` and ``agent`` run the device runtime (``modelport_edge``), the same
code ``modelport-edge`` runs on a device with nothing else installed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from modelport.errors import BundleRejectedError, InvalidInputError
from modelport.interfaces.cli.render import JsonFlag, console, emit_json, table, when

edge_app = typer.Typer(help="Edge devices: signed bundles, an update agent, fleet canaries.",
                       no_args_is_help=True)

T = TypeVar("T")
TrustOpt = Annotated[list[Path] | None, typer.Option(
    "--trust", help="Trusted public key file (repeatable); default: this machine's signing "
                    "keys.")]
BrokerOpt = Annotated[str, typer.Option(help="MQTT broker URL.")]
PrefixOpt = Annotated[str, typer.Option(help="MQTT topic prefix.")]


def register(app: typer.Typer) -> None:
    app.add_typer(edge_app, name="edge")


def _edge(call: Callable[[], T]) -> T:
    """Run device-runtime code; its refusals become one-line modelport errors."""
    from modelport_edge import BundleRejected

    try:
        return call()
    except BundleRejected as exc:
        raise BundleRejectedError(f"bundle refused ({exc.reason}): {exc.message}",
                                  exc.reason) from None
    except ValueError as exc:  # rows that do not fit the model's inputs
        raise InvalidInputError(str(exc)) from None


def _trust(files: list[Path] | None) -> Any:
    from modelport_edge import Trust

    if files:
        return _edge(lambda: Trust.load(files))
    from modelport.runtimes.edge.signing import local_trust

    return local_trust()


@edge_app.command("export")
def export(
    ref: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@ALIAS")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Bundle file to write (.mpb).")],
    quantize: Annotated[str | None, typer.Option(help="int8: dynamic int8 quantization.")
                        ] = None,
    key: Annotated[str | None, typer.Option(help="Signing key name (default: the only one).")
                   ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Build a signed bundle: ONNX model, manifest (signature, digests, parity), signature."""
    from modelport.runtimes.edge.export import export_bundle

    bundle = export_bundle(ref, out, key=key, quantize=quantize)
    info = bundle.to_dict()
    if as_json:
        emit_json(info)
        return
    parity = info["parity"]
    console.print(f"wrote {out}: {info['model']}:{info['version']}, {info['size']:,} bytes "
                  f"(model {info['sizes']['model']:,}), signed by {info['key_id']}")
    if "output" in parity:  # an imported graph, compared on its input example
        console.print(f"parity with the imported graph on its input example: "
                      f"{parity['output']!r} max abs diff {parity['max_abs_diff']:.3g} "
                      f"({parity['max_rel_error']:.2%} of its range) on {parity['rows']} rows"
                      + (f", labels agree on {parity['labels_agree']:.0%}"
                         if "labels_agree" in parity else ""))
    else:
        console.print(f"parity with the source model: labels agree on "
                      f"{parity['labels_agree']:.1%} of {parity['rows']} rows, max abs diff "
                      f"{parity['max_abs_diff']:.3g}")
    if info["quantized"] and info["quantized"].get("note"):
        console.print(f"note: {info['quantized']['note']}")


@edge_app.command("verify")
def verify(path: Annotated[Path, typer.Argument(help="Bundle file.")],
           trust: TrustOpt = None, as_json: JsonFlag = False) -> None:
    """Check a bundle's signature and digests, load it and replay its smoke rows."""
    from modelport_edge.cli import verify as run_verify

    summary = _edge(lambda: run_verify(path, _trust(trust)))
    if as_json:
        emit_json(summary)
        return
    console.print(f"ok: {summary['model']}:{summary['version']} signed by {summary['key_id']}, "
                  f"{summary['size']:,} bytes, {summary['health']['rows']} smoke rows pass")


@edge_app.command("predict")
def predict(path: Annotated[Path, typer.Argument(help="Bundle file.")],
            input: Annotated[Path, typer.Option("--input", "-i", help="JSON rows file.")],
            trust: TrustOpt = None) -> None:
    """Run a bundle on rows from a JSON file (a list of rows, or {"inputs": rows})."""
    from modelport_edge.cli import predict as run_predict

    emit_json(_edge(lambda: run_predict(path, _trust(trust), input)))


@edge_app.command("publish")
def publish(
    ref: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@ALIAS")],
    group: Annotated[str, typer.Option(help="Device group to update.")],
    percent: Annotated[float, typer.Option(help="Share of the group's devices (canary).")
                       ] = 100.0,
    bundle: Annotated[Path | None, typer.Option(
        help="Publish this exported bundle instead of building one.")] = None,
    quantize: Annotated[str | None, typer.Option(help="int8 when building the bundle.")
                        ] = None,
    key: Annotated[str | None, typer.Option(help="Signing key name.")] = None,
    broker: BrokerOpt = "mqtt://127.0.0.1:1883",
    topic_prefix: PrefixOpt = "modelport/edge",
    as_json: JsonFlag = False,
) -> None:
    """Announce a version to a group's devices (retained MQTT notice); serve delivers it."""
    from modelport.runtimes.edge.publish import publish as run_publish

    notice = run_publish(ref, group, percent, broker=broker, bundle=bundle, key=key,
                         quantize=quantize, topic_prefix=topic_prefix)
    if as_json:
        emit_json(notice)
        return
    fallback = notice["fallback"]
    rest = (f"; the others stay on {fallback['model']}:{fallback['version']}" if fallback
            else "")
    console.print(f"published {notice['model']}:{notice['version']} ({notice['digest'][:12]}, "
                  f"{notice['size']:,} bytes) to {notice['percent']:g}% of group {group}{rest}")
    console.print("devices download it from `modelport serve` at " + notice["url"])


@edge_app.command("devices")
def devices(
    group: Annotated[str | None, typer.Option(help="Only this group.")] = None,
    broker: BrokerOpt = "mqtt://127.0.0.1:1883",
    topic_prefix: PrefixOpt = "modelport/edge",
    wait: Annotated[float, typer.Option(help="Seconds to collect statuses.")] = 1.0,
    record: Annotated[bool, typer.Option(
        "--record", help="Also keep the statuses in the store (with each device's role in "
                         "its group's rollout), for the team server and the dashboard.")
                      ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Each device's bundle, version, health and last report (retained MQTT statuses)."""
    from modelport.runtimes.edge.publish import devices as run_devices

    if record:
        from modelport.runtimes.edge.fleet import record_fleet

        kept = record_fleet(group, broker=broker, topic_prefix=topic_prefix, seconds=wait)
        if not as_json:
            console.print(f"recorded {len(kept)} device status(es) in the store")
    found = run_devices(group, broker=broker, topic_prefix=topic_prefix, seconds=wait)
    if as_json:
        emit_json(found)
        return
    table(None, ["device", "group", "model", "bundle", "state", "healthy", "online",
                 "predictions", "last error", "last seen"],
          ([d.get("device"), d.get("group"),
            f"{d.get('model')}:{d.get('version')}" if d.get("model") else "-",
            (d.get("digest") or "-")[:12], d.get("state"), d.get("healthy"), d.get("online"),
            (d.get("metrics") or {}).get("predictions"),
            (d.get("last_error") or {}).get("reason", "-"), when(d.get("ts"))]
           for d in found))


@edge_app.command("agent")
def agent(
    broker: Annotated[str, typer.Option(help="MQTT broker URL, e.g. mqtt://127.0.0.1:1883.")],
    device_id: Annotated[str, typer.Option(help="This device's id.")],
    group: Annotated[str, typer.Option(help="The group whose notices it follows.")],
    dir: Annotated[Path, typer.Option(help="Where bundles and state live.")],
    server: Annotated[str | None, typer.Option(help="modelport serve URL for downloads.")
                      ] = None,
    api_key: Annotated[str | None, typer.Option(help="API key with the read scope.")] = None,
    trust: TrustOpt = None,
    topic_prefix: PrefixOpt = "modelport/edge",
    heartbeat: Annotated[float, typer.Option(help="Seconds between status reports.")] = 30.0,
) -> None:
    """Run the device agent (the same as `modelport-edge agent`)."""
    from modelport_edge.cli import main as edge_main

    args = ["agent", "--broker", broker, "--device-id", device_id, "--group", group,
            "--dir", str(dir), "--topic-prefix", topic_prefix, "--heartbeat", str(heartbeat)]
    if server:
        args += ["--server", server]
    if api_key:
        args += ["--api-key", api_key]
    if trust:
        for path in trust:
            args += ["--trust", str(path)]
    else:
        raise InvalidInputError("the agent needs --trust PUBKEY_FILE: the public key of the "
                                "signing key bundles are published with")
    code = edge_main(args)
    if code:
        raise typer.Exit(code)
