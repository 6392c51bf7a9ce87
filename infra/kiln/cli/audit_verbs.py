"""The verbs that read a stack without changing it: plan, audit — and the local demo."""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer

from kiln.cli.base import JsonFlag, fail, guarded, hard_exit, out, waiting
from kiln.project import stackfiles


def _plan(stack: str) -> Any:
    # The Pulumi SDK (~0.4 s) is loaded only by the verbs that run the program.
    from kiln.preview import capture, plan  # noqa: PLC0415

    project = stackfiles.load_project()
    with waiting(f"running the program for stack {stack} under the mock monitor"):
        return plan.build(capture.capture(stack, project))


def plan_cmd(stack: Annotated[str, typer.Argument(help="Stack name, e.g. dev.")],
             as_json: JsonFlag = False) -> None:
    """Show what STACK would deploy, offline: the real program under Pulumi's mock monitor."""
    result = guarded(lambda: _plan(stack))
    if as_json:
        out.print_json(data=result.to_json()) if sys.stdout.isatty() else \
            print(json.dumps(result.to_json(), indent=2, sort_keys=True))
        return
    from kiln.cli.render import render_plan  # noqa: PLC0415 (rich, for people only)

    render_plan(result)


def demo_cmd(plan_only: Annotated[bool, typer.Option(
                 "--plan-only", help="Only plan every stack (no stand-ins needed).")] = False,
             keep: Annotated[bool, typer.Option(
                 "--keep", help="Keep the scratch workspace (stack files, records, "
                                "ledger, audit reports).")] = False,
             as_json: JsonFlag = False) -> None:
    """Run the whole pipeline locally: bake, sign, plan, deploy, promote, roll back, audit —
    against the AWS emulator, a local dockerd and registry, in a scratch copy of the project."""
    project = guarded(stackfiles.load_project)
    if plan_only:
        plans = [guarded(partial(_plan, stack)) for stack in project.stacks()]
        if as_json:
            print(json.dumps([p.to_json() for p in plans], indent=2, sort_keys=True))
            return
        from kiln.cli.render import render_plan  # noqa: PLC0415 (rich, for people only)

        for result in plans:
            render_plan(result)
            out.print()
        return
    from kiln.local import demo  # noqa: PLC0415 (per-verb start-up cost)

    def say(line: str) -> None:
        if not as_json:
            print(line, flush=True)

    result = guarded(lambda: demo.run(project.root, say, keep=keep))
    if as_json:
        print(json.dumps(result.to_json(), indent=2))


def audit_cmd(
        stack: Annotated[str | None, typer.Argument(
            help="Stack to audit from a mock run of the program, e.g. prod.")] = None,
        *,
        export: Annotated[Path | None, typer.Option(
            "--export", help="Audit a `pulumi stack export` file instead (with --stack).")] = None,
        export_stack: Annotated[str | None, typer.Option(
            "--stack", help="The stack the --export file belongs to.")] = None,
        formats: Annotated[str, typer.Option(
            "--format", help="Reports to write: json,sarif,junit,html.")] = "json,sarif,junit,html",
        out_dir: Annotated[Path, typer.Option(
            "--out", help="Directory the reports are written to.")] = Path("audit-reports"),
        env: Annotated[str | None, typer.Option(
            "--env", help="Policy config environment (default: the stack name).")] = None,
        waivers: Annotated[Path | None, typer.Option(
            "--waivers", help="Waiver file (default: policies/immutable/waivers.yaml).")] = None,
        as_json: JsonFlag = False) -> None:
    """Check a stack against the immutable policy pack offline; exit 1 on a mandatory
    violation. Writes JSON, SARIF, JUnit and HTML reports to --out."""
    # Loaded here, while the pack that kiln.cli.launch started boots.
    from kiln.audit import stacks as audit  # noqa: PLC0415
    from kiln.audit.run import write_reports  # noqa: PLC0415
    from kiln.cli.render import render_audit  # noqa: PLC0415

    if export is not None and stack and export_stack and stack != export_stack:
        fail(f"stack {stack!r} and --stack {export_stack!r} disagree; give one")
    target = export_stack or stack
    if not target:
        fail("give a stack (kiln audit prod) or an export (kiln audit --export FILE --stack prod)")
    if export is None and export_stack and stack is None:
        fail("--stack goes with --export; to audit the program run `kiln audit STACK`")
    chosen = guarded(lambda: audit.parse_formats(formats))
    with waiting(f"auditing {target}"):
        report = guarded(lambda: audit.audit_export(export, target, environment=env,
                                                    waivers=waivers) if export is not None
                         else audit.audit_stack(target, environment=env, waivers=waivers))
    written = guarded(lambda: write_reports(report, chosen, out_dir))
    if as_json:
        print(report.dumps(), end="")
    else:
        render_audit(report, written)
    hard_exit.armed = True  # everything is written and the pack is stopped
    raise typer.Exit(report.exit_code)
