"""What makes an AWS bake immutable-grade, checked through kiln's own runner: every build
validates as kiln runs it, the SSH source range is not an input, and Packer older than
1.7 (which cannot require IMDSv2) never bakes on real AWS."""

from __future__ import annotations

import boto3
import pytest

from kiln.bake import runner
from kiln.errors import BakeError

from .conftest import BakeProject

pytestmark = pytest.mark.integration

CONTAINER = "127.0.0.1:5000/kiln/web@sha256:" + "ab" * 32


def _golden(aws: str) -> str:
    return str(boto3.client("ec2").register_image(
        Name="kiln-golden-test", RootDeviceName="/dev/xvda", VirtualizationType="hvm",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda",
                              "Ebs": {"VolumeSize": 20, "Encrypted": True}}])["ImageId"])


def test_the_app_emulator_build_validates(aws: str, bake_project: BakeProject) -> None:
    prepared = runner.validate("app", bake_project.root,
                               {"golden_ami": _golden(aws), "container_image": CONTAINER})
    assert prepared.resolved.source == "amazon-ebs.app"


@pytest.mark.parametrize("image", ["golden", "app"])
def test_every_emulator_build_is_really_checked(aws: str, bake_project: BakeProject,
                                                image: str) -> None:
    # Control: a setting the builder rejects must fail validate, so -only matched a build.
    variables = bake_project.root / "images" / "variables.pkr.hcl"
    variables.write_text(variables.read_text().replace(
        "skip_region_validation", "bogus_setting = 1\n  skip_region_validation"))
    for name in bake_project.root.glob("images/*.pkr.hcl"):
        if "source \"amazon-ebs\"" in name.read_text():
            name.write_text(name.read_text().replace(
                "skip_region_validation", "bogus_setting = 1\n  skip_region_validation", 1))
    overrides = {"golden_ami": _golden(aws), "container_image": CONTAINER} \
        if image == "app" else {}
    with pytest.raises(Exception, match="bogus_setting"):
        runner.validate(image, bake_project.root, overrides)


def test_the_ssh_source_range_is_not_an_input(aws: str, bake_project: BakeProject) -> None:
    plain = runner.prepare("golden", bake_project.root)
    narrowed = runner.prepare("golden", bake_project.root,
                              {"ssh_source_cidrs": '["203.0.113.7/32"]'})
    assert narrowed.sealed.input_hash == plain.sealed.input_hash
    assert narrowed.packer_variables()["ssh_source_cidrs"] == '["203.0.113.7/32"]'
    assert "ssh_source_cidrs" not in narrowed.sealed.document()["variables"]


def test_old_packer_never_bakes_on_real_aws(aws: str, bake_project: BakeProject,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # No emulator endpoint: the bake would reach real AWS, where Packer 1.6 cannot make
    # the build instance require IMDSv2.
    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", aws)
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    with pytest.raises(BakeError, match=r"IMDSv2.*Packer >= 1\.7"):
        runner.prepare("golden", bake_project.root, {"source_ami": "ami-12345678"})
