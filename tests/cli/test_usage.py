"""Usage errors are one line with the valid choices, exit 2; -h is --help; piped output is
never wrapped."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.cli.clitools import invoke, one_line_error

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("args", "needles"), [
    (("deplooy",), ("No such command 'deplooy'", "Did you mean 'deploy'?", "traffic",
                    "rollback")),
    (("deploy",), ("deploy: Missing argument", "see kiln deploy --help")),
    (("deploy", "dev"), ("Missing argument 'release'",)),
    (("retire", "dev", "--window", "-3"), ("--window", "-3 is not in the range")),
    (("ledger", "frob"), ("No such command 'frob'", "repair, show, verify")),
    (("keys", "rotate"), ("No such command 'rotate'", "generate")),
    (("plan", "dev", "--bogus"), ("No such option: --bogus", "see kiln plan --help")),
    (("audit", "dev", "--format"), ("'--format' requires an argument",)),
    (("rollback", "dev", "--to"), ("'--to' requires an argument",)),
    (("traffic", "dev", "50", "--pause", "x"), ("--pause", "'x' is not a valid float")),
    (("bake", "golden", "--force", "yes"), ("unexpected extra argument",)),
], ids=lambda v: " ".join(v) if isinstance(v, tuple) else None)
def test_usage_errors_are_one_line(args: tuple[str, ...], needles: tuple[str, ...]) -> None:
    result = invoke(*args)
    one_line_error(result, *needles)
    assert "╭" not in result.stderr and "Usage:" not in result.stderr


@pytest.mark.parametrize("verb", ["", "rollback", "ledger", "keys generate", "evidence"])
def test_dash_h_is_help(verb: str) -> None:
    short = invoke(*verb.split(), "-h")
    long = invoke(*verb.split(), "--help")
    assert short.exit_code == 0 == long.exit_code
    assert "Usage:" in short.stdout and short.stdout == long.stdout


def test_piped_output_is_never_wrapped() -> None:
    line = "w" * 600 + " " + "x" * 300
    done = subprocess.run([sys.executable, "-c",
                           f"from kiln.cli.base import out; out.print({line!r})"],
                          capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.splitlines() == [line]
