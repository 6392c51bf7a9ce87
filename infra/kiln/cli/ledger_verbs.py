"""The ledger verbs: show, verify and repair the tamper-evident record of every operation."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any

import typer

from kiln.cli.base import JsonFlag, fail, guarded, out

ledger_app = typer.Typer(help="Show, verify and repair the tamper-evident ledger.",
                         no_args_is_help=True)


@ledger_app.command("verify")
def ledger_verify_cmd(
        key: Annotated[list[str] | None, typer.Option(
            "--key", help="Trust this ledger key only: a PEM public key file, an Ed25519 key "
            "file or kms:<key id> (repeatable). Default: kiln:ledgerKeys in "
            "Pulumi.yaml.")] = None,
        allow_unsigned_before: Annotated[int, typer.Option(
            "--allow-unsigned-before", metavar="SEQ",
            help="Accept unsigned entries below this seq (a history written before "
                 "entries were signed); every later entry must be signed.")] = 0,
        as_json: JsonFlag = False) -> None:
    """Re-walk the hash chain, check every entry's signature against the trusted ledger keys
    and compare the head with every anchor; exit non-zero naming the first broken entry."""
    # Per-verb start-up cost: only this verb loads the operations and the key readers.
    from kiln.ops import context  # noqa: PLC0415
    from kiln.project.ledger_anchor import ledger_keys  # noqa: PLC0415
    from kiln.records import keys  # noqa: PLC0415

    if allow_unsigned_before < 0:
        fail(f"--allow-unsigned-before {allow_unsigned_before}: expected a seq (0 or more)")

    def verify() -> Any:
        ctx = context.open_context()
        trusted = keys.explicit_keys(key) if key else ledger_keys(ctx.project)
        return ctx.ledger.check(trusted, allow_unsigned_before)

    found = guarded(verify)
    head = found.head
    if as_json:
        print(json.dumps({"ok": True, "entries": found.entries,
                          "head": {"seq": head.seq, "hash": head.hash} if head else None,
                          "signers": found.signers, "anchors": list(found.anchors)},
                         sort_keys=True))
        return
    signers = ", ".join(f"{k} ({n})" for k, n in sorted(found.signers.items())) or "none"
    for note in found.anchors:
        out.print(note)
    unsigned = found.entries - sum(found.signers.values())
    older = f", {unsigned} older unsigned accepted" if unsigned else ""
    out.print(f"ledger ok: {found.entries} entries signed by {signers}{older}, "
              "hash chain intact")


@ledger_app.command("repair")
def ledger_repair_cmd(as_json: JsonFlag = False) -> None:
    """Remove a torn final line of the ledger file (a write cut short) and record the
    repair; a complete final entry only gets its newline. Nothing else is ever changed."""
    from kiln.ops import context  # noqa: PLC0415 (per-verb start-up cost)
    from kiln.release.ledger import FileLedger  # noqa: PLC0415 (per-verb start-up cost)

    def repair() -> Any:
        ledger = context.open_context().ledger
        if not isinstance(ledger, FileLedger):
            fail("kiln ledger repair: only the file ledger can have a torn line "
                 "(KILN_LEDGER_TABLE is set)")
        return ledger.repair()

    done = guarded(repair)
    if as_json:
        print(json.dumps({"repaired": asdict(done) if done else None}, sort_keys=True))
        return
    if done is None:
        out.print("ledger needs no repair")
    elif done.removed:
        out.print(f"removed a torn final line {done.line} ({done.removed} bytes, "
                  f"{done.digest}); the repair is recorded in the ledger")
    else:
        out.print(f"line {done.line} was a complete entry: ended it with its newline")


@ledger_app.command("show")
def ledger_show_cmd(stack: Annotated[str | None, typer.Option(help="Only this stack.")] = None,
                    as_json: JsonFlag = False) -> None:
    """List ledger entries (oldest first)."""
    from kiln.ops import context  # noqa: PLC0415 (per-verb start-up cost)

    entries = guarded(lambda: [e for e in context.open_context().ledger.entries()
                               if stack is None or e.stack == stack])
    if as_json:
        print(json.dumps([e.to_json() for e in entries], sort_keys=True))
        return
    from kiln.cli.render import render_ledger  # noqa: PLC0415 (rich, for people only)

    render_ledger(entries)
