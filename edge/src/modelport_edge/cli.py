"""``modelport-edge``: verify a bundle, predict with it, or run the device agent.

Plain argparse: a device installs no CLI framework. Every refusal prints one
line on stderr and exits 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import numpy as np

from modelport_edge.errors import BundleRejected
from modelport_edge.trust import Trust


def verify(path: str | Path, trust: Trust) -> dict[str, Any]:
    """Verify a bundle and load its model once; the bundle's summary if both succeed."""
    from modelport_edge.bundle import read_bundle
    from modelport_edge.runtime import EdgeModel, health_check

    _need_trust(trust)
    bundle = read_bundle(path, trust)
    health = health_check(EdgeModel(bundle))
    if not health.ok:
        raise BundleRejected("health_check", f"health check failed: {health.reason}")
    return {**bundle.summary(), "health": health.to_dict()}


def predict(path: str | Path, trust: Trust, input_path: str | Path) -> dict[str, Any]:
    """Predictions for the rows in a JSON file (a list of rows, or ``{"inputs": rows}``)."""
    from modelport_edge.runtime import load

    _need_trust(trust)
    try:
        doc = json.loads(Path(input_path).read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read rows from {input_path}: {exc}") from None
    rows = doc.get("inputs") if isinstance(doc, dict) else doc
    model = load(path, trust)
    outputs = model.predict(rows)  # a ValueError names the expected columns
    return {"model": model.bundle.model, "version": model.bundle.version,
            **{k: np.asarray(v).tolist() for k, v in outputs.items()}}


def agent(args: argparse.Namespace, trust: Trust) -> None:
    from modelport_edge.agent import Agent, AgentConfig
    from modelport_edge.mqtt import Broker, Topics

    _need_trust(trust)
    config = AgentConfig(broker=Broker.parse(args.broker), device_id=args.device_id,
                         group=args.group, dir=Path(args.dir), trust=trust,
                         server=args.server, api_key=args.api_key,
                         topics=Topics(args.topic_prefix), heartbeat_s=args.heartbeat,
                         retry_s=args.retry)
    runner = Agent(config)
    signal.signal(signal.SIGTERM, lambda *_: runner.stop())
    runner.run()


def _need_trust(trust: Trust) -> None:
    if not trust:
        raise BundleRejected("no_trust", "no trusted public key — pass --trust FILE (the "
                                         "publisher's: modelport keys signing public NAME)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="modelport-edge", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    def trusting(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument("--trust", action="append", default=[], metavar="PUBKEY",
                         help="a trusted publisher's public key file (repeatable)")
        cmd.add_argument("--trust-dir", action="append", default=[], metavar="DIR",
                         help="a directory of trusted *.pub / *.pem keys")

    v = sub.add_parser("verify", help="check a bundle's signature, digests and health")
    v.add_argument("path")
    v.add_argument("--json", action="store_true")
    trusting(v)
    pr = sub.add_parser("predict", help="run a bundle on rows from a JSON file")
    pr.add_argument("path")
    pr.add_argument("--input", required=True, metavar="FILE")
    trusting(pr)
    a = sub.add_parser("agent", help="follow update notices over MQTT and install bundles")
    a.add_argument("--broker", required=True, help="mqtt://HOST:PORT")
    a.add_argument("--device-id", required=True)
    a.add_argument("--group", required=True)
    a.add_argument("--dir", required=True, help="where bundles and state live")
    a.add_argument("--server", help="modelport serve URL bundles are downloaded from")
    a.add_argument("--api-key", help="API key with the read scope, if the server needs one")
    a.add_argument("--topic-prefix", default="modelport/edge")
    a.add_argument("--heartbeat", type=float, default=30.0, help="seconds between statuses")
    a.add_argument("--retry", type=float, default=60.0,
                   help="seconds before a failed download is tried again")
    a.add_argument("--log-level", default="INFO")
    trusting(a)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        trust = Trust.load(args.trust, args.trust_dir)
        if args.command == "verify":
            summary = verify(args.path, trust)
            if args.json:
                print(json.dumps(summary, indent=2))
            else:
                print(f"ok: {summary['model']}:{summary['version']} signed by "
                      f"{summary['key_id']}, {summary['size']:,} bytes, "
                      f"{summary['health']['rows']} smoke rows pass")
        elif args.command == "predict":
            print(json.dumps(predict(args.path, trust, args.input)))
        else:
            logging.basicConfig(level=args.log_level.upper(),
                                format="%(asctime)s %(levelname)s %(name)s: %(message)s")
            agent(args, trust)
    except BundleRejected as exc:
        print(f"refused ({exc.reason}): {exc.message}", file=sys.stderr)
        return 1
    except (ValueError, ConnectionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
