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
from kiln.bake import runner
from kiln.errors import KilnError
from kiln.local import mirror
from kiln.ops import context, deploy, promote, rollback, status
from kiln.preview import capture, plan
from kiln.project import stackfiles
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
    """bake → plan → deploy → emulated up → status → rollback → gates → promote → audit."""

    project = stackfiles.load_project(root)
    ctx = context.open_context(project)
    baked: dict[str, runner.BakeResult] = {}

    def bake(name: str, overrides: dict[str, str] | None = None) -> str:
        baked[name] = runner.bake(name, root, overrides or {})
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

    def deployed(stack: str) -> str:
        done = deploy.deploy(ctx, stack, app_record)
        return (f"{done.release.image} on {done.colour} (ledger seq "
                f"{done.entry.seq if done.entry else '-'}); then: {done.command}")

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

    def rolled_back(stack: str) -> str:
        done = rollback.rollback(ctx, stack)
        return (f"{done.source} → {done.target} with one ModifyListener call in "
                f"{done.flip_ms:.0f} ms (whole operation {done.total_ms:.0f} ms)")

    def promoted(source: str, target: str) -> str:
        done = promote.promote(ctx, source, target)
        copy = " (an encrypted copy, its record signed)" if done.release.record not in \
            str(done.entry.details.get("sourceRecord") if done.entry else "") else ""
        return (f"{done.release.image} (record {short_digest(done.release.record)}) on "
                f"{done.colour}{copy}")

    timed(result, say, "deploy dev", lambda: deployed("dev"))
    timed(result, say, "pulumi up dev (emulated)", lambda: stood_up("dev"))
    timed(result, say, "status dev", lambda: state("dev"))
    timed(result, say, "rollback dev", lambda: rolled_back("dev"))
    timed(result, say, "rollback dev (back again)", lambda: rolled_back("dev"))
    # A release that was rolled back is not promoted until it is deliberately redeployed.
    timed(result, say, "promote dev → staging", lambda: promoted("dev", "staging"))
    timed(result, say, "deploy dev again", lambda: deployed("dev"))
    timed(result, say, "promote dev → staging", lambda: promoted("dev", "staging"))
    timed(result, say, "promote staging → prod", lambda: promoted("staging", "prod"))
    timed(result, say, "pulumi up staging (emulated)", lambda: stood_up("staging"))
    timed(result, say, "rollback staging", lambda: rolled_back("staging"))
    audits(project, say, result)


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
    timed(result, say, "ledger verify",
          lambda: f"{ctx.ledger.verify()} entries, hash chain intact")
