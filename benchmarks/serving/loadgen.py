"""wrk, run the same way for every server, and its report parsed into numbers.

One wrk thread on the core the servers do not use (``taskset -c 1``), a fixed
number of keep-alive connections, one precomputed POST (``post.lua``), and
``--latency`` for the percentiles. Errors are wrk's socket errors (connect,
read, write, timeout) plus its "Non-2xx or 3xx responses" count.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LUA = HERE / "post.lua"
LOAD_CORE = "1"
TIMEOUT_S = 2  # wrk's default, stated explicitly: slower answers count as timeouts

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


@dataclass
class WrkResult:
    rps: float
    requests: int
    seconds: float
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p99_ms: float
    avg_ms: float
    max_ms: float
    non_2xx: int = 0
    socket_errors: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return self.non_2xx + sum(self.socket_errors.values())

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "errors": self.errors}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if match is None:
        raise ValueError(f"cannot read a wrk duration from {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse(output: str) -> WrkResult:
    """The numbers of one ``wrk --latency`` report."""
    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output, re.MULTILINE)
        if match is None:
            raise ValueError(f"wrk output has no {pattern!r}:\n{output}")
        return match

    latency = find(r"^\s+Latency\s+(\S+)\s+\S+\s+(\S+)")
    pct = {p: _ms(find(rf"^\s+{p}%\s+(\S+)").group(1)) for p in (50, 75, 90, 99)}
    total = find(r"^\s+(\d+) requests in ([\d.]+)(us|ms|s|m)")
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkResult(
        rps=float(find(r"^Requests/sec:\s+([\d.]+)").group(1)),
        requests=int(total.group(1)),
        seconds=_ms(total.group(2) + total.group(3)) / 1e3,
        p50_ms=pct[50], p75_ms=pct[75], p90_ms=pct[90], p99_ms=pct[99],
        avg_ms=_ms(latency.group(1)), max_ms=_ms(latency.group(2)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=dict(zip(("connect", "read", "write", "timeout"),
                               map(int, socket.groups()), strict=True)) if socket else {},
    )


def command(url: str, connections: int, seconds: float) -> list[str]:
    return ["taskset", "-c", LOAD_CORE, "wrk", "-t1", f"-c{connections}",
            f"-d{max(1, round(seconds))}s", "--latency", "--timeout", f"{TIMEOUT_S}s",
            "-s", str(LUA), url]


def start(url: str, body: Path, connections: int, seconds: float) -> subprocess.Popen[str]:
    """wrk in the background (for profiling while it runs); read it with ``finish``."""
    return subprocess.Popen(command(url, connections, seconds), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "WRK_BODY": str(body)})


def finish(proc: subprocess.Popen[str], seconds: float) -> WrkResult:
    try:
        output, _ = proc.communicate(timeout=seconds + 30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{output}")
    return parse(output)


def run(url: str, body: Path, connections: int, seconds: float) -> WrkResult:
    return finish(start(url, body, connections, seconds), seconds)


def version() -> str:
    out = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).splitlines()[0].split(" Copyright")[0].strip()
