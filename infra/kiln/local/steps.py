"""The steps of ``kiln demo``, run inside its scratch project with the stand-ins up."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from kiln.audit import stacks as audit
from kiln.audit.run import write_reports
from kiln.bake import runner, watch
from kiln.errors import KilnError
from kiln.evidence import bundle, check
from kiln.local import mirror
from kiln.ops import context, deploy, promote, rollback, shift, status
from kiln.preview import capture, plan
from kiln.project import layout, stackfiles
from kiln.project.ledger_anchor import ledger_keys
from kiln.records import keys
from kiln.release.ledger import now
from kiln.release.record import short_digest


@dataclass
class Step:
    name: str
    seconds: float
    outcome: str


@dataclass
class DemoResult:
    workdir: Path
    steps: list[Step] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"workdir": str(self.workdir),
                "steps": [{"name": s.name, "seconds": round(s.seconds, 3),
                           "outcome": s.outcome} for s in self.steps]}



def timed(result: DemoResult, say: Callable[[str], None], name: str,
          call: Callable[[], str]) -> None:
    """Run one step, report its outcome and time; a refusal is an outcome, not a crash."""
    start = time.perf_counter()
    try:
        outcome = call()
    except KilnError as error:
        outcome = f"refused: {error}"
    seconds = time.perf_counter() - start
    result.steps.append(Step(name, seconds, outcome))
    say(f"{name:<28} {seconds:6.2f} s  {outcome}")


def pipeline(root: Path, env: dict[str, str], say: Callable[[str], None],
             result: DemoResult) -> None:
    """bake → plan → staged canary deploy → emulated up → traffic → status → rollback (twice:
    the second changes nothing) → gates → promote → audit."""

    project = stackfiles.load_project(root)
    ctx = context.open_context(project)
    baked: dict[str, runner.BakeResult] = {}

    def packer_phase(event: watch.Event) -> None:
        if event.phase:  # Packer's own steps, as `kiln bake` shows them without a terminal
            say(f"    packer {event.elapsed:5.1f} s  {event.line[:80]}")

    def bake(name: str, overrides: dict[str, str] | None = None) -> str:
        baked[name] = runner.bake(name, root, overrides or {}, progress=packer_phase)
        done = baked[name]
        verb = "cache hit, Packer not run" if done.cached else "baked with Packer"
        return f"{verb}: {done.image} (record {short_digest(str(done.record))})"

    timed(result, say, "bake golden", lambda: bake("golden"))
    timed(result, say, "bake container", lambda: bake(
        "container", {"repository": f"{env['KILN_REGISTRY']}/kiln/web"}))
    timed(result, say, "bake app", lambda: bake("app"))
    timed(result, say, "bake golden again", lambda: bake("golden"))
    app_record = str(baked["app"].record_path)

    def planned(stack: str) -> str:
        shown = plan.build(capture.capture(stack, project))
        live = next(c for c, info in shown.colours.items() if info["live"])
        return (f"{sum(1 for r in shown.resources if r.custom)} resources; {live} live "
                f"at {shown.colours[live]['weight']}%, image {shown.colours[live]['image']}")

    for stack in project.stacks():
        timed(result, say, f"plan {stack}", partial(planned, stack))

    releases(project, ctx, app_record, say, result)
    audits(project, say, result)


def releases(project: stackfiles.Project, ctx: context.Context, app_record: str,
             say: Callable[[str], None], result: DemoResult) -> None:
    """A staged canary finished with `kiln traffic`, rollbacks (the second changes
    nothing), the gates, and promotions."""

    def deployed(stack: str, canary: str | None = None) -> str:
        # No Pulumi CLI in the demo: stage the change and apply it the emulated way.
        done = deploy.deploy(ctx, stack, app_record, canary=canary, stage_only=True)
        return (f"staged {done.release.image} on {done.colour} at {done.steps[0]}% (ledger "
                f"seq {done.entry.seq if done.entry else '-'}); then: {done.command}")

    def moved(stack: str, percent: int | None = None, canary: str | None = None) -> str:
        done = shift.move(ctx, stack, percent, canary=canary, pause=0)
        weights = ", ".join(f"{c} {w}%" for c, w in done.weights.items())
        served = f"; served (ledger seq {done.served.seq})" if done.served else ""
        return (f"{weights} with {len(done.moved)} ModifyListener call(s) in "
                f"{done.flip_ms:.0f} ms{served}")

    def stood_up(stack: str) -> str:
        # Where `pulumi up` would run: the program's own resources, created in the emulator.
        cap = capture.capture(stack, project)
        region = stackfiles.load_settings(project, stack).region
        made = mirror.create(list(cap.resources), region)
        return f"emulating pulumi up: {len(made.ids)} resources created in {region}"

    def state(stack: str) -> str:
        seen = status.status(ctx, stack)
        healthy = ", ".join(f"{c} {i['healthy']} healthy at {i['weight']}%"
                            for c, i in seen.colours.items())
        return f"{healthy}; drift: {'; '.join(seen.drift) or 'none'}"

    def rolled_back(stack: str, back: bool = False) -> str:
        # back: an explicit --to the colour rolled away from (gated like any move)
        to = stackfiles.load_settings(project, stack).idle if back else None
        done = rollback.rollback(ctx, stack, to)
        if done.unchanged:
            return f"already on the last known good ({done.target}, {done.image}): no call"
        return (f"{done.source} → {done.target} with one ModifyListener call in "
                f"{done.flip_ms:.0f} ms (whole operation {done.total_ms:.0f} ms)")

    def promoted(source: str, target: str) -> str:
        below = stackfiles.load_settings(project, source)
        done = promote.promote(ctx, source, target, stage_only=True)
        copy = " (an encrypted copy, its record signed)" \
            if done.release.record != below.release(below.live).record else ""
        return (f"{done.release.image} (record {short_digest(done.release.record)}) on "
                f"{done.colour}{copy}")

    timed(result, say, "deploy dev (canary)", lambda: deployed("dev", "10,50,100"))
    timed(result, say, "pulumi up dev (emulated)", lambda: stood_up("dev"))
    timed(result, say, "traffic dev --canary 50,100",
          lambda: moved("dev", canary="50,100"))
    timed(result, say, "status dev", lambda: state("dev"))
    timed(result, say, "rollback dev", lambda: rolled_back("dev"))
    timed(result, say, "rollback dev (again)", lambda: rolled_back("dev"))
    timed(result, say, "rollback dev --to (back)", lambda: rolled_back("dev", back=True))
    # A release that was rolled back is not promoted until it is deliberately redeployed.
    timed(result, say, "promote dev → staging", lambda: promoted("dev", "staging"))
    timed(result, say, "deploy dev again", lambda: deployed("dev"))
    timed(result, say, "traffic dev 100", lambda: moved("dev", 100))
    timed(result, say, "promote dev → staging", lambda: promoted("dev", "staging"))
    timed(result, say, "pulumi up staging (emulated)", lambda: stood_up("staging"))
    timed(result, say, "promote staging → prod", lambda: promoted("staging", "prod"))
    timed(result, say, "rollback staging", lambda: rolled_back("staging"))


def audits(project: stackfiles.Project, say: Callable[[str], None],
           result: DemoResult) -> None:
    ctx = context.open_context(project)

    def audited(stack: str) -> str:
        report = audit.audit_stack(stack)
        written = write_reports(report, list(audit.FORMATS), result.workdir / "audit")
        counts = report.counts()
        return (f"{'FAIL' if report.exit_code else 'PASS'}: {counts['mandatory']} mandatory, "
                f"{counts['advisory']} advisory; {len(written)} reports")

    for stack in project.stacks():
        timed(result, say, f"audit {stack}", partial(audited, stack))
    def verified() -> str:
        found = ctx.ledger.check(ledger_keys(project))
        return (f"{found.entries} entries, hash chain intact, every entry signed by "
                f"{', '.join(sorted(found.signers))}; head seq {found.entries - 1} agrees with "
                f"{', '.join(found.anchors) or 'no anchor'}")

    timed(result, say, "ledger verify", verified)
    evidence(project, say, result)


def evidence(project: stackfiles.Project, say: Callable[[str], None], result: DemoResult,
             stack: str = "dev") -> None:
    """Write the evidence bundle of what dev runs (the release promoted on), then verify it
    offline."""

    def reports(name: str, out_dir: Path) -> list[Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        return write_reports(audit.audit_stack(name), list(audit.FORMATS), out_dir)

    def bundled() -> str:
        ctx = context.open_context(project)
        settings = stackfiles.load_settings(project, stack)
        digest = settings.release(settings.live).record
        out = result.workdir / bundle.default_name(digest)
        written = bundle.write(project.root, digest, out, entries=list(ctx.ledger.entries()),
                               verify_ledger=ctx.ledger.verify,
                               signer=keys.open_signer(layout.signing_key()),
                               audit=reports, now=now())
        started = time.perf_counter()
        proof = check.verify(out, keys.stack_keys(project.root))
        return (f"{out.name}: {written.size} bytes, {written.members} members; verified "
                f"offline in {time.perf_counter() - started:.2f} s ({proof.attestations} "
                f"attestations, {proof.entries} ledger entries, served on "
                f"{', '.join(written.stacks)})")

    timed(result, say, f"evidence bundle ({stack})", bundled)
