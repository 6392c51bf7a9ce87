"""Release safety at the edges: no silent success, intent is not outcome, inputs are
checked before anything is written, revocation covers the whole family."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import pytest

from kiln.aws.clients import client
from kiln.records import store

from ..scenario import apply, make_release, public_pem, register_image, sign
from .opsutil import ledger, run_kiln
from .test_deploy_promote import CENTRAL, WEST, project, release, settings

pytestmark = pytest.mark.integration

__all__ = ["project"]  # the fixture, shared with the deploy and promote tests


def tree(root: Path) -> dict[str, bytes]:
    """Every file of the project copy (the program is a symlink, not copied)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "infra" not in p.relative_to(root).parts}


def one_line(result, code: int, *needles: str) -> None:
    assert result.returncode == code, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


# --- no silent success ---------------------------------------------------------------------

def test_deploy_without_the_pulumi_cli_fails_and_writes_nothing(project):
    root, _ = project
    path, _ = release(project)
    before = tree(root)
    one_line(run_kiln("deploy", "dev", str(path)), 1, "no Pulumi CLI", "--stage-only")
    assert tree(root) == before


def test_promote_without_the_pulumi_cli_fails_and_writes_nothing(project):
    root, _ = project
    path, _ = release(project)
    assert run_kiln("deploy", "dev", str(path), "--stage-only").returncode == 0
    apply(root, "dev")
    before = tree(root)
    one_line(run_kiln("promote", "dev", "staging"), 1, "no Pulumi CLI")
    assert tree(root) == before


def test_a_staged_release_that_never_served_does_not_pass_the_history_gate(project):
    """The ledger records intent before `pulumi up`; a release that never took traffic
    (its `pulumi up` failed or never ran) is not promoted."""
    path, _ = release(project)
    assert run_kiln("deploy", "dev", str(path), "--stage-only").returncode == 0
    one_line(run_kiln("promote", "dev", "staging", "--stage-only"), 1,
             "history gate", "staged, not served")


# --- validate everything, then act ---------------------------------------------------------

