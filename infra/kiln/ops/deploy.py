"""``kiln deploy``: put a verified release on a stack's idle colour and make it live.

Order: verify (signature, revocation family) → the Pulumi CLI is here (or --stage-only) and
the ledger reads → lock → intent (operation id) → write the stack file (validated, atomic)
→ `pulumi up` per canary step (health check and a pause between steps) → ``served`` once
kiln sees the colour take all traffic with its minimum of serving instances. With
--stage-only: ``staged`` and the exact `pulumi up` command. A rerun after a crash completes
the same operation; the ledger never records the same step twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiln.aws import traffic
from kiln.errors import OperationError
from kiln.model.stack import Release, StackSettings
from kiln.ops import lineage, pulumi_cli
from kiln.ops.context import Context
from kiln.ops.faults import checkpoint
from kiln.project import stackfiles
from kiln.records import keys, store, verify
from kiln.release import history
from kiln.release.bluegreen import RefusedError
from kiln.release.ledger import Entry
from kiln.release.promotion import GateError, canary_steps, plan_deploy
from kiln.release.record import short_digest


@dataclass(frozen=True)
class Candidate:
    """A verified release of one image in one region."""

    release: Release
    record_path: Path
    key_id: str
    name: str


@dataclass
class DeployResult:
    stack: str
    colour: str
    release: Release
    steps: list[int]
    applied: list[int] = field(default_factory=list)
    command: str | None = None
    entry: Entry | None = None
    already: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "colour": self.colour, "image": self.release.image,
                "record": self.release.record, "canary": self.steps,
                "applied": self.applied, "pulumiCommand": self.command,
                "alreadyDeployed": self.already,
                "ledgerSeq": self.entry.seq if self.entry else None}


def candidate(ctx: Context, settings: StackSettings, target: str) -> Candidate:
    """Verify ``target`` (record file or AMI id) for ``settings``' region and keys."""
    trusted = keys.stack_keys(ctx.project.root, settings.stack)
    verified = verify.target(target, ctx.project.root, trusted, settings.region,
                             check_revoked=False)
    verify.confine(verified.path, ctx.project.root)  # before anything is written
    record = verified.record
    if record.kind != "ami":
        raise GateError(f"record {short_digest(verified.digest)} is a {record.kind}, not an AMI")
    image = record.images.get(settings.region)
    if image is None:
        raise GateError(f"record {short_digest(verified.digest)} has no AMI in {settings.region} "
                        f"(it has {', '.join(sorted(record.images))}); promote copies it")
    sigs = store.read_signatures(store.signature_path(verified.path))
    signature = next(s.signature for s in sigs.signatures
                     if (s.image, s.location) == (image, settings.region))
    reason = lineage.revoked_reason(lineage.revoked(ctx.project.root), image, verified.digest)
    if reason:
        raise GateError(f"revocation gate: {image} is revoked ({reason})")
    return Candidate(Release(image, verified.digest, signature), verified.path,
                     verified.key_id, record.name)


def _open_arrival(entries: list[Entry], stack: str, record: str) -> list[Entry]:
    """Entries of the newest arrival on ``stack`` when it brought ``record`` and nothing
    moved the stack since (an operation to complete, or one already done)."""
    last: list[Entry] = []
    for entry in entries:
        if entry.stack != stack or entry.action not in (*history.ARRIVALS, "rollback"):
            continue
        op = history.operation(entry)
        if last and op is not None and history.operation(last[0]) == op:
            last.append(entry)
        else:
            last = [entry]
    if last and last[0].action in history.ARRIVALS and history.record_of(last[0]) == record:
        return last
    return []


def precheck(ctx: Context, stack: str, stage_only: bool) -> list[Entry]:
    """Everything that can refuse, before the first effect: the Pulumi CLI (or an explicit
    --stage-only), and a readable ledger."""
    if not stage_only and not pulumi_cli.cli_available():
        raise OperationError(f"no Pulumi CLI on PATH: kiln cannot apply {stack} here; pass "
                             "--stage-only to edit the stack file and get the `pulumi up` "
                             "command to run where the CLI is")
    return list(ctx.ledger.entries())


def observe_served(ctx: Context, settings: StackSettings, colour: str, *, op: str | None,
                   action: str, by: str) -> Entry | None:
    """Record ``served`` when the listener sends all traffic to ``colour`` and it has its
    minimum of serving instances; else record nothing (None)."""
    release = settings.release(colour)
    deployment = traffic.discover(settings.region, settings.service.name, settings.stack)
    if traffic.discovered_weights(deployment).get(colour) != 100:
        return None
    health = traffic.colour_health(deployment, colour, release.image)
    if health.serving < settings.service.min_healthy:
        return None
    return ctx.ledger.append(
        action, stack=settings.stack, commit=ctx.commit,
        subject={"image": release.image, "record": release.record},
        details={"phase": history.SERVED, "op": op, "colour": colour, "observedBy": by,
                 "serving": health.serving, "minHealthy": settings.service.min_healthy})


