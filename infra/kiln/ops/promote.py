"""``kiln promote <from> <to>``: deploy the live release of one stack to the next.

Gates, each refusing with its reason: the target is the next environment in the project's
order (or ``--skip-gate REASON``, recorded); the release verifies with the target's trusted
keys; the ledger shows it deployed to the source and not rolled back since; it is not
revoked. A target in another region gets an encrypted copy of the AMI, described by a new
record that names the original (``copyOf``) and is signed like a bake.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from kiln.aws import copy as ami_copy
from kiln.aws.traffic import NotDeployedError
from kiln.model import naming
from kiln.ops.context import Context
from kiln.ops.deploy import (
    Candidate,
    DeployResult,
    candidate,
    observe_served,
    precheck,
    roll_out,
)
from kiln.ops.faults import checkpoint
from kiln.project import layout, stackfiles
from kiln.records import keys, store
from kiln.records.publish import publish
from kiln.release import history
from kiln.release.promotion import GateError, check_order, check_proven
from kiln.release.record import ArtifactRecord, short_digest


def _copy_record(ctx: Context, original: ArtifactRecord, digest: str, *, image: str,
                 source_region: str, target_region: str, signer: Any) -> str:
    """Copy the AMI, write and sign a record of the copy; return the record's path."""
    for path in store.record_files(ctx.project.root, original.name):
        record, _ = store.load(path)
        if record.extra.get("copyOf") == digest and target_region in record.images:
            return str(path)  # copied by an earlier, interrupted run
    new_image = ami_copy.find_copy(target_region, digest) or ami_copy.copy_image(
        image, source_region, target_region, original.name,
        {naming.TAG_NAME: original.name, naming.TAG_COPY_OF: digest,
         naming.TAG_INPUT_HASH: str(original.inputs.get("inputHash", ""))})
    checkpoint("promote:copied")
    record = ArtifactRecord(
        kind="ami", name=original.name, images={target_region: new_image},
        source=original.source, inputs=original.inputs, tools=original.tools,
        built_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        packer_run_uuid=original.packer_run_uuid,
        extra={"copyOf": digest, "copiedFrom": {"image": image, "region": source_region}})
    published = publish(ctx.project.root, record, signer, ctx.ledger, commit=ctx.commit,
                        details={"copyOf": digest, "region": target_region})
    signature = next(s.signature for s in published.signatures.signatures
                     if s.image == new_image)
    # A copy is first-class: tagged like a bake, so `kiln verify <copy>` and a deploy by
    # its id find the record and the signature.
    ami_copy.tag_release(target_region, new_image, record.digest, signature,
                         published.signatures.key_id)
    return str(published.record_path)


def _proven(ctx: Context, settings: Any, record: str) -> None:
    """The history gate; a release staged below and since seen serving there (its `pulumi
    up` ran elsewhere) is recorded served first."""
    entries = list(ctx.ledger.entries())
    try:
        check_proven(entries, settings.stack, record)
        return
    except GateError:
        arrival = next((e for e in reversed(entries) if e.stack == settings.stack
                        and e.action in history.ARRIVALS and history.record_of(e) == record),
                       None)
        # observe only a release never seen serving: a rollback away from it stands
        rolled_away = arrival is not None and any(
            e.seq > arrival.seq and e.stack == settings.stack and e.action == "rollback"
            and history.side(e, "from").get("record") == record for e in entries)
        if arrival is None or rolled_away or settings.release(settings.live).record != record \
                or history.served(entries, settings.stack, record) is not None:
            raise
    with ctx.locks.hold(settings.stack, "observe"), suppress(NotDeployedError):
        observe_served(ctx, settings, settings.live, op=history.operation(arrival),
                       action=arrival.action, by="promote")
    check_proven(ctx.ledger.entries(), settings.stack, record)


def promote(ctx: Context, source: str, target: str, *, skip_gate: str | None = None,
            canary: str | None = None, pause: float = 30.0,
            on_output: Callable[[str], object] | None = None,
            stage_only: bool = False) -> DeployResult:
    for stack in (source, target):
        stackfiles.check_stack_name(ctx.project, stack)
    checkpoint("promote:start")
    skipped = check_order(ctx.project.environments(), source, target, skip_gate)
    below = stackfiles.load_settings(ctx.project, source)
    above = stackfiles.load_settings(ctx.project, target)
    if below.traffic < 100:
        raise GateError(f"{source} is mid-canary ({below.traffic}% on {below.live}); finish "
                        "it before promoting")
    precheck(ctx, target, stage_only)
    live = below.release(below.live)
    path = store.find(ctx.project.root, live.record)
    if path is None:
        raise GateError(f"signature gate: no record {short_digest(live.record)} under "
                        f"releases/ for {source}'s live release")
    chosen = candidate(ctx, below, str(path))  # the release as signed, in the source region
    _proven(ctx, below, live.record)
    details: dict[str, Any] = {"promotedFrom": source, "sourceRecord": live.record}
    if skipped:
        details["skippedGate"] = skipped
    if above.region != below.region:
        # the signing key opens before anything is copied
        signer = keys.open_signer(layout.signing_key(), above.region)
        copied = _copy_record(ctx, chosen_record(chosen), live.record, image=live.image,
                              source_region=below.region, target_region=above.region,
                              signer=signer)
        details["copy"] = {"region": above.region, "record": copied}
        chosen = candidate(ctx, above, copied)
    else:
        chosen = candidate(ctx, above, str(path))
    return roll_out(ctx, target, chosen, canary=canary, action="promote", details=details,
                    pause=pause, on_output=on_output, stage_only=stage_only)


def chosen_record(chosen: Candidate) -> ArtifactRecord:
    record, _ = store.load(chosen.record_path)
    return record