def test_deploy_by_a_relative_record_path_from_the_project_and_from_elsewhere(project,
                                                                             tmp_path):
    root, _ = project
    path, image = release(project)
    relative = str(path.relative_to(root))
    result = run_kiln("deploy", "dev", relative, "--stage-only", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    intent = next(iter(ledger(root).entries()))
    assert intent.details["record"] == relative
    assert settings(root, "dev").release(settings(root, "dev").live).image == image
    again = run_kiln("deploy", "dev", relative, "--stage-only", cwd=root)
    assert again.returncode == 0 and "nothing changed" in again.stdout


def test_a_record_outside_the_project_is_refused_before_anything_is_written(project,
                                                                         tmp_path):
    root, _ = project
    path, _ = release(project)
    outside = tmp_path / "elsewhere" / path.name
    outside.parent.mkdir()
    shutil.copy(path, outside)
    shutil.copy(store.signature_path(path), store.signature_path(outside))
    before = tree(root)
    one_line(run_kiln("deploy", "dev", str(outside), "--stage-only"), 2, "outside")
    assert tree(root) == before


def test_a_record_name_that_is_a_path_is_refused(project):
    root, key = project
    image = register_image(WEST, "evil")
    good = release(project)[0]
    record, _ = store.load(good)
    evil = dataclasses.replace(record, images={WEST: image}, name="../../escape")
    path = good.parent / f"{evil.digest.removeprefix('sha256:')}.json"
    path.write_bytes(evil.canonical() + b"\n")
    sigs = store.SignatureFile(evil.digest, "kiln-test", "ed25519", public_pem(key),
                               (store.Signed(image, WEST, sign(key, image, WEST, evil.digest)),))
    store.signature_path(path).write_text(json.dumps(sigs.to_json()))
    before = tree(root)
    one_line(run_kiln("deploy", "dev", str(path), "--stage-only"), 2,
             "escape")
    assert tree(root) == before


def test_a_release_tag_that_is_not_a_digest_is_refused(project):
    root, _ = project
    _, image = release(project)
    client("ec2", WEST).create_tags(Resources=[image], Tags=[
        {"Key": "kiln:release", "Value": "../../../etc/passwd"}])
    one_line(run_kiln("verify", image, "--region", WEST), 2, "not a record digest")
    before = tree(root)
    one_line(run_kiln("deploy", "dev", image, "--stage-only"), 2, "not a record digest")
    assert tree(root) == before


def test_cross_region_promotion_checks_the_signing_key_before_copying(project, tmp_path):
    root, _ = project
    path, _ = release(project)
    assert run_kiln("deploy", "dev", str(path), "--stage-only").returncode == 0
    apply(root, "dev")
    assert run_kiln("promote", "dev", "staging", "--stage-only").returncode == 0
    apply(root, "staging")
    missing = {"KILN_SIGNING_KEY": str(tmp_path / "no-such-key.pem")}
    result = run_kiln("promote", "staging", "prod", "--stage-only", env=missing)
    assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1
    assert client("ec2", CENTRAL).describe_images(Owners=["self"])["Images"] == []
    assert all(e.stack != "prod" for e in ledger(root).entries())


# --- revocation by lineage -----------------------------------------------------------------

def test_revoking_the_original_revokes_its_copy_everywhere(project):
    root, _ = project
    path, image = release(project)
    assert run_kiln("deploy", "dev", str(path), "--stage-only").returncode == 0
    apply(root, "dev")
    assert run_kiln("promote", "dev", "staging", "--stage-only").returncode == 0
    apply(root, "staging")
    assert run_kiln("promote", "staging", "prod", "--stage-only").returncode == 0
    prod = settings(root, "prod")
    copy = prod.release(prod.live)
    assert copy.image != image
    revoked = run_kiln("revoke", image, "--reason", "CVE-2026-7", "--json")
    assert revoked.returncode == 0, revoked.stderr
    report = json.loads(revoked.stdout)
    assert copy.image in report["family"]["images"]
    assert copy.record in report["family"]["records"]
    assert {(h["stack"], h["image"]) for h in report["blastRadius"]} >= {
        ("prod", copy.image), ("dev", image)}
    # verify of the copy fails, naming the revocation
    verified = run_kiln("verify", copy.image)
    one_line(verified, 2, "revoked (CVE-2026-7, ", "by ")
    # and a deploy of the copy by id is refused
    one_line(run_kiln("deploy", "prod", copy.image, "--stage-only"), 1, "revocation gate")
    # the pack's config carries the whole family
    config = json.loads((root / "policies/immutable/config/prod.json").read_text())
    listed = {i.get("image") for i in config["kiln-ec2-launchtemplate-image-not-revoked"]
              ["revoked"]}
    assert {image, copy.image} <= listed


def test_revoking_a_record_revokes_the_ami_it_names(project):
    """The same AMI re-signed under a new record stays revoked."""
    root, key = project
    path, image = release(project)
    _, digest = store.load(path)
    assert run_kiln("revoke", digest, "--reason", "bad record").returncode == 0
    resigned = make_release(root, WEST, image, key, name="again")
    one_line(run_kiln("deploy", "dev", str(resigned), "--stage-only"), 1,
             "revocation gate", "bad record")
    assert os.path.exists(resigned)


@pytest.mark.parametrize("verb", ["deploy", "revoke"])
def test_an_unreadable_ledger_refuses_before_any_write(project, verb):
    root, _ = project
    path, image = release(project)
    broken = root / "ledger" / "kiln.jsonl"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text("{not json\n{also not}\n")
    before = tree(root)
    args = ("deploy", "dev", str(path), "--stage-only") if verb == "deploy" \
        else ("revoke", image, "--reason", "x")
    result = run_kiln(*args)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert tree(root) == before
