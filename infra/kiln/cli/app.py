"""The ``kiln`` command: its verbs, each in the module of its group.

A verb parses its arguments, calls one function of the layers below, and prints the result.
Bad input ends with one line on stderr and exit status 2; no tracebacks.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from kiln import __version__
from kiln.cli import audit_verbs, bake_verbs, ledger_verbs, release_verbs
from kiln.cli.base import hard_exit, out
from kiln.cli.evidence_verbs import evidence_cmd
from kiln.cli.usage import CONTEXT, OneLineErrors

app = typer.Typer(name="kiln", add_completion=False, no_args_is_help=True,
                  pretty_exceptions_enable=False, cls=OneLineErrors, context_settings=CONTEXT,
                  help="Immutable infrastructure on AWS: signed images, blue/green stacks.")


def _version(value: bool) -> None:
    if value:
        out.print(f"kiln {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Show the version.")] = False
          ) -> None:
    """kiln — bake signed images, deploy them blue/green, keep the evidence."""


app.command("plan")(audit_verbs.plan_cmd)
app.command("demo")(audit_verbs.demo_cmd)
app.command("audit")(audit_verbs.audit_cmd)
app.command("rollback")(release_verbs.rollback_cmd)
app.command("traffic")(release_verbs.traffic_cmd)
app.command("deploy")(release_verbs.deploy_cmd)
app.command("promote")(release_verbs.promote_cmd)
app.command("status")(release_verbs.status_cmd)
app.command("retire")(release_verbs.retire_cmd)
app.command("revoke")(release_verbs.revoke_cmd)
app.add_typer(ledger_verbs.ledger_app, name="ledger")
app.command("bake")(bake_verbs.bake_cmd)
app.command("verify")(bake_verbs.verify_cmd)
app.add_typer(bake_verbs.keys_app, name="keys")
app.command("evidence")(evidence_cmd)


def main() -> None:
    try:
        app()
    except SystemExit as done:
        if not hard_exit.armed:
            raise
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    main()
