"""The ``modelport`` command run in-process, as the CLI tests call it.

One runner for every test file: tables as wide as the widest test needs unless a test
narrows them (``columns``), exceptions raised through to the test rather than folded into
an exit code, and ``--json`` read from stdout alone (progress goes to stderr).
"""

from __future__ import annotations

import json
from typing import Any

from click.testing import Result
from typer.testing import CliRunner

from modelport.interfaces.cli.main import app

WIDE = 200
runner = CliRunner()


def invoke(*args: str, columns: int = WIDE) -> Result:
    """The command's result, whatever its exit code."""
    return runner.invoke(app, list(args), env={"COLUMNS": str(columns)},
                         catch_exceptions=False)


def succeeded(*args: str, columns: int = WIDE) -> Result:
    """The result of a command that must succeed (its output shown if it did not)."""
    result = invoke(*args, columns=columns)
    assert result.exit_code == 0, result.output
    return result


def cli(*args: str, columns: int = WIDE) -> str:
    """What a command that must succeed printed, stdout and stderr as a terminal shows them."""
    return succeeded(*args, columns=columns).output


def cli_json(*args: str) -> Any:
    """The JSON a command that must succeed printed with ``--json``."""
    return json.loads(succeeded(*args, "--json").stdout)
