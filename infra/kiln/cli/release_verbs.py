"""The release verbs: deploy, promote, rollback, retire, status, revoke.

Each verb imports its operation when it runs, so a command pays only for what it uses
(``kiln rollback`` never loads rich, the Pulumi SDK or the policy pack's client).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

import typer

from kiln.cli.base import JsonFlag, guarded, out, progress, waiting
from kiln.release.record import short_digest


def rollback_cmd(stack: Annotated[str, typer.Argument(help="Stack name, e.g. prod.")],
                 as_json: JsonFlag = False) -> None:
    """Move STACK's traffic back to its standby colour (one listener change), after checking
    the standby colour's health; then write the stack file and the ledger."""
    from kiln.ops import context, rollback  # noqa: PLC0415 (per-verb start-up cost)

    with waiting(f"rolling back {stack}"):
        result = guarded(lambda: rollback.rollback(context.open_context(), stack))
    if as_json:
        print(json.dumps(result.to_json(), sort_keys=True))
        return
    verb = "rolled back" if result.flipped else "completed an interrupted rollback of"
    # Plain print: the rollback path stays free of rich's import cost.
    print(f"{verb} {stack}: traffic {result.source} → {result.target} in "
          f"{result.flip_ms:.0f} ms (total {result.total_ms:.0f} ms); stack file "
          f"updated; ledger seq {result.entry.seq if result.entry else '-'}")


def _report_rollout(result: Any, verb: str) -> None:
    if result.already:
        out.print(f"{result.stack} already runs {result.release.image} at full traffic")
        return
    out.print(f"{verb} {result.release.image} (record {short_digest(result.release.record)}) "
              f"to {result.stack}'s {result.colour} colour; canary "
              f"{','.join(map(str, result.steps))}; ledger seq "
              f"{result.entry.seq if result.entry else '-'}")
    if result.command:
        out.print("stack file updated (review the diff); no Pulumi CLI here, so apply with:")
        out.print(f"  {result.command}", markup=False)
    else:
        out.print(f"applied with pulumi up at {', '.join(f'{s}%' for s in result.applied)}")


CanaryOption = Annotated[str | None, typer.Option(
    help="Traffic steps for the new colour, e.g. 10,50,100 (pulumi up, health check and a "
         "pause between steps).")]
PauseOption = Annotated[float, typer.Option(help="Seconds between canary steps.", min=0)]


def deploy_cmd(stack: Annotated[str, typer.Argument(help="Stack name, e.g. dev.")],
               release: Annotated[str, typer.Argument(help="Record file or AMI id.")],
               canary: CanaryOption = None, pause: PauseOption = 30.0,
               as_json: JsonFlag = False) -> None:
    """Verify RELEASE and deploy it to STACK's idle colour, then make it live."""
    from kiln.ops import context, deploy  # noqa: PLC0415 (per-verb start-up cost)

    # `pulumi up` (when the CLI is here) streams its own progress to stderr.
    result = guarded(lambda: deploy.deploy(context.open_context(), stack, release,
                                           canary=canary, pause=pause, on_output=progress))
    if as_json:
        print(json.dumps(result.to_json(), sort_keys=True))
        return
    _report_rollout(result, "deployed")


def promote_cmd(source: Annotated[str, typer.Argument(help="Stack promoted from.")],
                target: Annotated[str, typer.Argument(help="Stack promoted to.")],
                skip_gate: Annotated[str | None, typer.Option(
                    "--skip-gate", help="Reason to promote out of environment order "
                                        "(recorded in the ledger).")] = None,
                canary: CanaryOption = None, pause: PauseOption = 30.0,
                as_json: JsonFlag = False) -> None:
    """Deploy SOURCE's live release — the same signed record — to TARGET, through the gates."""
    from kiln.ops import context, promote  # noqa: PLC0415 (per-verb start-up cost)

    result = guarded(lambda: promote.promote(context.open_context(), source, target,
                                             skip_gate=skip_gate, canary=canary, pause=pause,
                                             on_output=progress))
    if as_json:
        print(json.dumps(result.to_json(), sort_keys=True))
        return
    _report_rollout(result, f"promoted from {source}:")


def status_cmd(stack: Annotated[str, typer.Argument(help="Stack name, e.g. prod.")],
               as_json: JsonFlag = False) -> None:
    """Show STACK's live colour, weights, releases, healthy targets and drift; exit 1 on drift."""
    from kiln.ops import context, status  # noqa: PLC0415 (per-verb start-up cost)

    with waiting(f"reading {stack}"):
        result = guarded(lambda: status.status(context.open_context(), stack))
    if as_json:
        print(json.dumps(result.to_json(), sort_keys=True))
    else:
        from kiln.cli.render import render_status  # noqa: PLC0415 (rich, for people only)

        render_status(result)
    if result.drift:
        raise typer.Exit(1)


def retire_cmd(stack: Annotated[str, typer.Argument(help="Stack name, e.g. prod.")],
               window: Annotated[int, typer.Option(
                   help="Minutes after a deploy or rollback before the old colour may be "
                        "retired.", min=0)] = 30,
               as_json: JsonFlag = False) -> None:
    """Bring STACK's standby colour to its standby mode (hot, warm pool, or zero)."""
    from kiln.ops import context, retire  # noqa: PLC0415 (per-verb start-up cost)

    result = guarded(lambda: retire.retire(context.open_context(), stack,
                                           dt.timedelta(minutes=window)))
    if as_json:
        print(json.dumps(result.to_json(), sort_keys=True))
        return
    out.print(f"retired {stack}'s {result.colour} colour to {result.mode} standby "
              f"({', '.join(result.calls) or 'no change needed'})")


def revoke_cmd(target: Annotated[str, typer.Argument(help="AMI id or record digest.")],
               reason: Annotated[str, typer.Option(help="Why it is revoked.")] = "",
               as_json: JsonFlag = False) -> None:
    """Revoke an image everywhere (the policy pack refuses it) and show which stacks run it."""
    from kiln.ops import context, revoke  # noqa: PLC0415 (per-verb start-up cost)

    result = guarded(lambda: revoke.revoke(context.open_context(), target, reason))
    if as_json:
        print(json.dumps(result.to_json(), sort_keys=True))
        return
    out.print(f"revoked {result.image or ''} {result.release or ''}".strip()
              + f"; policy config updated: {', '.join(result.changed) or 'already listed'}")
    if not result.blast_radius:
        out.print("no stack declares it")
    for hit in result.blast_radius:
        role = "LIVE" if hit["live"] else "standby"
        out.print(f"  {hit['stack']}: {hit['colour']} ({role}, {hit['weight']}% of traffic)")
