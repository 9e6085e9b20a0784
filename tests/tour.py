"""The README's tour as tests run it: every ```bash and ```python block of "## A tour",
in order, on a fresh workspace, with the real CLI and the real brokers — shared by the
local run (``interfaces/test_readme_tour.py``) and the remote one
(``interfaces/test_readme_tour_remote.py``: the same blocks with ``MODELPORT_URL`` set).

Each ``###`` section is one test case, run on the workspace the earlier sections left
(so a failure names its section; a case is skipped when an earlier one failed, and a
section selected alone with ``-k`` lacks what the earlier ones made). A section runs
as one bash script — as a reader pastes its blocks into one terminal: a ```python block
becomes ``python - <<'EOF' … EOF``, so background jobs (``modelport serve … &``) live
until the section's own ``kill %1``; whatever is still running afterwards is stopped.
A section fails on a non-zero exit (``set -e -o pipefail``), a traceback, or a JSON
``"error"`` answer in its output.

A ``Tour`` changes nothing in the blocks but what its ``substitutions`` list: ports
(free ones instead of 8000 and 9105), long budgets, and the names the tour gives on a
broker — streams, subjects, topics and the edge group — which get a prefix unique to
the tour, so two tours (also the local and the remote one at once) never share one;
they are deleted afterwards.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from servers import free_port

README = Path(__file__).resolve().parents[1] / "README.md"
BROKER_NAMES = ("events", "predictions", "labels")
SECTION_TIMEOUT_S = 480


@dataclass
class Section:
    title: str
    blocks: list[tuple[str, str]]  # (language, code)


def tour_sections(text: str) -> list[Section]:
    """The ``###`` sections of "## A tour", each with its bash and python blocks."""
    tour = text.split("\n## A tour\n", 1)[1].split("\n## ", 1)[0]
    sections = []
    for chunk in tour.split("\n### ")[1:]:
        title, _, body = chunk.partition("\n")
        blocks = re.findall(r"^```(bash|python)\n(.*?)^```$", body, re.M | re.S)
        sections.append(Section(title.strip(), blocks))
    return sections


SECTIONS = tour_sections(README.read_text())


