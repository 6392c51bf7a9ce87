"""The release verbs: deploy, promote, rollback, traffic, retire, status, revoke.

Each verb imports its operation when it runs, so a command pays only for what it uses
(``kiln rollback`` never loads rich, the Pulumi SDK or the policy pack's client).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from typing import Annotated, Any

import typer

from kiln.cli.base import JsonFlag, guarded, out, progress, waiting
from kiln.release.record import short_digest


def rollback_cmd(stack: Annotated[str, typer.Argument(help="Stack name, e.g. prod.")],
                 to: Annotated[str | None, typer.Option(
                     "--to", help="Colour to put in service (blue or green); default: the "
                                  "standby colour, the last known good release.")] = None,
                 as_json: JsonFlag = False) -> None:
    """Move STACK's traffic back to the last known good release (one listener change), after
    checking that colour's serving instances and revocations; then write the stack file and
    the ledger. Run again, it changes nothing."""
    from kiln.ops import context, rollback  # noqa: PLC0415 (per-verb start-up cost)

    with waiting(f"rolling back {stack}"):
        result = guarded(lambda: rollback.rollback(context.open_context(), stack, to))
    if as_json:
        print(json.dumps(result.to_json(), sort_keys=True))
        return
    # Plain print: the rollback path stays free of rich's import cost.
    if result.unchanged:
        print(f"{stack} already rolled back: all traffic on {result.target} "
              f"({result.image}); nothing changed")
        return
    verb = "rolled back" if result.flipped else "completed an interrupted rollback of"
    print(f"{verb} {stack}: traffic {result.source} → {result.target} in "
          f"{result.flip_ms:.0f} ms (total {result.total_ms:.0f} ms); stack file "
          f"updated; ledger seq {result.entry.seq if result.entry else '-'}")


def _report_rollout(result: Any, verb: str) -> None:
    if result.already:
        state = "is staged with" if result.command else "already runs"
        out.print(f"{result.stack} {state} {result.release.image} at full traffic; nothing "
                  "changed")
        if result.command:
            out.print(f"  apply with: {result.command}", markup=False)
        return
    out.print(f"{verb} {result.release.image} (record {short_digest(result.release.record)}) "
              f"to {result.stack}'s {result.colour} colour; canary "
              f"{','.join(map(str, result.steps))}; ledger seq "
              f"{result.entry.seq if result.entry else '-'}")
    if result.command:
        out.print("staged, not served: stack file updated (review the diff); apply with:")
        out.print(f"  {result.command}", markup=False)
    else:
        out.print(f"applied with pulumi up at {', '.join(f'{s}%' for s in result.applied)}; "
                  "served")


CanaryOption = Annotated[str | None, typer.Option(
    help="Traffic steps for the new colour, e.g. 10,50,100 (pulumi up, health check and a "
         "pause between steps).")]
PauseOption = Annotated[float, typer.Option(help="Seconds between canary steps.", min=0)]
StageOnlyFlag = Annotated[bool, typer.Option(
    "--stage-only", help="Only edit the stack file and record it staged (never served); "
                         "print the `pulumi up` command to run where the Pulumi CLI is.")]


def deploy_cmd(stack: Annotated[str, typer.Argument(help="Stack name, e.g. dev.")],
               release: Annotated[str, typer.Argument(help="Record file or AMI id.")],
               canary: CanaryOption = None, pause: PauseOption = 30.0,
               stage_only: StageOnlyFlag = False, as_json: JsonFlag = False) -> None:
    """Verify RELEASE and deploy it to STACK's idle colour, then make it live."""
    from kiln.ops import context, deploy  # noqa: PLC0415 (per-verb start-up cost)

    # `pulumi up` (when the CLI is here) streams its own progress to stderr.
    result = guarded(lambda: deploy.deploy(context.open_context(), stack, release,
                                           canary=canary, pause=pause, on_output=progress,
                                           stage_only=stage_only))
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
                stage_only: StageOnlyFlag = False, as_json: JsonFlag = False) -> None:
    """Deploy SOURCE's live release — the same signed record — to TARGET, through the gates."""
    from kiln.ops import context, promote  # noqa: PLC0415 (per-verb start-up cost)

    result = guarded(lambda: promote.promote(context.open_context(), source, target,
                                             skip_gate=skip_gate, canary=canary, pause=pause,
                                             on_output=progress, stage_only=stage_only))
    if as_json:
        print(json.dumps(result.to_json(), sort_keys=True))
        return
    _report_rollout(result, f"promoted from {source}:")


def _countdown(stack: str) -> Any:
    def show(step: int, seconds: float) -> None:
        # stderr, one line rewritten in place: stdout stays the result
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            sys.stderr.write(f"\rcanary {stack}: next step {step}% in {left:4.0f} s "
                             f"(abort: kiln rollback {stack})")
            sys.stderr.flush()
            time.sleep(min(1.0, left))
        sys.stderr.write("\n")
    return show


def traffic_cmd(stack: Annotated[str, typer.Argument(help="Stack name, e.g. prod.")],
                percent: Annotated[str | None, typer.Argument(
                    help="Percent of traffic to the live colour (1-100).")] = None,
                canary: Annotated[str | None, typer.Option(
                    help="Steps instead of one move, e.g. 10,50,100 (health check and a "
                         "pause before each).")] = None,
                pause: PauseOption = 30.0, as_json: JsonFlag = False) -> None:
    """Move STACK's listener weights (one change per step) behind the health gate, and
    write them back to the stack file. Abort a canary with `kiln rollback`."""
    from kiln.ops import context, shift  # noqa: PLC0415 (per-verb start-up cost)

    result = guarded(lambda: shift.move(context.open_context(), stack, percent,
                                        canary=canary, pause=pause,
                                        on_pause=_countdown(stack)))
    if as_json:
        print(json.dumps(result.to_json(), sort_keys=True))
        return
    weights = ", ".join(f"{c} {w}%" for c, w in result.weights.items())
    moved = "moved" if result.moved else "already there; nothing changed"
    print(f"traffic {stack}: {weights} ({moved}); stack file traffic "
          f"{result.steps[-1]}; ledger seq {result.entry.seq if result.entry else '-'}")
    if result.served:
        print(f"{stack}: live release seen serving; recorded served (ledger seq "
              f"{result.served.seq})")


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
    if result.served is not None:
        # plain text, after the table: the ledger now knows this release served here
        print(f"{stack}: live release seen serving; recorded served (ledger seq "
              f"{result.served})")
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
    family = f"{len(result.images)} image(s), {len(result.records)} record(s)"
    if not result.recorded:
        out.print(f"already revoked: {result.image or result.release} (family: {family}); "
                  "nothing changed")
    else:
        out.print(f"revoked {result.image or result.release} and its family ({family}); "
                  f"policy config updated: {', '.join(result.changed) or 'already listed'}")
    if not result.blast_radius:
        out.print("no stack declares it")
    for hit in result.blast_radius:
        role = "LIVE" if hit["live"] else "standby"
        out.print(f"  {hit['stack']}: {hit['colour']} {hit['image']} ({role}, "
                  f"{hit['weight']}% of traffic)")
