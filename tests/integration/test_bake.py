"""Real Packer builds of the golden and app AMIs against the moto server, and the cache."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import boto3
import pytest

from kiln.bake import oci, packer, runner
from kiln.bake.inputs import hash_document
from kiln.records import keys, store, verify
from kiln.release.ledger import FileLedger
from kiln.release.record import parse_record

from .conftest import BakeProject, git

pytestmark = pytest.mark.integration

CONTAINER = "127.0.0.1:5000/kiln/web@sha256:" + "ab" * 32


def ami_tags(image_id: str) -> dict[str, str]:
    image = boto3.client("ec2").describe_images(ImageIds=[image_id])["Images"][0]
    return {t["Key"]: t["Value"] for t in image.get("Tags", [])}


def kiln_images(name: str) -> list[str]:
    found = boto3.client("ec2").describe_images(
        Owners=["self"], Filters=[{"Name": "tag:kiln:name", "Values": [name]}])["Images"]
    return sorted(i["ImageId"] for i in found)


def test_golden_then_app_bake_records_signs_tags_and_chains(aws: str,
                                                            bake_project: BakeProject) -> None:
    root = bake_project.root
    golden = runner.bake("golden", root)
    assert not golden.cached and golden.image.startswith("ami-")
    assert kiln_images("golden") == [golden.image]

    tags = ami_tags(golden.image)
    assert tags["kiln:release"] == golden.record
    assert tags["kiln:input-hash"] == golden.input_hash
    assert tags["kiln:commit"] == git(root, "rev-parse", "HEAD")
    assert tags["kiln:signature-key"] == "kiln-test"
    assert tags["kiln:base"] == golden.base  # set by the template from the resolved base

    assert golden.record_path is not None
    record, digest = parse_record(golden.record_path.read_bytes())
    assert digest == golden.record == f"sha256:{golden.record_path.stem}"
    assert record.images == {"eu-west-1": golden.image}
    # The manifest's run uuid and the machine-readable artifact id made it into the record.
    assert record.packer_run_uuid == golden.packer_run_uuid
    assert len(record.packer_run_uuid) == 36
    assert record.tools["packer"] == packer.find().version
    assert record.source == {"commit": tags["kiln:commit"], "dirty": False}
    installed = packer.find()
    # Packer 1.6 gets the emulator's amazon-ebs source; >= 1.7 the IMDSv2 one and its plugins.
    shared = {"ebs.pkr.hcl", "plugins.pkr.hcl"} if installed.needs_plugin_file \
        else {"ebs-1.6.pkr.hcl"}
    assert set(record.inputs["files"]) == {"golden.pkr.hcl", "variables.pkr.hcl",
                                           "release.auto.pkrvars.hcl", "scripts/install.sh",
                                           "scripts/harden.sh", "scripts/cleanup.sh",
                                           "scripts/validate.sh", *shared}
    plugins = {k.removeprefix("packer-plugin-"): v for k, v in record.tools.items()
               if k.startswith("packer-plugin-")}
    assert bool(plugins) == installed.needs_plugin_file
    # The template source Packer built is in the record, the hash and the JSON output.
    assert record.inputs["source"] == golden.source == "amazon-ebs.golden"
    assert golden.to_json()["source"] == "amazon-ebs.golden"
    # Anyone can recompute the input hash from what the record says went in.
    assert hash_document({
        "schema": "kiln.inputs/v1", "image": "golden", "source": record.inputs["source"],
        "files": record.inputs["files"], "variables": record.inputs["variables"],
        "base": record.inputs["base"], "packer": record.tools["packer"],
        "plugins": plugins}) == golden.input_hash
    trusted = keys.explicit_keys([str(bake_project.public)])
    assert verify.ami(golden.image, root, trusted, "eu-west-1").digest == golden.record

    app = runner.bake("app", root, {"container_image": CONTAINER})
    app_record, _ = store.load(app.record_path)  # type: ignore[arg-type]
    assert app_record.inputs["base"] == golden.image
    # Against the emulator the app is built by its amazon-ebs stand-in (AWS: amazon-chroot).
    assert app_record.inputs["source"] == app.to_json()["source"] == "amazon-ebs.app"
    assert "scripts/load-container.sh" in app_record.inputs["files"]
    assert app_record.inputs["container"] == {"repository": "127.0.0.1:5000/kiln/web",
                                              "digest": "sha256:" + "ab" * 32}
    assert ami_tags(app.image)["kiln:container"] == CONTAINER
    assert verify.ami(app.image, root, trusted, "eu-west-1").record.name == "app"

    entries = list(FileLedger(bake_project.ledger).entries())
    assert [(e.action, e.subject.get("record")) for e in entries] == [
        ("bake", golden.record), ("sign", golden.record),
        ("bake", app.record), ("sign", app.record)]
    assert entries[1].details == {"keyId": "kiln-test", "keyType": "ed25519"}
    assert FileLedger(bake_project.ledger).verify() == 4


def packer_probe(tmp_path: Path) -> Path:
    """A `packer` first on PATH that logs each invocation, then runs the real one."""
    real = next(p for p in os.environ["PATH"].split(os.pathsep)
                if (Path(p) / "packer").is_file())
    probe_dir = tmp_path / "probe"
    probe_dir.mkdir()
    log = tmp_path / "packer-calls.log"
    script = probe_dir / "packer"
    script.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {real}/packer "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return log


def test_cache_hit_runs_no_packer_and_one_script_byte_rebakes(
        aws: str, bake_project: BakeProject, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls = packer_probe(tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path / 'probe'}{os.pathsep}{os.environ['PATH']}")
    root = bake_project.root

    first = runner.bake("golden", root)
    builds = [line for line in calls.read_text().splitlines() if line.startswith("build")]
    assert len(builds) == 1
    before = calls.read_text()

    second = runner.bake("golden", root)
    assert second.cached
    assert (second.image, second.record, second.input_hash) == \
        (first.image, first.record, first.input_hash)
    assert calls.read_text() == before, "a cache hit must not start packer at all"
    assert kiln_images("golden") == [first.image]
    assert FileLedger(bake_project.ledger).entries().__next__().details["cache"] == "miss"
    assert list(FileLedger(bake_project.ledger).entries())[-1].details["cache"] == "hit"

    harden = root / "images" / "scripts" / "harden.sh"
    harden.write_bytes(harden.read_bytes() + b"\n")
    third = runner.bake("golden", root)
    assert not third.cached
    assert third.input_hash != first.input_hash and third.image != first.image
    assert third.record != first.record

    forced = runner.bake("golden", root, force=True)
    assert not forced.cached and forced.input_hash == third.input_hash
    assert forced.image not in (first.image, third.image)
    assert len([ln for ln in calls.read_text().splitlines() if ln.startswith("build")]) == 3
    # Either finished bake of these inputs satisfies the cache; none of the old inputs does.
    again = runner.bake("golden", root)
    assert again.cached and again.image in (third.image, forced.image)


def test_kms_signed_bake_verifies_with_the_fetched_public_key(
        aws: str, bake_project: BakeProject) -> None:
    key_id = boto3.client("kms").create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")[
        "KeyMetadata"]["KeyId"]
    result = runner.bake("golden", bake_project.root, signing_key=f"kms:{key_id}")
    assert result.record_path is not None
    sigs = store.read_signatures(store.signature_path(result.record_path))
    assert sigs.key_type == "ecdsa-p256" and sigs.key_id.endswith(key_id)
    trusted = keys.explicit_keys([f"kms:{key_id}"])
    assert verify.record_file(result.record_path, trusted).key_id == sigs.key_id
    # The file key does not vouch for a KMS-signed record.
    with pytest.raises(verify.VerifyError, match="unknown key"):
        verify.record_file(result.record_path, keys.explicit_keys([str(bake_project.public)]))
    ledger = json.loads(bake_project.ledger.read_text().splitlines()[-1])
    assert ledger["action"] == "sign" and ledger["details"]["keyType"] == "ecdsa-p256"


def test_ecr_repositories_are_asked_through_the_ecr_api(aws: str) -> None:
    ecr = boto3.client("ecr")
    uri = ecr.create_repository(repositoryName="kiln/web")["repository"]["repositoryUri"]
    manifest = json.dumps({"schemaVersion": 2, "mediaType":
                           "application/vnd.docker.distribution.manifest.v2+json",
                           "config": {"digest": "sha256:" + "1" * 64, "size": 1,
                                      "mediaType": "application/vnd.docker.container.image"
                                                   ".v1+json"}, "layers": []})
    pushed = ecr.put_image(repositoryName="kiln/web", imageManifest=manifest,
                           imageTag="in-abc")["image"]["imageId"]["imageDigest"]
    repository = oci.parse_repository(uri)
    assert oci.digest_for_tag(repository, "in-abc") == pushed
    assert oci.digest_for_tag(repository, "in-other") is None
