"""Printing results: rich tables for people, ``--json`` for machines."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from modelport.config import DEFAULT_RUNTIME

RUNTIME_HELP = (f"Which copy answers: auto (the ONNX copy that passed its parity check, when "
                f"there is one), native or onnx [default: {DEFAULT_RUNTIME}].")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
OnnxFlag = Annotated[bool, typer.Option(
    "--onnx/--no-onnx", help="Register a parity-checked ONNX copy too when the model converts: "
                             "serving then uses onnxruntime (the fast path).")]

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)


def when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    out = Table(title=title, title_justify="left", header_style="bold")
    for col in columns:
        out.add_column(col, overflow="fold")
    for row in rows:
        out.add_row(*(number(v) for v in row))
    console.print(out)


def fields(title: str | None, items: Iterable[tuple[str, Any]]) -> None:
    out = Table(title=title, title_justify="left", show_header=False, box=None)
    out.add_column(style="bold")
    out.add_column(overflow="fold")
    for key, value in items:
        out.add_row(key, value if isinstance(value, str) else number(value))
    console.print(out)


def onnx_line(version: Any) -> None:
    """Which runtime serves a version just registered: one line, never an error."""
    from modelport.lifecycle.loading import onnx_note

    console.print(onnx_note(version), markup=False, soft_wrap=True)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=_plain) + "\n")


def _plain(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "__dict__"):
        return value.__dict__
    return str(value)
