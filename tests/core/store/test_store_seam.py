"""The store seam holds: no module outside ``modelport/core/store`` speaks SQL.

An AST scan (not a text search) of every module under ``src/`` and
``edge/src``: any ``import sqlalchemy…`` / ``from sqlalchemy… import`` or an
import of the SQL-only modules (``schema``, ``engine``, ``sql``) outside
``core/store`` breaks the seam a REST store will slot into.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
STORE = ROOT / "src" / "modelport" / "core" / "store"
SQL_ONLY = ("sqlalchemy", "modelport.core.store.schema", "modelport.core.store.engine",
            "modelport.core.store.sql")


def _sql_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found += [n for n in names if any(n == m or n.startswith(m + ".") for m in SQL_ONLY)]
    return found


def _modules() -> list[Path]:
    return sorted(p for base in (ROOT / "src", ROOT / "edge" / "src") for p in base.rglob("*.py")
                  if STORE not in p.parents)


def test_no_sql_outside_the_store() -> None:
    offenders = {str(p.relative_to(ROOT)): _sql_imports(p) for p in _modules()}
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_scan_sees_every_form_of_import(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import os\nimport sqlalchemy.orm as orm\n"
                     "from modelport.core.store import schema as t\n"
                     "def f():\n    from sqlalchemy import select\n")
    assert _sql_imports(probe) == ["sqlalchemy.orm", "modelport.core.store.schema",
                                   "sqlalchemy", "sqlalchemy.select"]
