"""The README's tour, run as written: every ```bash and ```python block of "## A tour",
in order, on a fresh workspace, with the real CLI and the real brokers.

Each ``###`` section is one test case, run on the workspace the earlier sections left
(so a failure names its section; a case is skipped when an earlier one failed, and a
section selected alone with ``-k`` lacks what the earlier ones made). A section runs
as one bash script — as a reader pastes its blocks into one terminal: a ```python block
becomes ``python - <<'EOF' … EOF``, so background jobs (``modelport serve … &``) live
until the section's own ``kill %1``; whatever is still running afterwards is stopped.
A section fails on a non-zero exit (``set -e -o pipefail``), a traceback, or a JSON
``"error"`` answer in its output.

The test changes nothing in the blocks but what ``SUBSTITUTIONS`` lists: ports (free
ones instead of 8000 and 9105), long budgets, and the names the tour gives on a broker —
streams, subjects, topics and the edge group — which get a prefix unique to the run, so
runs never share one; they are deleted afterwards.
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
from dataclasses import dataclass
from pathlib import Path

import pytest

from servers import free_port

README = Path(__file__).resolve().parents[2] / "README.md"
RUN = f"tour{uuid.uuid4().hex[:8]}"
BROKER_NAMES = ("events", "predictions", "labels")
SECTION_TIMEOUT_S = 480


SERVE_PORT, METRICS_PORT, GRPC_PORT = free_port(), free_port(), free_port()

# (README text, what the test runs instead) — the only changes made to any block
SUBSTITUTIONS: list[tuple[str, str]] = [
    # ports: a free one, not one another program may hold
    ("localhost:8000", f"localhost:{SERVE_PORT}"),
    ("127.0.0.1:8000", f"127.0.0.1:{SERVE_PORT}"),
    ("--port 8000", f"--port {SERVE_PORT}"),
    ("--grpc-port 8001", f"--grpc-port {GRPC_PORT}"),
    ("localhost:8001", f"localhost:{GRPC_PORT}"),
    ("--metrics-port 9105", f"--metrics-port {METRICS_PORT}"),
    # long budgets: a few trials and seconds prove the commands as well
    ("--trials 40 --timeout 300", "--trials 3 --timeout 60"),
    ("--trials 20", "--trials 3"),
    ("--trials 100", "--trials 4"),
    ("--budget 60s", "--budget 8s"),
    # broker names, in URLs and in the producers' calls: unique per run
    *[(f"{port}/{name}", f"{port}/{RUN}-{name}")
      for port in (6379, 4222, 1883) for name in BROKER_NAMES],
    *[(f'{call}("{name}"', f'{call}("{RUN}-{name}"')
      for call in ("xadd", "xrange", "publish") for name in BROKER_NAMES],
    ("--group field", f"--group {RUN}-field"),  # an edge group: its retained MQTT topics
]


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


def substitute(script: str) -> str:
    for old, new in SUBSTITUTIONS:
        script = script.replace(old, new)
    return script


def section_script(section: Section) -> str:
    """One bash script: the blocks in order, each announced, python ones as heredocs."""
    lines = ["set -e -o pipefail"]
    for i, (language, code) in enumerate(section.blocks, 1):
        lines.append(f"echo '>>> block {i} ({language})'")
        if language == "python":
            lines += ["python - <<'__TOUR_PYTHON__'", code.rstrip("\n"), "__TOUR_PYTHON__"]
        else:
            lines.append(code.rstrip("\n"))
    return substitute("\n".join(lines) + "\n")


SECTIONS = tour_sections(README.read_text())


def test_the_tour_has_its_sections_and_blocks() -> None:
    titles = [s.title for s in SECTIONS]
    assert titles[:3] == ["Train and track", "Register, alias, export", "Predict"]
    assert all(section.blocks for section in SECTIONS), titles
    assert "Streaming inference and online learning" in titles and "Edge devices" in titles


def test_substitutions_change_only_what_they_name() -> None:
    script = section_script(Section("t", [("bash", "modelport serve iris --port 8000 &\n"
                                                   "curl -s localhost:8000/v2\n")]))
    assert f"--port {SERVE_PORT} &" in script and f"localhost:{SERVE_PORT}/v2" in script
    assert "8000" not in script


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    for port, name in ((6379, "Redis"), (4222, "NATS"), (1883, "MQTT")):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        except OSError as exc:
            if os.environ.get("MODELPORT_REQUIRE_SERVICES") == "1":
                pytest.fail(f"{name} is required for the tour but {exc}")
            pytest.skip(f"{name} unavailable for the tour: {exc}")
    path = tmp_path_factory.mktemp("tour")
    yield path
    _clean_brokers()


def _clean_brokers() -> None:
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379)
    for key in client.scan_iter(f"{RUN}-*"):
        client.delete(key)
    client.close()
    import asyncio

    import nats

    async def drop_streams() -> None:
        conn = await nats.connect("nats://127.0.0.1:4222")
        js = conn.jetstream()
        for info in await js.streams_info():
            if any(s.startswith(RUN) for s in info.config.subjects or []):
                await js.delete_stream(info.config.name)
        await conn.drain()

    asyncio.run(drop_streams())
    from modelport_edge.mqtt import DEFAULT_PREFIX, Broker, collect_retained, publish_retained

    broker = Broker("127.0.0.1", 1883)
    for topic in collect_retained(broker, f"{DEFAULT_PREFIX}/{RUN}-field/#", 1.0):
        publish_retained(broker, topic, None)


def _env(workspace: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")}
    env.update(MODELPORT_HOME=str(workspace / ".modelport"), COLUMNS="120",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    return env


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
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


def run_section(section: Section, workspace: Path) -> tuple[int | None, str]:
    """Run a section's script in ``workspace``: its exit code (None: timed out) and output."""
    log = workspace / f"section-{len(list(workspace.glob('section-*')))}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(["bash", "-c", section_script(section)], cwd=workspace,
                                env=_env(workspace), stdout=out, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
        with _process_group(proc):
            try:
                code: int | None = proc.wait(timeout=SECTION_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                code = None
    return code, log.read_text()


def problem(code: int | None, output: str) -> str | None:
    """Why a section's run failed, or None."""
    if code != 0:
        return "timed out" if code is None else f"exited with {code}"
    if "Traceback" in output:
        return "printed a traceback"
    if re.search(r'"error(_code)?":', output):
        return "got an error answer"
    return None


@pytest.mark.parametrize("blocks, why", [
    ([("bash", "echo one\nfalse\necho never")], "exited with 1"),
    ([("bash", "true"), ("python", "raise ValueError('bad')")], "exited with 1"),
    ([("python", "import traceback\ntry:\n    1 / 0\nexcept ZeroDivisionError:\n"
                 "    traceback.print_exc()")], "printed a traceback"),  # yet exits 0
    ([("bash", 'echo \'{"error": "model not found"}\'')], "got an error answer"),
])
def test_a_failing_block_fails_its_section(tmp_path: Path, blocks: list[tuple[str, str]],
                                           why: str) -> None:
    code, output = run_section(Section("t", blocks), tmp_path)
    assert problem(code, output) == why, output
    assert "never" not in output


FAILED: list[str] = []


@pytest.mark.timeout(SECTION_TIMEOUT_S + 60)  # the section's own timeout reports its output
@pytest.mark.parametrize("section", SECTIONS, ids=[s.title for s in SECTIONS])
def test_tour_section(section: Section, workspace: Path) -> None:
    if FAILED:
        pytest.skip(f"an earlier section failed: {FAILED[0]}")
    FAILED.append(section.title)  # until it passes
    code, output = run_section(section, workspace)
    why = problem(code, output)
    assert why is None, f"section {section.title!r} {why}:\n{output[-6000:]}"
    FAILED.remove(section.title)
