"""The README's tour, run as written on a local workspace (``tour.py`` says how: each
``###`` section one test case, in order; ``test_readme_tour_remote.py`` runs the same
sections against a team server)."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tour import SECTION_TIMEOUT_S, SECTIONS, Section, Tour, problem, require_brokers

TOUR = Tour()


def test_the_tour_has_its_sections_and_blocks() -> None:
    titles = [s.title for s in SECTIONS]
    assert titles[:3] == ["Train and track", "Register, alias, export", "Predict"]
    assert all(section.blocks for section in SECTIONS), titles
    assert "Streaming inference and online learning" in titles and "Edge devices" in titles


def test_substitutions_change_only_what_they_name() -> None:
    script = TOUR.script(Section("t", [("bash", "modelport serve iris --port 8000 &\n"
                                                "curl -s localhost:8000/v2\n")]))
    assert f"--port {TOUR.serve_port} &" in script and \
        f"localhost:{TOUR.serve_port}/v2" in script
    assert "8000" not in script


def test_two_tours_share_no_port_and_no_broker_name() -> None:
    other = Tour()
    script = "redis://127.0.0.1:6379/events --port 8000 --group field"
    assert TOUR.substitute(script) != other.substitute(script)
    assert TOUR.run != other.run


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    require_brokers()
    yield tmp_path_factory.mktemp("tour")
    TOUR.clean_brokers()


@pytest.mark.parametrize("blocks, why", [
    ([("bash", "echo one\nfalse\necho never")], "exited with 1"),
    ([("bash", "true"), ("python", "raise ValueError('bad')")], "exited with 1"),
    ([("python", "import traceback\ntry:\n    1 / 0\nexcept ZeroDivisionError:\n"
                 "    traceback.print_exc()")], "printed a traceback"),  # yet exits 0
    ([("bash", 'echo \'{"error": "model not found"}\'')], "got an error answer"),
])
def test_a_failing_block_fails_its_section(tmp_path: Path, blocks: list[tuple[str, str]],
                                           why: str) -> None:
    code, output = Tour().run_section(Section("t", blocks), tmp_path)
    assert problem(code, output) == why, output
    assert "never" not in output


def test_a_section_past_its_time_is_stopped_and_reaped(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import tour

    monkeypatch.setattr(tour, "SECTION_TIMEOUT_S", 1)
    started = time.monotonic()
    code, output = Tour().run_section(Section("t", [("bash", "sleep 60 &\nsleep 60")]),
                                      tmp_path)
    assert problem(code, output) == "timed out" and time.monotonic() - started < 30
    gc.collect()  # an unreaped child would warn here (warnings are errors)


@pytest.mark.timeout(SECTION_TIMEOUT_S + 60)  # the section's own timeout reports its output
@pytest.mark.parametrize("section", SECTIONS, ids=[s.title for s in SECTIONS])
def test_tour_section(section: Section, workspace: Path) -> None:
    TOUR.check(section, workspace)
