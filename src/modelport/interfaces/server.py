"""Running the server: configuration, the bind-safety rule, the worker processes.

It composes the serving runtime with the control-plane work beside it
(``serving_host``: endpoint and key polling, statistics, the rollout controller,
edge downloads), so it sits above both. ``--workers N`` starts N identical
servers on one socket; the one thing they share is the rate-limit table, made here before the
workers start, so a key's limit holds per server, not per worker.

The app is ASGI too: ``uvicorn --factory modelport.interfaces.server:app_from_env``
runs it under another server, configured by the JSON in ``MODELPORT_SERVE_CONFIG``.
There the listening address is not known in advance, so an app that requires no
key answers only connections made to a loopback address (unless ``insecure``),
and each worker process of that server keeps its own rate-limit table.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from modelport.config import DEFAULT_RUNTIME
from modelport.control.controller import Controller
from modelport.core.keys import list_keys
from modelport.core.workspace import current
from modelport.errors import InvalidInputError, require
from modelport.interfaces.serving_host import serving_app
from modelport.lifecycle.labels import writer_retention
from modelport.lifecycle.predlogs import logs_root, uploads
from modelport.runtimes.drift_gauges import LiveDrift
from modelport.runtimes.prediction_log import PredictionLog, check_sample, check_writer
from modelport.runtimes.serving import h1, process
from modelport.runtimes.serving.app import DEFAULT_MAX_BODY, AppConfig, ServingApp
from modelport.runtimes.serving.auth import Guard, is_loopback
from modelport.runtimes.serving.limits import Buckets
from modelport.runtimes.serving.repository import Repository, ServeOptions, resolve
from modelport.runtimes.serving.service import InferenceService

ENV = "MODELPORT_SERVE_CONFIG"
AUTH_MODES = ("auto", "on", "off")
MAX_PORT = 65_535
MAX_BUSY_POLL_US = 10_000  # beyond this, polling costs a core's worth of CPU for nothing


@dataclass
class ServeConfig:
    refs: list[str] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 8000
    grpc_port: int | None = None  # OIP over gRPC beside HTTP, when set
    workers: int = 1
    runtime: str = DEFAULT_RUNTIME
    auth: str = "auto"  # auto: on when any active API key exists
    insecure: bool = False
    max_batch: int = 256
    batching: bool = True
    max_body: int = DEFAULT_MAX_BODY
    busy_poll_us: float = h1.BUSY_POLL_S * 1e6
    max_connections: int | None = None  # per worker; None: h1.default_max_connections()
    access_log: bool = False
    controller: bool = True  # run the rollout controller inside the server
    log_sample: float = 0.0  # share of requests whose rows are logged (0: no logging)
    log_retention_s: float | None = None  # logged hours older than this are removed


def auth_enabled(config: ServeConfig) -> bool:
    """Decide, and refuse an unsafe combination before anything listens."""
    if config.auth not in AUTH_MODES:
        raise InvalidInputError(f"--auth must be one of {', '.join(AUTH_MODES)}")
    has_keys = bool(list_keys())
    if config.auth == "on" and not has_keys:
        raise InvalidInputError("--auth on needs an API key — create one with: "
                                "modelport keys create NAME")
    enabled = config.auth == "on" or (config.auth == "auto" and has_keys)
    if not enabled and not is_loopback(config.host) and not config.insecure:
        raise InvalidInputError(
            f"refusing to serve on {config.host} without authentication — create a key with "
            "'modelport keys create NAME' (then clients send 'Authorization: Bearer KEY'), or "
            "pass --insecure if the network in front of this server does the checking")
    return enabled


def build_app(config: ServeConfig, buckets: Buckets | None = None,
              asgi: bool = False) -> ServingApp:
    """One worker's app. ``buckets``: the rate-limit table the server's workers share.

    With ``--auth auto`` the guard is made even while no key exists: the app re-reads
    the keys every few seconds and requires one from the moment the first is created."""
    options = ServeOptions(runtime=config.runtime, max_batch=config.max_batch,
                           batching=config.batching)
    ws = current()
    repository = Repository(config.refs or None, options, ws=ws)
    mode = "on" if auth_enabled(config) else config.auth
    guard = None if mode == "off" else Guard(ws, mode, buckets)
    controller = None
    if config.controller:
        controller = Controller(ws)
    app_config = AppConfig(max_body=config.max_body, access_log=config.access_log,
                           loopback_only=asgi and not config.insecure)
    predlog = None
    if config.log_sample > 0:  # each worker writes its own files: no lock across processes
        predlog = PredictionLog(logs_root(ws), config.log_sample,
                                writer_retention(ws, config.log_retention_s),
                                live=LiveDrift(ws), upload=uploads(ws))
    return serving_app(InferenceService(repository, predlog), guard, app_config, controller)


def app_from_env() -> ServingApp:
    """An ASGI app factory for other servers."""
    return build_app(ServeConfig(**json.loads(os.environ[ENV])), asgi=True)


def check(config: ServeConfig) -> None:
    """Refuse bad settings, and references that name nothing, with one clear line —
    before anything listens or loads."""
    for flag, port in (("--port", config.port), ("--grpc-port", config.grpc_port)):
        if port is not None and not 0 <= port <= MAX_PORT:
            raise InvalidInputError(f"{flag} must be between 0 and {MAX_PORT}, not {port}")
    if config.grpc_port is not None:
        require("google.protobuf", "grpc")
        if config.grpc_port == config.port:
            raise InvalidInputError("--grpc-port must differ from --port")
    if config.workers < 1:
        raise InvalidInputError("--workers must be at least 1")
    if not 0 <= config.busy_poll_us <= MAX_BUSY_POLL_US:
        raise InvalidInputError(f"--busy-poll-us must be between 0 and {MAX_BUSY_POLL_US:,}")
    if config.max_connections is not None and config.max_connections < 1:
        raise InvalidInputError("--max-connections must be at least 1")
    check_sample(config.log_sample)
    if config.log_sample > 0:
        check_writer()
    auth_enabled(config)
    resolve(config.refs or None)


def access(config: ServeConfig) -> str:
    """Who may call the server, for its banner: whether keys are required, how many
    are active and their scopes — never a key itself."""
    keys = list_keys()
    if auth_enabled(config):
        scopes = sorted({scope for key in keys for scope in key.scopes})
        return (f"API keys required ({len(keys)} active key{'s' if len(keys) > 1 else ''}; "
                f"scopes: {', '.join(scopes)})")
    if config.auth == "off":
        return "no API key required (--auth off)"
    return "no API key required (until one is created: modelport keys create NAME)"


def run(config: ServeConfig, announce: Callable[[], None] | None = None) -> None:
    """Serve until SIGTERM or SIGINT. ``announce`` is called once the socket is bound —
    every setting and reference checked — and before any worker starts."""
    check(config)
    options = h1.Options(config.max_body, config.busy_poll_us / 1e6,
                         config.max_connections or h1.default_max_connections())
    sock = process.bind(config.host, config.port)
    extras = []
    if config.grpc_port is not None:
        process.bind(config.host, config.grpc_port).close()  # taken: one clear line, now
        from modelport.runtimes.serving.grpc_server import GrpcTransport

        extras.append(functools.partial(GrpcTransport, host=config.host, port=config.grpc_port,
                                        max_message=config.max_body,
                                        shared=config.workers > 1))
    if announce is not None:
        announce()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    make_app = functools.partial(build_app, config, Buckets())
    with sock:
        if config.workers == 1:
            process.serve(make_app, sock, options, extras)
        else:
            process.supervise(make_app, sock, options, config.workers, extras)
