"""``kiln deploy``: put a verified release on a stack's idle colour and make it live.

Order: verify (signature, revocation) → lock → write the stack file (validated, atomic)
→ ledger → `pulumi up` when the CLI is there (per canary step, with a health check and a
pause between steps), else print the command. A rerun after a crash finds the release
already written and continues; the ledger never records the same step twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiln.aws import traffic
from kiln.model.stack import Release, StackSettings
from kiln.ops import pulumi_cli
from kiln.ops.context import Context
from kiln.ops.faults import checkpoint
from kiln.project import revocations, stackfiles
from kiln.records import keys, store, verify
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
    verified = verify.target(target, ctx.project.root, trusted, settings.region)
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
    for entry in revocations.listed(ctx.project.root):
        if entry.matches(image, verified.digest):
            raise GateError(f"revocation gate: {image} is revoked ({entry.reason})")
    return Candidate(Release(image, verified.digest, signature), verified.path,
                     verified.key_id, record.name)


def _recorded(ctx: Context, stack: str, record: str) -> Entry | None:
    """The ledger entry that brought ``record`` to ``stack``, if nothing moved it since."""
    last = None
    for entry in ctx.ledger.entries():
        if entry.stack == stack and entry.action in ("deploy", "promote", "rollback"):
            last = entry
    if last and last.action != "rollback" and last.subject.get("record") == record:
        return last
    return None


def roll_out(ctx: Context, stack: str, chosen: Candidate, *, canary: str | None,
             action: str = "deploy", details: dict[str, Any] | None = None,
             pause: float = 30.0, on_output: Callable[[str], object] | None = None
             ) -> DeployResult:
    """Write ``chosen`` into ``stack`` and record it; apply with `pulumi up` when possible."""
    steps = canary_steps(canary)
    checkpoint(f"{action}:lock")
    with ctx.locks.hold(stack, action):
        checkpoint(f"{action}:locked")
        settings = stackfiles.load_settings(ctx.project, stack)
        plan = plan_deploy(settings, chosen.release, steps[0])
        result = DeployResult(stack, plan.colour, chosen.release, steps)
        if not plan.written:
            stackfiles.update_config(ctx.project, stack, plan.changes)
        checkpoint(f"{action}:written")
        result.entry = _recorded(ctx, stack, chosen.release.record)
        result.already = plan.done and result.entry is not None
        if result.entry is None:
            result.entry = ctx.ledger.append(
                action, stack=stack, commit=ctx.commit,
                subject={"image": chosen.release.image, "record": chosen.release.record},
                details={"colour": plan.colour, "from": settings.release(settings.live).image,
                         "region": settings.region, "canary": steps,
                         "record": str(chosen.record_path.relative_to(ctx.project.root)),
                         "key": chosen.key_id, **(details or {})})
        checkpoint(f"{action}:recorded")
        if not pulumi_cli.cli_available():
            result.command = pulumi_cli.up_command(ctx.project.root, stack)
            return result
        for index, step in enumerate(steps):
            if index:
                time.sleep(pause)
                _check_canary(settings, plan.colour, steps[index - 1])
                stackfiles.update_config(ctx.project, stack, {"kiln:traffic": step})
            pulumi_cli.up(ctx.project.root, stack, on_output)
            result.applied.append(step)
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
           pause: float = 30.0, on_output: Callable[[str], object] | None = None
           ) -> DeployResult:
    stackfiles.check_stack_name(ctx.project, stack)
    checkpoint("deploy:start")
    settings = stackfiles.load_settings(ctx.project, stack)
    chosen = candidate(ctx, settings, target)
    return roll_out(ctx, stack, chosen, canary=canary, action="deploy", pause=pause,
                    on_output=on_output)
