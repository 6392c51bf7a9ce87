"""The ``kiln`` command: parse arguments, call one function, print the result.

Bad input ends with one line on stderr and exit status 2; no tracebacks. Verbs that do not
need Pulumi import nothing from it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from kiln import __version__

app = typer.Typer(name="kiln", add_completion=False, no_args_is_help=True,
                  pretty_exceptions_enable=False,
                  help="Immutable infrastructure on AWS: signed images, blue/green stacks.")


class _LazyConsole:
    """A rich Console made on first use: commands that print one plain line (rollback's
    fast path) never pay for importing rich."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return getattr(self._console, name)


# Piped output keeps whole lines (a terminal's own width applies when there is one).
out = _LazyConsole(highlight=False, width=None if sys.stdout.isatty() else 240)
err = _LazyConsole(stderr=True, highlight=False, soft_wrap=True)

EXIT_BAD_INPUT = 2
T = TypeVar("T")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    print(f"kiln: error: {message}", file=sys.stderr)
    raise typer.Exit(code)


@contextmanager
def waiting(message: str) -> Iterator[None]:
    """A spinner on stderr while something slow runs (only when stderr is a terminal)."""
    if not sys.stderr.isatty():
        yield
        return
    with err.status(message, spinner="dots"):
        yield


def guarded(call: Callable[[], T]) -> T:
    """Run ``call``; report kiln's errors and AWS failures on one line with their exit code."""
    from kiln.errors import KilnError

    try:
        return call()
    except KilnError as error:
        fail(str(error), error.exit_code)
    except Exception as error:
        if "botocore" not in sys.modules:  # no AWS call was made: not an AWS failure
            raise
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(error, ClientError):
            info = error.response.get("Error", {})
            fail(f"AWS {error.operation_name}: {info.get('Code')}: "
                 f"{' '.join(str(info.get('Message', '')).split())}", 1)
        if isinstance(error, BotoCoreError):
            fail(f"AWS: {' '.join(str(error).split())}", 1)
        raise


def _version(value: bool) -> None:
    if value:
        out.print(f"kiln {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Show the version.")] = False
          ) -> None:
    """kiln — bake signed images, deploy them blue/green, keep the evidence."""


def _plan(stack: str) -> Any:
    from kiln import capture, plan, stackfiles

    project = stackfiles.load_project()
    with waiting(f"running the program for stack {stack} under the mock monitor"):
        return plan.build(capture.capture(stack, project))


@app.command("plan")
def plan_cmd(stack: Annotated[str, typer.Argument(help="Stack name, e.g. dev.")],
             as_json: JsonFlag = False) -> None:
    """Show what STACK would deploy, offline: the real program under Pulumi's mock monitor."""
    result = guarded(lambda: _plan(stack))
    if as_json:
        out.print_json(data=result.to_json()) if sys.stdout.isatty() else \
            print(json.dumps(result.to_json(), indent=2, sort_keys=True))
        return
    from kiln.render import render_plan

    render_plan(result)


@app.command("demo")
def demo_cmd(plan_only: Annotated[bool, typer.Option(
                 "--plan-only", help="Only plan every stack (no stand-ins needed).")] = False,
             keep: Annotated[bool, typer.Option(
                 "--keep", help="Keep the scratch workspace (stack files, records, "
                                "ledger, audit reports).")] = False,
             as_json: JsonFlag = False) -> None:
    """Run the whole pipeline locally: bake, sign, plan, deploy, promote, roll back, audit —
    against the AWS emulator, a local dockerd and registry, in a scratch copy of the project."""
    from kiln import stackfiles

    project = guarded(stackfiles.load_project)
    if plan_only:
        plans = [guarded(partial(_plan, stack)) for stack in project.stacks()]
        if as_json:
            print(json.dumps([p.to_json() for p in plans], indent=2, sort_keys=True))
            return
        from kiln.render import render_plan

        for result in plans:
            render_plan(result)
            out.print()
        return
    from kiln import demo

    def say(line: str) -> None:
        if not as_json:
            print(line, flush=True)

    result = guarded(lambda: demo.run(project.root, say, keep=keep))
    if as_json:
        print(json.dumps(result.to_json(), indent=2))


@app.command("audit")
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
    from kiln import audit

    if export is not None and stack and export_stack and stack != export_stack:
        fail(f"stack {stack!r} and --stack {export_stack!r} disagree; give one")
    target = export_stack or stack
    if not target:
        fail("give a stack (kiln audit prod) or an export (kiln audit --export FILE --stack prod)")
    if export is None and export_stack and stack is None:
        fail("--stack goes with --export; to audit the program run `kiln audit STACK`")
    chosen = guarded(lambda: audit.parse_formats(formats))
    # Loaded now, while the pack kiln.launch started boots, rather than after the audit.
    from kiln.audit.run import write_reports
    from kiln.render import render_audit

    with waiting(f"auditing {target}"):
        report = guarded(lambda: audit.audit_export(export, target, environment=env,
                                                    waivers=waivers) if export is not None
                         else audit.audit_stack(target, environment=env, waivers=waivers))
    written = guarded(lambda: write_reports(report, chosen, out_dir))
    if as_json:
        print(report.dumps(), end="")
    else:
        render_audit(report, written)
    _exit.hard = True  # everything is written and the pack is stopped
    raise typer.Exit(report.exit_code)


