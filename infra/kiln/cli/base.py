"""What every verb of the ``kiln`` command shares: its consoles, one-line errors, spinners.

Bad input ends with one line on stderr and exit status 2; kiln's own errors carry their
exit code (:mod:`kiln.errors`); AWS failures are one line with exit status 1.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from kiln.errors import KilnError

EXIT_BAD_INPUT = 2
T = TypeVar("T")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


class LazyConsole:
    """A rich Console made on first use: commands that print one plain line (rollback's
    fast path) never pay for importing rich (~75 ms)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console  # noqa: PLC0415 (rich's import cost, see above)

            self._console = Console(**self._options)
        return getattr(self._console, name)


# The one pair of consoles of the command. Piped output is never wrapped, so `grep` sees
# whole lines (a terminal's own width applies when there is one).
PIPED_WIDTH = 10_000
out = (LazyConsole(highlight=False) if sys.stdout.isatty()
       else LazyConsole(highlight=False, width=PIPED_WIDTH, soft_wrap=True))
err = LazyConsole(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    print(f"kiln: error: {message}", file=sys.stderr)
    raise typer.Exit(code)


@contextmanager
def waiting(message: str) -> Iterator[None]:
    """A spinner on stderr while something slow runs (only when stderr is a terminal)."""
    if not sys.stderr.isatty():
        yield
        return
    with err.status(message, spinner="dots"):
        yield


def guarded(call: Callable[[], T]) -> T:
    """Run ``call``; report kiln's errors and AWS failures on one line with their exit code."""
    try:
        return call()
    except KilnError as error:
        fail(str(error), error.exit_code)
    except Exception as error:
        if "botocore" not in sys.modules:  # no AWS call was made: not an AWS failure
            raise
        # botocore is loaded already (checked above): this import costs nothing.
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        if isinstance(error, ClientError):
            info = error.response.get("Error", {})
            fail(f"AWS {error.operation_name}: {info.get('Code')}: "
                 f"{' '.join(str(info.get('Message', '')).split())}", 1)
        if isinstance(error, BotoCoreError):
            fail(f"AWS: {' '.join(str(error).split())}", 1)
        raise


def progress(line: str) -> None:
    """A line of a long operation's own output (e.g. `pulumi up`), streamed to stderr."""
    print(line, end="" if line.endswith("\n") else "\n", file=sys.stderr, flush=True)


class HardExit:
    """Set ``armed`` once a command's results are written and every process it started is
    stopped: :func:`kiln.cli.app.main` then skips the interpreter's teardown, which takes
    ~0.2 s once the Pulumi SDK is imported (mypy's hard_exit does the same)."""

    armed = False


hard_exit = HardExit()