def roll_out(ctx: Context, stack: str, chosen: Candidate, *, canary: str | None,
             action: str = "deploy", details: dict[str, Any] | None = None,
             pause: float = 30.0, on_output: Callable[[str], object] | None = None,
             stage_only: bool = False) -> DeployResult:
    """Record the intent, write ``chosen`` into ``stack``, then apply it with `pulumi up`
    and record it served once seen serving — or, with ``stage_only``, record it staged.

    A rerun completes the interrupted operation (same operation id), never starts over."""
    steps = canary_steps(canary)
    precheck(ctx, stack, stage_only)
    checkpoint(f"{action}:lock")
    with ctx.locks.hold(stack, action):
        checkpoint(f"{action}:locked")
        settings = stackfiles.load_settings(ctx.project, stack)
        entries = precheck(ctx, stack, stage_only)
        plan = plan_deploy(settings, chosen.release, steps[0])
        result = DeployResult(stack, plan.colour, chosen.release, steps)
        arrival = _open_arrival(entries, stack, chosen.release.record)
        phases = {history.phase(e) for e in arrival}
        op = history.operation(arrival[0]) if arrival else None
        result.already = plan.done and (history.SERVED in phases
                                         or (stage_only and history.STAGED in phases))
        if result.already:
            result.entry = arrival[-1]
            if history.SERVED not in phases:
                result.command = pulumi_cli.up_command(ctx.project.root, stack)
            return result
        if op is None:
            op = history.new_operation_id()
            result.entry = ctx.ledger.append(
                action, stack=stack, commit=ctx.commit,
                subject={"image": chosen.release.image, "record": chosen.release.record},
                details={"phase": history.INTENT, "op": op, "colour": plan.colour,
                         "from": settings.release(settings.live).image,
                         "region": settings.region, "canary": steps,
                         "record": verify.confine(chosen.record_path,
                                                  ctx.project.root).as_posix(),
                         "key": chosen.key_id, **(details or {})})
        checkpoint(f"{action}:recorded")
        if not plan.written:
            stackfiles.update_config(ctx.project, stack, plan.changes)
        checkpoint(f"{action}:written")
        if stage_only:
            result.command = pulumi_cli.up_command(ctx.project.root, stack)
            if history.STAGED not in phases:
                result.entry = ctx.ledger.append(
                    action, stack=stack, commit=ctx.commit,
                    subject={"image": chosen.release.image, "record": chosen.release.record},
                    details={"phase": history.STAGED, "op": op, "colour": plan.colour,
                             "traffic": steps[0], "pulumiCommand": result.command})
            return result
        for index, step in enumerate(steps):
            if index:
                time.sleep(pause)
                _check_canary(settings, plan.colour, steps[index - 1])
                stackfiles.update_config(ctx.project, stack, {"kiln:traffic": step})
            pulumi_cli.up(ctx.project.root, stack, on_output)
            result.applied.append(step)
        seen = observe_served(ctx, stackfiles.load_settings(ctx.project, stack), plan.colour,
                              op=op, action=action, by="pulumi up")
        if seen is None:
            raise OperationError(f"pulumi up finished but {stack}'s {plan.colour} colour is "
                                 "not serving with its minimum healthy instances; not "
                                 "recorded as served")
        result.entry = seen
    return result


def _check_canary(settings: StackSettings, colour: str, at: int) -> None:
    """Between canary steps: the new colour must still have its minimum healthy targets."""

    deployment = traffic.discover(settings.region, settings.service.name, settings.stack)
    healthy = traffic.healthy(deployment, (colour,))[colour]
    if healthy < settings.service.min_healthy:
        raise RefusedError(f"canary halted at {at}%: {colour} has {healthy} healthy targets, "
                           f"needs {settings.service.min_healthy}; run kiln rollback "
                           f"{settings.stack}")


def deploy(ctx: Context, stack: str, target: str, *, canary: str | None = None,
           pause: float = 30.0, on_output: Callable[[str], object] | None = None,
           stage_only: bool = False) -> DeployResult:
    stackfiles.check_stack_name(ctx.project, stack)
    checkpoint("deploy:start")
    settings = stackfiles.load_settings(ctx.project, stack)
    chosen = candidate(ctx, settings, target)
    return roll_out(ctx, stack, chosen, canary=canary, action="deploy", pause=pause,
                    on_output=on_output, stage_only=stage_only)
