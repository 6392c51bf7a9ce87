"""`kiln deploy` and `kiln promote`: signed releases only, the same record between stacks,
gates that refuse with a reason, convergence after a crash."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from kiln.aws.clients import client
from kiln.aws.ledger_table import TableLedger, ensure_table
from kiln.project import stackfiles
from kiln.records import store

from ..conftest import ROOT
from ..scenario import apply, make_release, register_image, sign, trust
from .opsutil import KILN, ledger, run_kiln
from .test_concurrency import start_together

pytestmark = pytest.mark.integration

WEST, CENTRAL = "eu-west-1", "eu-central-1"


@pytest.fixture
def project(aws, project_copy: Path, tmp_path: Path, monkeypatch):
    shutil.copytree(ROOT / "policies" / "immutable" / "config",
                    project_copy / "policies" / "immutable" / "config")
    key = ed25519.Ed25519PrivateKey.generate()
    trust(project_copy, key)
    key_file = tmp_path / "kiln-test.pem"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    monkeypatch.setenv("KILN_SIGNING_KEY", str(key_file))
    return project_copy, key


def release(project, name="app") -> tuple[Path, str]:
    root, key = project
    image = register_image(WEST, f"{name}-1.5.0")
    return make_release(root, WEST, image, key, name=name), image


def settings(root: Path, stack: str):
    return stackfiles.load_settings(stackfiles.load_project(root), stack)


def test_deploy_puts_release_on_idle_colour_and_prints_the_command(project):
    root, _ = project
    path, image = release(project)
    before = settings(root, "dev")
    result = run_kiln("deploy", "dev", str(path), "--stage-only", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    after = settings(root, "dev")
    assert after.live == before.idle and after.traffic == 100 and not after.retired
    assert after.release(after.live).image == image
    assert after.release(before.live) == before.release(before.live)  # last known good kept
    assert report["pulumiCommand"].startswith("pulumi up --stack dev --yes --policy-pack ")
    entries = list(ledger(root).entries())
    assert [(e.action, e.details["phase"]) for e in entries] == [("deploy", "intent"),
                                                                 ("deploy", "staged")]
    assert entries[0].details["op"] == entries[1].details["op"]
    assert entries[0].subject == {"image": image, "record": after.release(after.live).record}
    assert entries[1].details["pulumiCommand"] == report["pulumiCommand"]
    # deploying the same release again changes nothing and records nothing
    again = run_kiln("deploy", "dev", str(path), "--stage-only")
    assert again.returncode == 0, again.stderr
    assert "nothing changed" in again.stdout
    assert len(list(ledger(root).entries())) == 2


def test_deploy_by_image_id_follows_the_ami_tags(project):
    root, _ = project
    path, image = release(project)
    _record, digest = store.load(path)
    client("ec2", WEST).create_tags(Resources=[image], Tags=[
        {"Key": "kiln:release", "Value": digest}])
    result = run_kiln("deploy", "dev", image, "--canary", "10,50,100", "--stage-only")
    assert result.returncode == 0, result.stderr
    after = settings(root, "dev")
    assert after.release(after.live).image == image and after.traffic == 10


def test_deploy_refuses_forged_and_unsigned(project, tmp_path):
    root, _key = project
    path, image = release(project)
    sig_path = store.signature_path(path)
    original = sig_path.read_bytes()
    forged = json.loads(original)
    other = ed25519.Ed25519PrivateKey.generate()

    forged["signatures"][0]["signature"] = sign(other, image, WEST, forged["record"])
    sig_path.write_text(json.dumps(forged))
    text = settings(root, "dev")
    result = run_kiln("deploy", "dev", str(path), "--stage-only")
    assert result.returncode == 2
    assert "bad signature" in result.stderr and len(result.stderr.splitlines()) == 1
    sig_path.write_bytes(original)
    trust(root, other, ["dev"], key_id="someone-else")
    result = run_kiln("deploy", "dev", str(path), "--stage-only")
    assert result.returncode == 2 and "unknown key 'kiln-test'" in result.stderr
    assert settings(root, "dev") == stackfiles.load_settings(
        stackfiles.load_project(root), "dev")
    assert settings(root, "dev").release("blue") == text.release("blue")
    assert list(ledger(root).entries()) == []


def test_deploy_refuses_revoked(project):
    _root, _ = project
    path, image = release(project)
    assert run_kiln("revoke", image, "--reason", "bad build").returncode == 0
    result = run_kiln("deploy", "dev", str(path), "--stage-only")
    assert result.returncode == 1
    assert "revocation gate" in result.stderr and "bad build" in result.stderr


@pytest.mark.parametrize("crash_at", ["deploy:locked", "deploy:written", "deploy:recorded"])
def test_deploy_killed_at_any_step_converges(project, crash_at):
    root, _ = project
    path, image = release(project)
    before = settings(root, "dev")
    killed = run_kiln("deploy", "dev", str(path), "--stage-only", fault=f"crash@{crash_at}")
    assert killed.returncode == -9
    settings(root, "dev")  # the stack file always parses
    rerun = run_kiln("deploy", "dev", str(path), "--stage-only")
    assert rerun.returncode == 0, rerun.stderr
    after = settings(root, "dev")
    assert after.live == before.idle and after.release(after.live).image == image
    entries = list(ledger(root).entries())
    assert [e.details["phase"] for e in entries] == ["intent", "staged"]
    assert len({e.details["op"] for e in entries}) == 1  # completed, not started over
    assert ledger(root).verify() == 2


def deployed_to_dev(project) -> tuple[Path, str]:
    """A release staged on dev, then applied there (as a `pulumi up` elsewhere would)."""
    path, image = release(project)
    result = run_kiln("deploy", "dev", str(path), "--stage-only")
    assert result.returncode == 0, result.stderr
    apply(project[0], "dev")
    return path, image


def test_promote_moves_the_same_record(project):
    root, _ = project
    _path, _image = deployed_to_dev(project)
    result = run_kiln("promote", "dev", "staging", "--stage-only")
    assert result.returncode == 0, result.stderr
    dev, staging = settings(root, "dev"), settings(root, "staging")
    assert staging.release(staging.live) == dev.release(dev.live)
    entries = list(ledger(root).entries())
    # the promotion observed dev serving the release before its history gate passed
    assert [(e.action, e.details["phase"]) for e in entries] == [
        ("deploy", "intent"), ("deploy", "staged"), ("deploy", "served"),
        ("promote", "intent"), ("promote", "staged")]
    assert entries[2].details["observedBy"] == "promote"
    assert entries[3].details["promotedFrom"] == "dev"
    assert entries[3].subject["record"] == entries[0].subject["record"]


def test_promote_across_regions_copies_and_signs(project):
    root, _ = project
    deployed_to_dev(project)
    assert run_kiln("promote", "dev", "staging", "--stage-only").returncode == 0
    apply(root, "staging")
    result = run_kiln("promote", "staging", "prod", "--stage-only", "--json")
    assert result.returncode == 0, result.stderr
    staging, prod = settings(root, "staging"), settings(root, "prod")
    copied = prod.release(prod.live)
    assert copied.image != staging.release(staging.live).image
    images = client("ec2", CENTRAL).describe_images(ImageIds=[copied.image])["Images"]
    assert images and {"Key": "kiln:copy-of", "Value": staging.release(staging.live).record} \
        in images[0]["Tags"]
    record_path = store.find(root, copied.record)
    record, _ = store.load(record_path)
    assert record.extra["copyOf"] == staging.release(staging.live).record
    assert record.images == {CENTRAL: copied.image}
    assert run_kiln("verify", str(record_path)).returncode == 0
    # the copy is first-class: tagged like a bake, verifiable by its id without --region
    tags = {t["Key"]: t["Value"] for t in images[0]["Tags"]}
    assert tags["kiln:release"] == copied.record and tags["kiln:signature"]
    assert tags["kiln:input-hash"] == record.inputs["inputHash"]
    by_id = run_kiln("verify", copied.image, env={"AWS_REGION": "", "AWS_DEFAULT_REGION": ""})
    assert by_id.returncode == 0, by_id.stderr
    actions = [e.action for e in ledger(root).entries()]
    assert actions == ["deploy"] * 3 + ["promote"] * 3 + ["sign"] + ["promote"] * 2


def test_promote_gate_wrong_order(project):
    root, _ = project
    deployed_to_dev(project)
    result = run_kiln("promote", "dev", "prod")
    assert result.returncode == 1
    assert "order gate: prod does not follow dev" in result.stderr
    assert "the next environment after dev is staging" in result.stderr
    skipped = run_kiln("promote", "dev", "prod", "--skip-gate", "sev1 hotfix INC-42",
                       "--stage-only")
    assert skipped.returncode == 0, skipped.stderr
    intent = next(e for e in ledger(root).entries() if e.stack == "prod")
    assert "sev1 hotfix INC-42" in intent.details["skippedGate"]


def test_promote_gate_never_deployed_below(project):
    root, _ = project
    path, _ = release(project)
    # staging's live release exists as a signed record but the ledger never saw it deployed
    stackfiles.update_config(stackfiles.load_project(root), "staging", {
        "kiln:blue": {"image": store.load(path)[0].images[WEST], "release": store.load(path)[1],
                      "signature": store.read_signatures(store.signature_path(path))
                      .signatures[0].signature}, "kiln:live": "blue"})
    result = run_kiln("promote", "staging", "prod", "--stage-only")
    assert result.returncode == 1
    assert "history gate: the ledger shows no deploy" in result.stderr


def test_promote_gate_rolled_back_below(project):
    root, _ = project
    _, image = deployed_to_dev(project)
    assert "recorded served" in run_kiln("status", "dev").stdout
    dev = settings(root, "dev")
    ledger(root).append("rollback", stack="dev", commit=None,
                        subject={"image": dev.release(dev.idle).image},
                        details={"from": {"colour": dev.live, "image": image,
                                          "record": dev.release(dev.live).record},
                                 "to": {"colour": dev.idle}})
    result = run_kiln("promote", "dev", "staging", "--stage-only")
    assert result.returncode == 1 and "was rolled back on dev" in result.stderr


def test_promote_gate_unsigned_and_revoked(project):
    root, _ = project
    _, image = deployed_to_dev(project)
    trust(root, ed25519.Ed25519PrivateKey.generate(), ["staging"], key_id="other")
    result = run_kiln("promote", "dev", "staging", "--stage-only")
    assert result.returncode == 2 and "unknown key 'kiln-test'" in result.stderr
    trust(root, project[1], ["staging"])
    assert run_kiln("revoke", image, "--reason", "CVE-2026-1").returncode == 0
    result = run_kiln("promote", "dev", "staging", "--stage-only")
    assert result.returncode == 1 and "revocation gate" in result.stderr


@pytest.mark.parametrize("crash_at", ["promote:start", "promote:copied", "promote:written",
                                      "promote:recorded"])
def test_cross_region_promote_killed_converges(project, crash_at):
    root, _ = project
    deployed_to_dev(project)
    assert run_kiln("promote", "dev", "staging", "--stage-only").returncode == 0
    apply(root, "staging")
    killed = run_kiln("promote", "staging", "prod", "--stage-only", fault=f"crash@{crash_at}")
    assert killed.returncode == -9
    rerun = run_kiln("promote", "staging", "prod", "--stage-only")
    assert rerun.returncode == 0, rerun.stderr
    copies = client("ec2", CENTRAL).describe_images(Owners=["self"], Filters=[
        {"Name": "tag:kiln:copy-of", "Values": [settings(root, "staging").release(
            settings(root, "staging").live).record]}])["Images"]
    assert len(copies) == 1, "the AMI was copied twice"
    entries = list(ledger(root).entries())
    prod = [e.details.get("phase") for e in entries if e.stack == "prod"]
    assert prod == ["intent", "staged"]
    assert [e.action for e in entries].count("sign") == 1
    assert ledger(root).verify() == len(entries)


@pytest.mark.parametrize("backend", ["file", "table"])
def test_concurrent_promotions_one_wins(project, tmp_path, backend):
    root, _ = project
    env = {}
    if backend == "table":
        ensure_table("kiln-ledger")
        env = {"KILN_LEDGER_TABLE": "kiln-ledger"}
    path, _ = release(project)
    assert run_kiln("deploy", "dev", str(path), "--stage-only", env=env).returncode == 0
    apply(root, "dev")
    observed = run_kiln("status", "dev", env=env)  # sees dev serving it: recorded served
    assert "served" in observed.stdout, observed.stdout + observed.stderr
    results = start_together([[KILN, "promote", "dev", "staging", "--stage-only"]] * 8, env,
                             tmp_path, "promote:lock", hold=3.0)
    assert sorted(r.returncode for r in results) == [0] + [3] * 7, [r.stderr for r in results]
    chain = TableLedger("kiln-ledger") if backend == "table" else ledger(root)
    assert [e.action for e in chain.entries()] == ["deploy"] * 3 + ["promote"] * 2
    assert chain.verify() == 5
