"""Invoke the kiln command in-process and check its one-line errors."""

from __future__ import annotations

from typing import Any

from typer.testing import CliRunner

from kiln.cli.app import app

runner = CliRunner()


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


def one_line_error(result: Any, *needles: str, code: int = 2) -> None:
    """The command failed with ``code``, printed nothing on stdout and one line on stderr."""
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("kiln: error: ")
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in result.output