@app.command("rollback")
def rollback_cmd(stack: Annotated[str, typer.Argument(help="Stack name, e.g. prod.")],
                 as_json: JsonFlag = False) -> None:
    """Move STACK's traffic back to its standby colour (one listener change), after checking
    the standby colour's health; then write the stack file and the ledger."""
    from kiln.ops import context, rollback

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


def _progress(line: str) -> None:
    print(line, end="" if line.endswith("\n") else "\n", file=sys.stderr, flush=True)


def short_digest(digest: str | None) -> str:
    return f"{digest[:19]}…" if digest else "-"


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


@app.command("deploy")
def deploy_cmd(stack: Annotated[str, typer.Argument(help="Stack name, e.g. dev.")],
               release: Annotated[str, typer.Argument(help="Record file or AMI id.")],
               canary: CanaryOption = None, pause: PauseOption = 30.0,
               as_json: JsonFlag = False) -> None:
    """Verify RELEASE and deploy it to STACK's idle colour, then make it live."""
    from kiln.ops import context, deploy

    # `pulumi up` (when the CLI is here) streams its own progress to stderr.
    result = guarded(lambda: deploy.deploy(context.open_context(), stack, release,
                                           canary=canary, pause=pause, on_output=_progress))
    if as_json:
        print(json.dumps(result.to_json(), sort_keys=True))
        return
    _report_rollout(result, "deployed")


@app.command("promote")
def promote_cmd(source: Annotated[str, typer.Argument(help="Stack promoted from.")],
                target: Annotated[str, typer.Argument(help="Stack promoted to.")],
                skip_gate: Annotated[str | None, typer.Option(
                    "--skip-gate", help="Reason to promote out of environment order "
                                        "(recorded in the ledger).")] = None,
                canary: CanaryOption = None, pause: PauseOption = 30.0,
                as_json: JsonFlag = False) -> None:
    """Deploy SOURCE's live release — the same signed record — to TARGET, through the gates."""
    from kiln.ops import context, promote

    result = guarded(lambda: promote.promote(context.open_context(), source, target,
                                             skip_gate=skip_gate, canary=canary, pause=pause,
                                             on_output=_progress))
    if as_json:
        print(json.dumps(result.to_json(), sort_keys=True))
        return
    _report_rollout(result, f"promoted from {source}:")


@app.command("status")
def status_cmd(stack: Annotated[str, typer.Argument(help="Stack name, e.g. prod.")],
               as_json: JsonFlag = False) -> None:
    """Show STACK's live colour, weights, releases, healthy targets and drift; exit 1 on drift."""
    from kiln.ops import context, status

    with waiting(f"reading {stack}"):
        result = guarded(lambda: status.status(context.open_context(), stack))
    if as_json:
        print(json.dumps(result.to_json(), sort_keys=True))
    else:
        from kiln.render import render_status

        render_status(result)
    if result.drift:
        raise typer.Exit(1)


@app.command("retire")
def retire_cmd(stack: Annotated[str, typer.Argument(help="Stack name, e.g. prod.")],
               window: Annotated[int, typer.Option(
                   help="Minutes after a deploy or rollback before the old colour may be "
                        "retired.", min=0)] = 30,
               as_json: JsonFlag = False) -> None:
    """Bring STACK's standby colour to its standby mode (hot, warm pool, or zero)."""
    import datetime as dt

    from kiln.ops import context, retire

    result = guarded(lambda: retire.retire(context.open_context(), stack,
                                           dt.timedelta(minutes=window)))
    if as_json:
        print(json.dumps(result.to_json(), sort_keys=True))
        return
    out.print(f"retired {stack}'s {result.colour} colour to {result.mode} standby "
              f"({', '.join(result.calls) or 'no change needed'})")


@app.command("revoke")
def revoke_cmd(target: Annotated[str, typer.Argument(help="AMI id or record digest.")],
               reason: Annotated[str, typer.Option(help="Why it is revoked.")] = "",
               as_json: JsonFlag = False) -> None:
    """Revoke an image everywhere (the policy pack refuses it) and show which stacks run it."""
    from kiln.ops import context, revoke

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


