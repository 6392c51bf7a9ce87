"""`kiln verify` on records and AMIs: what verifies and each way it refuses, as a command."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from kiln.bake import runner

from .conftest import BakeProject

pytestmark = pytest.mark.integration


def kiln(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiln.cli", *args], capture_output=True,
                          text=True, timeout=120, env=os.environ, check=False)


def refused(result: subprocess.CompletedProcess[str], reason: str) -> None:
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert reason in lines[0], lines[0]


@pytest.fixture
def baked(aws: str, bake_project: BakeProject) -> tuple[BakeProject, runner.BakeResult]:
    return bake_project, runner.bake("golden", bake_project.root)


def test_verify_accepts_the_record_and_the_ami(baked: tuple[BakeProject, runner.BakeResult]
                                              ) -> None:
    project, result = baked
    assert result.record_path is not None
    by_file = kiln("verify", str(result.record_path), "--key", str(project.public), "--json")
    assert by_file.returncode == 0, by_file.stderr
    assert json.loads(by_file.stdout)["record"] == result.record
    by_image = kiln("verify", result.image, "--key", str(project.public))
    assert by_image.returncode == 0, by_image.stderr
    assert result.image in by_image.stdout and "kiln-test" in by_image.stdout


def test_verify_refuses_each_tampering(baked: tuple[BakeProject, runner.BakeResult],
                                       tmp_path: Path) -> None:
    project, result = baked
    assert result.record_path is not None
    key = ("--key", str(project.public))

    # One flipped byte in the record.
    flipped = tmp_path / "flipped" / result.record_path.name
    flipped.parent.mkdir()
    data = bytearray(result.record_path.read_bytes())
    at = data.index(b'"kind":"ami"') + len(b'"kind":"a')
    data[at] ^= 0x01
    flipped.write_bytes(bytes(data))
    shutil.copy(result.record_path.with_name(result.record_path.stem + ".sig.json"),
                flipped.with_name(flipped.stem + ".sig.json"))
    refused(kiln("verify", str(flipped), *key), "record digest mismatch")

    # The stacks' trusted keys do not include the test key.
    refused(kiln("verify", str(result.record_path)), "unknown key 'kiln-test'")

    # A signature that is not the key's.
    sig_path = result.record_path.with_name(result.record_path.stem + ".sig.json")
    original = sig_path.read_bytes()
    sigs = json.loads(original)
    sigs["signatures"][0]["signature"] = base64.b64encode(b"\0" * 64).decode()
    sig_path.write_text(json.dumps(sigs))
    refused(kiln("verify", str(result.record_path), *key), "bad signature")
    sig_path.write_bytes(original)

    # Another image re-tagged with this record: the record does not name it.
    other = runner.bake("golden", project.root, force=True)
    boto3.client("ec2").create_tags(Resources=[other.image], Tags=[
        {"Key": "kiln:release", "Value": str(result.record)}])
    refused(kiln("verify", other.image, *key),
            f"image {other.image} (eu-west-1) is not in record {result.record}")

    refused(kiln("verify", "ami-0123456789abcdef0", *key), "does not exist")
    refused(kiln("verify", "no-such-thing", *key), "neither a record file")
