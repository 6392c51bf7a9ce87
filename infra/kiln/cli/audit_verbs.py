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
        export: Annotated[list[Path] | None, typer.Option(
            "--export", help="Audit `pulumi stack export` files instead: repeat it, or give "
                             "a directory of *.json exports (one report set per stack).")
        ] = None,
        export_stack: Annotated[str | None, typer.Option(
            "--stack", help="The stack a single --export file belongs to (default: the "
                            "stack its URNs name).")] = None,
        formats: Annotated[str, typer.Option(
            "--format", help="Reports to write: json,sarif,junit,html.")] = "json,sarif,junit,html",
        out_dir: Annotated[Path, typer.Option(
            "--out", help="Directory the reports are written to.")] = Path("audit-reports"),
        env: Annotated[str | None, typer.Option(
            "--env", help="Policy config environment (default: the stack name).")] = None,
        waivers: Annotated[Path | None, typer.Option(
            "--waivers", help="Waiver file (default: policies/immutable/waivers.yaml).")] = None,
        analyzer: Annotated[bool, typer.Option(
            "--analyzer", help="Run the real policy pack over the engine's gRPC protocol "
                               "instead of evaluating its rules in this process.")] = False,
        as_json: JsonFlag = False) -> None:
    """Check a stack against the immutable policy pack offline; exit 1 on a mandatory
    violation. Writes JSON, SARIF, JUnit and HTML reports to --out."""
    from kiln.audit import stacks as audit  # noqa: PLC0415 (per-verb start-up cost)
    from kiln.audit.run import write_reports  # noqa: PLC0415
    from kiln.cli.render import render_audit  # noqa: PLC0415 (rich, for people only)

    exports = list(export or [])
    if exports and stack and export_stack and stack != export_stack:
        fail(f"stack {stack!r} and --stack {export_stack!r} disagree; give one")
    if exports and stack and not export_stack:
        export_stack = stack
    if len(exports) > 1 and export_stack:
        fail("--stack goes with a single --export file; several exports name their stacks")
    target = export_stack or stack
    if not exports and not target:
        fail("give a stack (kiln audit prod) or an export (kiln audit --export FILE)")
    if not exports and export_stack and stack is None:
        fail("--stack goes with --export; to audit the program run `kiln audit STACK`")
    chosen = guarded(lambda: audit.parse_formats(formats))
    with waiting(f"auditing {target or ', '.join(str(e) for e in exports)}"):
        reports = guarded(lambda: audit.audit_exports(
            exports, export_stack, environment=env, waivers=waivers, analyzer=analyzer)
            if exports else [audit.audit_stack(target or "", environment=env, waivers=waivers,
                                               analyzer=analyzer)])
    written = guarded(lambda: [p for r in reports for p in write_reports(r, chosen, out_dir)])
    summary = audit.summary(reports)
    if len(reports) > 1:
        written.append(guarded(lambda: audit.write_summary(reports, out_dir)))
    if as_json:
        print(reports[0].dumps() if len(reports) == 1 else json.dumps(summary, indent=2),
              end="" if len(reports) == 1 else "\n")
    elif len(reports) == 1:
        render_audit(reports[0], written)
    else:
        for line in summary["stacks"]:
            print(f"{line['stack']}: {line['findings']} finding(s), {line['mandatory']} "
                  f"mandatory, {line['resources']} resources ({line['source']})")
        print(f"reports: {out_dir}")
    hard_exit.armed = True  # everything is written
    raise typer.Exit(summary["exitCode"])
