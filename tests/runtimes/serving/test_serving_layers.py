"""The seams of issue 17 as import rules: the serving runtime holds no control-plane work,
and the inference path knows no transport. Read from the source (every import, also the
ones inside functions), so a shortcut cannot hide in a lazy import."""

from __future__ import annotations

import ast
from pathlib import Path

import modelport.runtimes.serving as serving

ROOT = Path(serving.__file__).parent
# what the host composes in (interfaces/serving_host.py), never imported from below
CONTROL_PLANE = ("modelport.control", "modelport.interfaces", "modelport.runtimes.edge")
TRANSPORT = ("modelport.runtimes.serving.http", "modelport.runtimes.serving.asgi",
             "modelport.runtimes.serving.h1", "modelport.runtimes.serving.connection",
             "modelport.runtimes.serving.process", "modelport.runtimes.serving.app",
             "httptools", "uvloop")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_the_serving_runtime_imports_no_control_plane() -> None:
    modules = sorted(ROOT.rglob("*.py"))
    assert len(modules) > 20  # the package was found
    offending = {p.name: sorted(m for m in _imports(p) if m.startswith(CONTROL_PLANE))
                 for p in modules}
    assert {k: v for k, v in offending.items() if v} == {}


def test_the_inference_service_knows_no_transport() -> None:
    names = _imports(ROOT / "service.py")
    assert "modelport.runtimes.serving.repository" in names  # the rule reads real imports
    assert sorted(m for m in names if m.startswith(TRANSPORT)) == []