@dataclass
class Tour:
    """One run of the tour: its broker-name prefix, its ports and the variables its
    sections get beside a fresh ``MODELPORT_HOME`` (a remote tour: the server's URL)."""

    run: str = field(default_factory=lambda: f"tour{uuid.uuid4().hex[:8]}")
    serve_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    grpc_port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)  # sections that did not pass
    key: str = ""  # with keys on: the key the tour's calls to its serving replicas carry

    @property
    def substitutions(self) -> list[tuple[str, str]]:
        """(README text, what the test runs instead) — the only changes made to a block."""
        run = self.run
        return [
            # ports: a free one, not one another program may hold
            ("localhost:8000", f"localhost:{self.serve_port}"),
            ("127.0.0.1:8000", f"127.0.0.1:{self.serve_port}"),
            ("--port 8000", f"--port {self.serve_port}"),
            ("--grpc-port 8001", f"--grpc-port {self.grpc_port}"),
            ("localhost:8001", f"localhost:{self.grpc_port}"),
            ("--metrics-port 9105", f"--metrics-port {self.metrics_port}"),
            # long budgets: a few trials and seconds prove the commands as well
            ("--trials 40 --timeout 300", "--trials 2 --timeout 60"),
            ("--trials 20", "--trials 2"),
            ("--trials 100", "--trials 2"),  # one per worker
            ("--budget 60s", "--budget 8s"),
            # broker names, in URLs and in the producers' calls: unique per run
            *[(f"{port}/{name}", f"{port}/{run}-{name}")
              for port in (6379, 4222, 1883) for name in BROKER_NAMES],
            *[(f'{call}("{name}"', f'{call}("{run}-{name}"')
              for call in ("xadd", "xrange", "publish") for name in BROKER_NAMES],
            ("--group field", f"--group {run}-field"),  # an edge group: retained MQTT topics
            *(self.keyed if self.key else []),
        ]

    @property
    def keyed(self) -> list[tuple[str, str]]:
        """With keys on: the calls to a serving replica carry the tour's key, and the
        replicas themselves run with the admin key (``$MODELPORT_ADMIN_KEY``)."""
        bearer = f"Authorization: Bearer {self.key}"
        return [
            ("curl -s localhost", f"curl -s -H '{bearer}' localhost"),
            ('client.infer("iris", [tensor])',
             f'client.infer("iris", [tensor], headers={{"authorization": "Bearer {self.key}"}})'),
            ("--trust release.pub &", f"--trust release.pub --api-key {self.key} &"),
            ("modelport serve ", "MODELPORT_TOKEN=$MODELPORT_ADMIN_KEY modelport serve "),
        ]

    def substitute(self, script: str) -> str:
        for old, new in self.substitutions:
            script = script.replace(old, new)
        return script

    def script(self, section: Section) -> str:
        """One bash script: the blocks in order, each announced, python ones as heredocs."""
        lines = ["set -e -o pipefail"]
        for i, (language, code) in enumerate(section.blocks, 1):
            lines.append(f"echo '>>> block {i} ({language})'")
            if language == "python":
                lines += ["python - <<'__TOUR_PYTHON__'", code.rstrip("\n"),
                          "__TOUR_PYTHON__"]
            else:
                lines.append(code.rstrip("\n"))
        return self.substitute("\n".join(lines) + "\n")

    def environment(self, workspace: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")}
        env.update(MODELPORT_HOME=str(workspace / ".modelport"), COLUMNS="120",
                   PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
        env.update(self.env)
        return env

    def run_section(self, section: Section, workspace: Path) -> tuple[int | None, str]:
        """Run a section's script in ``workspace``: its exit code (None: timed out) and
        output."""
        log = workspace / f"section-{len(list(workspace.glob('section-*')))}.log"
        with log.open("w") as out:
            proc = subprocess.Popen(["bash", "-c", self.script(section)], cwd=workspace,
                                    env=self.environment(workspace), stdout=out,
                                    stderr=subprocess.STDOUT, text=True,
                                    start_new_session=True)
            with _process_group(proc):
                try:
                    code: int | None = proc.wait(timeout=SECTION_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    code = None
        return code, log.read_text()

    def check(self, section: Section, workspace: Path) -> None:
        """Run ``section`` as a test case: skipped after a failed one, failed with its
        output."""
        if self.failed:
            pytest.skip(f"an earlier section failed: {self.failed[0]}")
        self.failed.append(section.title)  # until it passes
        code, output = self.run_section(section, workspace)
        why = problem(code, output)
        assert why is None, f"section {section.title!r} {why}:\n{output[-6000:]}"
        self.failed.remove(section.title)

    def clean_brokers(self) -> None:
        """Delete what the tour made on Redis, NATS and MQTT."""
        import redis

        client = redis.Redis(host="127.0.0.1", port=6379)
        for key in client.scan_iter(f"{self.run}-*"):
            client.delete(key)
        client.close()
        import asyncio

        import nats

        async def drop_streams() -> None:
            conn = await nats.connect("nats://127.0.0.1:4222")
            js = conn.jetstream()
            for info in await js.streams_info():
                if any(s.startswith(self.run) for s in info.config.subjects or []):
                    await js.delete_stream(info.config.name)
            await conn.drain()

        asyncio.run(drop_streams())
        from modelport_edge.mqtt import (
            DEFAULT_PREFIX,
            Broker,
            collect_retained,
            publish_retained,
        )

        broker = Broker("127.0.0.1", 1883)
        for topic in collect_retained(broker, f"{DEFAULT_PREFIX}/{self.run}-field/#", 1.0):
            publish_retained(broker, topic, None)


def require_brokers() -> None:
    """Skip (fail under ``MODELPORT_REQUIRE_SERVICES=1``) without Redis, NATS and MQTT."""
    for port, name in ((6379, "Redis"), (4222, "NATS"), (1883, "MQTT")):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        except OSError as exc:
            if os.environ.get("MODELPORT_REQUIRE_SERVICES") == "1":
                pytest.fail(f"{name} is required for the tour but {exc}")
            pytest.skip(f"{name} unavailable for the tour: {exc}")


@contextlib.contextmanager
def _process_group(proc: subprocess.Popen[str]) -> Iterator[None]:
    """Stop whatever the section left running (its own group), after the section."""
    try:
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            proc.poll()  # reap the shell once it ends: until then it keeps its group alive
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)  # a timed-out section leaves no zombie behind either


def problem(code: int | None, output: str) -> str | None:
    """Why a section's run failed, or None."""
    if code != 0:
        return "timed out" if code is None else f"exited with {code}"
    if "Traceback" in output:
        return "printed a traceback"
    if re.search(r'"error(_code)?":', output):
        return "got an error answer"
    return None
