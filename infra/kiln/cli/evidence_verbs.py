"""``kiln evidence``: bundle a release's evidence, or verify a bundle offline."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from kiln.cli.base import JsonFlag, fail, guarded, out, waiting
from kiln.errors import KilnError
from kiln.project import stackfiles

KeyOption = Annotated[list[str] | None, typer.Option(
    "--key", help="Trust this key only: a PEM public key file, an Ed25519 key file or "
    "kms:<key id> (repeatable). Default: the stacks' kiln:trustedKeys.")]


def evidence_cmd(
        target: Annotated[str, typer.Argument(
            help="The stack whose release to bundle, or `verify`.")],
        bundle_file: Annotated[str | None, typer.Argument(
            metavar="[FILE]", help="With `verify`: the bundle to check.")] = None,
        release: Annotated[str | None, typer.Option(
            "--release", help="The release's record digest (default: the stack's live "
            "release).")] = None,
        out_file: Annotated[str | None, typer.Option(
            "--out", help="Where to write the bundle (default: evidence-<digest>.tar.gz).")
        ] = None,
        key: KeyOption = None,
        no_audit: Annotated[bool, typer.Option(
            "--no-audit", help="Leave the policy audit reports out.")] = False,
        push: Annotated[bool, typer.Option(
            "--push", help="Also push container attestations to their registries.")] = False,
        as_json: JsonFlag = False) -> None:
    """Bundle one release's records, attestations, ledger slice and audit reports into a
    signed archive; `kiln evidence verify FILE` checks one offline."""
    if target == "verify":
        if not bundle_file:
            fail("kiln evidence verify: name the bundle file (kiln evidence verify FILE)")
        _verify(Path(bundle_file), key or [], as_json)
        return
    if bundle_file:
        fail(f"unexpected argument {bundle_file!r}; to check a bundle run "
             "`kiln evidence verify FILE`")
    _write(target, release, out_file, no_audit, push, as_json)


def _write(stack: str, release: str | None, out_file: str | None, no_audit: bool,
           push: bool, as_json: bool) -> None:
    # Per-verb start-up cost: the bundle loads the attestation libraries and the audit.
    from kiln.evidence import bundle, collect, registry  # noqa: PLC0415
    from kiln.ops import context  # noqa: PLC0415
    from kiln.project import layout  # noqa: PLC0415
    from kiln.records import keys  # noqa: PLC0415
    from kiln.release import ledger  # noqa: PLC0415
    from kiln.release.record import DIGEST  # noqa: PLC0415

    def run() -> Any:
        ctx = context.open_context()
        stackfiles.check_stack_name(ctx.project, stack)
        digest = release
        if digest is None:
            settings = stackfiles.load_settings(ctx.project, stack)
            digest = settings.release(settings.live).record
        if not digest or not DIGEST.fullmatch(digest):
            raise KilnError(f"--release {digest!r} is not a record digest (sha256:<64 hex>)")
        root = ctx.project.root
        signer = keys.open_signer(layout.signing_key())
        out = Path(out_file) if out_file else Path.cwd() / bundle.default_name(digest)
        with waiting(f"bundling the evidence of {digest[:19]}…"):
            written = bundle.write(root, digest, out, entries=list(ctx.ledger.entries()),
                                   verify_ledger=ctx.ledger.verify, signer=signer,
                                   audit=None if no_audit else _audit_reports,
                                   now=ledger.now())
        pushed = []
        if push:
            for member in collect.family(root, digest):
                manifest = registry.push_record(member.record, member.digest, signer,
                                                collect.plugins(root / "images", member.record))
                if manifest:
                    pushed.append(manifest)
        return written, pushed

    written, pushed = guarded(run)
    if as_json:
        print(json.dumps({"path": str(written.path), "release": written.release,
                          "members": written.members, "bytes": written.size,
                          "stacks": written.stacks, "pushed": pushed}, sort_keys=True))
        return
    out.print(f"wrote {written.path}: release {written.release}, {written.members} members, "
              f"{written.size} bytes; served on {', '.join(written.stacks) or 'no stack yet'}")
    for manifest in pushed:
        out.print(f"pushed the attestation ({manifest}) beside the image")


def _audit_reports(stack: str, out_dir: Path) -> list[Path]:
    """The policy audit of ``stack`` as it is now, in every report format."""
    from kiln.audit import run, stacks  # noqa: PLC0415 (per-verb start-up cost)

    out_dir.mkdir(parents=True, exist_ok=True)
    return run.write_reports(stacks.audit_stack(stack), stacks.FORMATS, out_dir)


def _verify(path: Path, key: list[str], as_json: bool) -> None:
    from kiln.evidence import check  # noqa: PLC0415 (per-verb start-up cost)
    from kiln.records import keys  # noqa: PLC0415 (per-verb start-up cost)

    def run() -> tuple[Any, float]:
        started = time.perf_counter()
        trusted = keys.trusted(stackfiles.find_root(), key)
        return check.verify(path, trusted), time.perf_counter() - started

    proof, seconds = guarded(run)
    if as_json:
        print(json.dumps({"ok": True, "release": proof.release, "keyId": proof.manifest_key,
                          "records": proof.records, "attestations": proof.attestations,
                          "ledger": proof.ledger, "entries": proof.entries,
                          "audits": proof.audits, "seconds": round(seconds, 3)},
                         sort_keys=True))
        return
    for line in explain(proof):
        out.print(line)


def explain(proof: Any) -> list[str]:
    """What a verified bundle proves, in an auditor's words."""
    summary = proof.summary
    lines = [f"VERIFIED: evidence for release {proof.release}, bundled "
             f"{summary.get('createdAt')}; the manifest is signed by trusted key "
             f"{proof.manifest_key} and every member matches it."]
    for family in summary.get("family", []):
        images = ", ".join(f"{i} in {loc}" for i, loc in family["images"])
        role = {"release": "The release", "copy": "A cross-region copy",
                "built-from": "Built from"}.get(family["role"], family["role"])
        lines.append(f"{role}: {family['name']} ({family['kind']}) {images}; built "
                     f"{family['builtAt']} from commit {family['commit']}.")
    signers = sorted({r["keyId"] for r in proof.records})
    lines.append(f"Signed by: {', '.join(signers)} — {len(proof.records)} records and "
                 f"{proof.attestations} SLSA provenance attestations verify with trusted keys.")
    stacks = summary.get("stacks") or []
    served = [s for s in summary.get("timeline", []) if str(s["label"]).startswith("served")]
    for step in served:
        lines.append(f"Ran on {step['stack']} since {step['at']} ({step['action']} by "
                     f"{step['actor']}, ledger seq {step['seq']}).")
    if len(stacks) > 1:
        lines.append(f"Tested first on {stacks[0]}, then served on "
                     f"{', '.join(stacks[1:])}.")
    elif not stacks:
        lines.append("Not served on any stack yet.")
    for step in summary.get("timeline", []):
        if step["action"] in ("rollback", "revoke"):
            lines.append(f"{step['at']}: {step['label']} (by {step['actor']}).")
    ledger = proof.ledger
    lines.append(f"Ledger: {proof.entries} entries concern this release, each sealed; when "
                 "bundled the whole chain " + (f"verified ({ledger.get('entries')} entries)."
                                               if ledger.get("ok") else
                                               f"did NOT verify: {ledger.get('error')}."))
    for stack, verdict in sorted(proof.audits.items()):
        lines.append(f"Audit of {stack}: {verdict}.")
    return lines