ledger_app = typer.Typer(help="Show and verify the tamper-evident ledger.",
                         no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")


@ledger_app.command("verify")
def ledger_verify_cmd(as_json: JsonFlag = False) -> None:
    """Re-walk the hash chain; exit non-zero at the first broken entry."""
    from kiln.ops import context

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
    from dataclasses import asdict

    from kiln.ops import context

    entries = guarded(lambda: [e for e in context.open_context().ledger.entries()
                               if stack is None or e.stack == stack])
    if as_json:
        print(json.dumps([asdict(e) for e in entries], sort_keys=True))
        return
    from kiln.render import render_ledger

    render_ledger(entries)


def _short(digest: str | None) -> str:
    return f"{digest[:19]}…" if digest else "-"


@app.command("bake")
def bake_cmd(
        image: Annotated[str, typer.Argument(help="golden, container or app.")],
        var: Annotated[list[str] | None, typer.Option(
            "--var", help="Set a Packer variable, name=value (repeatable).")] = None,
        force: Annotated[bool, typer.Option(
            "--force", help="Bake even when these inputs were baked before.")] = False,
        signing_key: Annotated[str | None, typer.Option(
            "--signing-key", help="Ed25519 key file or kms:<key id> (default: "
            "KILN_SIGNING_KEY, else ~/.config/kiln/release.pem).")] = None,
        as_json: JsonFlag = False) -> None:
    """Bake IMAGE with Packer, sign its record and tag it — or reuse an identical bake."""
    from kiln import stackfiles
    from kiln.bake import inputs, runner

    def run() -> Any:
        root = stackfiles.find_root()
        with err.status(f"baking {image}", spinner="dots") as status:
            return runner.bake(image, root, inputs.parse_overrides(var or []), force=force,
                               signing_key=signing_key,
                               progress=lambda m: status.update(f"baking {image}: {m[:100]}"))

    result = guarded(run)
    if as_json:
        print(json.dumps(result.to_json(), sort_keys=True))
    elif result.cached:
        out.print(f"cache hit: {image} inputs {_short(result.input_hash)} were baked before "
                  f"as {result.image} (record {_short(result.record)}); Packer not run "
                  f"({result.seconds:.2f} s; --force rebakes)")
    else:
        out.print(f"baked {image}: {result.image} ({result.location}) in "
                  f"{result.seconds:.1f} s; record {result.record} signed → "
                  f"{result.record_path}")


@app.command("verify")
def verify_cmd(
        target: Annotated[str, typer.Argument(
            help="A record file (releases/<name>/<digest>.json), an AMI id or a container "
                 "digest ([repository@]sha256:…).")],
        key: Annotated[list[str] | None, typer.Option(
            "--key", help="Trust this key only: a PEM public key file, an Ed25519 key file "
            "or kms:<key id> (repeatable). Default: the stacks' kiln:trustedKeys.")] = None,
        stack: Annotated[str | None, typer.Option(
            "--stack", help="Trust only this stack's kiln:trustedKeys.")] = None,
        region: Annotated[str | None, typer.Option(
            "--region", help="Region of an AMI (default: AWS_REGION).")] = None,
        as_json: JsonFlag = False) -> None:
    """Check a record or image against trusted keys; exit non-zero and say why it fails."""
    from kiln import stackfiles
    from kiln.bake import keys, verify

    def run() -> Any:
        root = stackfiles.find_root()
        where = region or verify.default_region()
        trusted = keys.trusted(root, key or [], stack, where)
        return verify.target(target, root, trusted, where)

    result = guarded(run)
    if as_json:
        print(json.dumps(result.to_json(), sort_keys=True))
        return
    images = ", ".join(f"{i} ({loc})" for i, loc in result.record.locations())
    out.print(f"verified: record {result.digest} ({result.record.name}, "
              f"{result.record.kind}) signed by {result.key_id} for {images}")


keys_app = typer.Typer(help="Create signing keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("generate")
def keys_generate_cmd(
        path: Annotated[str, typer.Argument(help="Where to write the private key (PEM).")],
        as_json: JsonFlag = False) -> None:
    """Write a new Ed25519 signing key (0600) and its public half beside it (.pub)."""
    from pathlib import Path

    from kiln.bake import keys

    public, public_path = guarded(lambda: keys.generate(Path(path)))
    if as_json:
        print(json.dumps({"id": public.id, "type": public.type, "publicKey": public.pem,
                          "publicKeyPath": str(public_path)}, sort_keys=True))
        return
    out.print(f"wrote {path} (private, 0600) and {public_path}; trust it in a stack file:")
    out.print(f"  kiln:trustedKeys:\n    - id: {public.id}\n      type: {public.type}\n"
              "      publicKey: |\n" + "".join(f"        {line}\n"
                                              for line in public.pem.splitlines()), end="")


class _Exit:
    """Set ``hard`` once a command's results are written and every process it started is
    stopped: main() then skips the interpreter's teardown, which takes ~0.2 s once the Pulumi
    SDK is imported (mypy's hard_exit does the same)."""

    hard = False


_exit = _Exit()


def main() -> None:
    try:
        app()
    except SystemExit as done:
        if not _exit.hard:
            raise
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    main()
