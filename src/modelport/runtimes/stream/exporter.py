"""``/metrics`` for a stream consumer, in the Prometheus text format.

A consumer is not an HTTP server, so it gets a tiny one of its own on a
daemon thread (``--metrics-port``); it only reads the runner's counters, which
the consumer loop updates in place.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

COUNTERS = ("events", "predictions", "dead_letters", "redelivered", "labels", "learnt",
            "resets", "retrains", "checkpoints")


def render(name: str, consumer: str, model: str, stats: dict[str, Any]) -> bytes:
    labels = f'stream="{name}",consumer="{consumer}",model="{model}"'
    out: list[str] = []
    for key in COUNTERS:
        out += [f"# TYPE modelport_stream_{key}_total counter",
                f"modelport_stream_{key}_total{{{labels}}} {stats.get(key, 0)}"]
    gauges = {"events_per_second": stats.get("events_per_second"), "lag": stats.get("lag"),
              "pending": stats.get("pending")}
    gauges |= {f"join_{k}": v for k, v in stats.get("join", {}).items()}
    gauges |= {k: v for k, v in stats.get("metrics", {}).items()}
    gauges["error_drifts"] = stats.get("drift", {}).get("error_drifts", 0)
    for key, value in gauges.items():
        if value is not None:
            out += [f"# TYPE modelport_stream_{key} gauge",
                    f"modelport_stream_{key}{{{labels}}} {float(value)}"]
    return ("\n".join(out) + "\n").encode()


def serve_metrics(port: int, snapshot: Callable[[], bytes], host: str = "127.0.0.1"
                  ) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            body = snapshot()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="stream-metrics").start()
    return server
