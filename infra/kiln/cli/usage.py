"""The command's own parsing errors, in kiln's one-line form.

Click (vendored by typer) reports a usage error as a framed box with the whole usage; kiln
says what was wrong on one line, with the valid choices where there are some, and exits 2 —
like every other bad input. ``-h`` works wherever ``--help`` does.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup

CONTEXT = {"help_option_names": ["-h", "--help"]}


def _kinds(error: BaseException) -> set[str]:
    # typer ships its own copy of click, so its exceptions are matched by class name.
    return {cls.__name__ for cls in type(error).__mro__}


def one_line(error: Any) -> str:
    """A usage error as one line: the command, the message, and the valid choices."""
    message = " ".join(error.format_message().split())
    ctx = getattr(error, "ctx", None)
    commands = getattr(getattr(ctx, "command", None), "commands", None)
    if commands and "No such command" in message:
        names = ", ".join(sorted(n for n, c in commands.items() if not c.hidden))
        message = f"{message} Commands: {names}."
    where = ctx.command_path if ctx is not None else "kiln"
    shown = f"{where.removeprefix('kiln').strip()}: " if where != "kiln" else ""
    return f"{shown}{message} (see {where} --help)"


class OneLineErrors(TyperGroup):
    """A typer group whose usage errors are one line on stderr with exit status 2."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             windows_expand_args: bool = True, **extra: Any) -> Any:
        if not standalone_mode:  # the caller handles errors itself
            return super().main(args, prog_name, complete_var, False, windows_expand_args,
                                **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args,
                                **extra)
        except typer.Abort:
            print("kiln: error: aborted", file=sys.stderr)
            code = 1
        except Exception as error:
            kinds = _kinds(error)
            if "NoArgsIsHelpError" in kinds:
                ctx = getattr(error, "ctx", None)
                print(ctx.get_help() if ctx is not None else "")
                code = 0
            elif "UsageError" in kinds:
                print(f"kiln: error: {one_line(error)}", file=sys.stderr)
                code = 2
            elif "ClickException" in kinds:
                text = " ".join(str(getattr(error, "message", error)).split())
                print(f"kiln: error: {text}", file=sys.stderr)
                code = getattr(error, "exit_code", 1)
            else:
                raise
        sys.exit(code if isinstance(code, int) else 0)
