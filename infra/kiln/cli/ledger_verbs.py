"""The ledger verbs: show and verify the tamper-evident record of every operation."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer

from kiln.cli.base import JsonFlag, guarded, out

ledger_app = typer.Typer(help="Show and verify the tamper-evident ledger.",
                         no_args_is_help=True)


@ledger_app.command("verify")
def ledger_verify_cmd(as_json: JsonFlag = False) -> None:
    """Re-walk the hash chain; exit non-zero at the first broken entry."""
    from kiln.ops import context  # noqa: PLC0415 (per-verb start-up cost)

    def verify() -> int:
        return context.open_context().ledger.verify()

    count = guarded(verify)
    if as_json:
        print(json.dumps({"ok": True, "entries": count}))
        return
    out.print(f"ledger ok: {count} entries, chain intact")


@ledger_app.command("show")
def ledger_show_cmd(stack: Annotated[str | None, typer.Option(help="Only this stack.")] = None,
                    as_json: JsonFlag = False) -> None:
    """List ledger entries (oldest first)."""
    from kiln.ops import context  # noqa: PLC0415 (per-verb start-up cost)

    entries = guarded(lambda: [e for e in context.open_context().ledger.entries()
                               if stack is None or e.stack == stack])
    if as_json:
        print(json.dumps([asdict(e) for e in entries], sort_keys=True))
        return
    from kiln.cli.render import render_ledger  # noqa: PLC0415 (rich, for people only)

    render_ledger(entries)
