"""The ``kiln`` command: parse arguments, call one function, print the result.

Bad input ends with one line on stderr and exit status 2; no tracebacks. Verbs that do not
need Pulumi import nothing from it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from kiln import __version__

app = typer.Typer(name="kiln", add_completion=False, no_args_is_help=True,
                  pretty_exceptions_enable=False,
                  help="Immutable infrastructure on AWS: signed images, blue/green stacks.")
# Piped output keeps whole lines (a terminal's own width applies when there is one).
out = Console(highlight=False, width=None if sys.stdout.isatty() else 240)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_BAD_INPUT = 2
T = TypeVar("T")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    err.print(f"kiln: error: {message}", markup=False)
    raise typer.Exit(code)


@contextmanager
def waiting(message: str) -> Iterator[None]:
    """A spinner on stderr while something slow runs (silent when stderr is not a TTY)."""
    with err.status(message, spinner="dots"):
        yield


def guarded(call: Callable[[], T]) -> T:
    """Run ``call``; turn kiln's own input errors into a one-line message and exit 2."""
    from kiln.settings import SettingsError
    from kiln.stackfiles import StackFileError

    errors: tuple[type[Exception], ...] = (SettingsError, StackFileError)
    try:
        from kiln.capture import CaptureError

        errors += (CaptureError,)
    except ImportError:  # pragma: no cover - pulumi missing
        pass
    try:
        return call()
    except errors as error:
        fail(str(error))


def _version(value: bool) -> None:
    if value:
        out.print(f"kiln {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Show the version.")] = False
          ) -> None:
    """kiln — bake signed images, deploy them blue/green, keep the evidence."""


def _plan(stack: str) -> Any:
    from kiln import capture, plan, stackfiles

    project = stackfiles.load_project()
    with waiting(f"running the program for stack {stack} under the mock monitor"):
        return plan.build(capture.capture(stack, project))


@app.command("plan")
def plan_cmd(stack: Annotated[str, typer.Argument(help="Stack name, e.g. dev.")],
             as_json: JsonFlag = False) -> None:
    """Show what STACK would deploy, offline: the real program under Pulumi's mock monitor."""
    result = guarded(lambda: _plan(stack))
    if as_json:
        out.print_json(data=result.to_json()) if sys.stdout.isatty() else \
            print(json.dumps(result.to_json(), indent=2, sort_keys=True))
        return
    render_plan(result)


@app.command("demo")
def demo_cmd(as_json: JsonFlag = False) -> None:
    """Plan every stack in the project's environment order."""
    from kiln import stackfiles

    project = guarded(stackfiles.load_project)
    plans = [guarded(partial(_plan, stack)) for stack in project.stacks()]
    if as_json:
        print(json.dumps([p.to_json() for p in plans], indent=2, sort_keys=True))
        return
    for result in plans:
        render_plan(result)
        out.print()


def _describe(keys: dict[str, Any]) -> str:
    parts = []
    for name, value in keys.items():
        if isinstance(value, dict):
            shown = ", ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list):
            shown = ", ".join(str(v) for v in value) or "none"
        else:
            shown = str(value)
        parts.append(f"{name}={shown}")
    return "  ".join(parts)


def _short_digest(digest: str | None) -> str:
    return f"{digest[:19]}…" if digest else "-"


def render_plan(result: Any) -> None:
    tree = Tree(f"[bold]{result.project}[/bold] · stack [bold]{result.stack}[/bold] · "
                f"{sum(1 for r in result.resources if r.custom)} resources")

    def add(node: Tree, item: Any) -> None:
        label = Text.assemble((item.name, "bold"), "  ", (short_type(item.type), "cyan"))
        if item.keys:
            label.append("\n" + _describe(item.keys), style="dim")
        branch = node.add(label)
        for child in sorted(item.children, key=lambda c: (not c.custom, c.type, c.name)):
            add(branch, child)

    for root in result.roots:
        add(tree, root)
    out.print(tree)
    table = Table(title=f"{result.stack}: colours", title_justify="left")
    for column in ("colour", "live", "weight %", "image", "min/desired/max",
                   "warm pool", "release"):
        table.add_column(column)
    for colour, info in result.colours.items():
        cap = info["capacity"]
        table.add_row(colour, "yes" if info["live"] else "standby", str(info["weight"]),
                      str(info["image"]), f"{cap['min']}/{cap['desired']}/{cap['max']}",
                      str(info["warmPool"] or "-"), _short_digest(info["release"]))
    out.print(table)
    url = result.outputs.get("url")
    if url:
        out.print(f"url: {url} (mock DNS name)")


def short_type(token: str) -> str:
    """``aws:ec2/launchTemplate:LaunchTemplate`` → ``aws:ec2:LaunchTemplate`` (as Pulumi shows)."""
    package, module, member = [*token.split(":"), "", ""][:3]
    return f"{package}:{module.split('/')[0]}:{member}" if member else token


def main() -> None:
    app()


if __name__ == "__main__":
    main()
