"""The Pulumi program (infra/__main__.py) run under mocks once per stack file in stacks/."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from kiln.model import outputs
from kiln.model.stack import COLOURS
from kiln.model.topology import subnet_cidrs, weights
from kiln.preview import capture
from kiln.preview.properties import plain
from kiln.project import stackfiles

ROOT = Path(__file__).resolve().parents[2]
STACKS = sorted(p.name.split(".")[1] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))


def expected_types(settings) -> Counter:
    https = bool(settings.certificate_arn)
    az = settings.network.az_count
    public_ports = 2 if https else 1
    return Counter({
        "kiln:network:Network": 1, "kiln:iam:InstanceIdentity": 1,
        "kiln:registry:Registry": 1, "kiln:bluegreen:BlueGreenService": 1,
        "kiln:fleet:Fleet": 2,
        "aws:ec2/vpc:Vpc": 1, "aws:ec2/internetGateway:InternetGateway": 1,
        "aws:ec2/routeTable:RouteTable": 2, "aws:ec2/subnet:Subnet": 2 * az,
        "aws:ec2/routeTableAssociation:RouteTableAssociation": 2 * az,
        "aws:iam/role:Role": 1, "aws:iam/instanceProfile:InstanceProfile": 1,
        "aws:ecr/repository:Repository": 1,
        "aws:ec2/securityGroup:SecurityGroup": 2,
        # public ports × (IPv4, IPv6) on the ALB, plus the instances' one rule
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": 2 * public_ports + 1,
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": 1,
        "aws:lb/loadBalancer:LoadBalancer": 1,
        "aws:lb/listener:Listener": 2 if https else 1,
        "aws:lb/targetGroup:TargetGroup": 2,
        "aws:ec2/launchTemplate:LaunchTemplate": 2,
        "aws:autoscaling/group:Group": 2,
    })


def test_every_environment_has_a_stack_file(project):
    assert STACKS, "no stack files found"
    assert set(project.environments()) <= set(STACKS)


@pytest.fixture(scope="module", params=STACKS)
def run(request):
    project = stackfiles.load_project(ROOT)
    settings = stackfiles.load_settings(project, request.param)
    return settings, capture.capture(request.param, project)


def test_program_registers_the_expected_resources(run):
    settings, cap = run
    assert Counter(r.type for r in cap.resources) == expected_types(settings)
    urns = [r.urn for r in cap.resources]
    assert len(urns) == len(set(urns))
    assert all(r.urn.startswith(f"urn:pulumi:{settings.stack}::kiln::") for r in cap.resources)


def test_program_exports_its_outputs(run):
    settings, cap = run
    out = plain(cap.outputs)
    expected = set(outputs.ALL) - (set() if settings.service.container
                                   else {outputs.CONTAINER_IMAGE})
    assert set(out) == expected
    assert out[outputs.LIVE_COLOUR] == settings.live
    assert out[outputs.IMAGES] == {c: settings.release(c).image for c in COLOURS}
    assert out[outputs.RELEASES] == {c: settings.release(c).record for c in COLOURS}
    assert {c: int(w) for c, w in out[outputs.TRAFFIC].items()} == weights(settings.live,
                                                                           settings.traffic)
    scheme = "https" if settings.certificate_arn else "http"
    assert out[outputs.URL] == f"{scheme}://{out[outputs.ALB_DNS_NAME]}/"
    asgs = {r.outputs["name"]: r for r in cap.by_type("aws:autoscaling/group:Group")}
    assert set(out[outputs.ASG_NAMES].values()) == set(asgs)
    tgs = {r.outputs["arn"] for r in cap.by_type("aws:lb/targetGroup:TargetGroup")}
    assert set(out[outputs.TARGET_GROUP_ARNS].values()) == tgs


def test_program_uses_the_stack_settings(run):
    settings, cap = run
    lts = {r.inputs["tags"]["kiln:colour"]: r.inputs
           for r in cap.by_type("aws:ec2/launchTemplate:LaunchTemplate")}
    for colour in COLOURS:
        assert lts[colour]["imageId"] == settings.release(colour).image
        assert lts[colour]["instanceType"] == settings.service.instance_type
        assert lts[colour]["tags"]["kiln:stack"] == settings.stack
    subnets = sorted(r.inputs["cidrBlock"] for r in cap.by_type("aws:ec2/subnet:Subnet"))
    public, private = subnet_cidrs(settings.network.cidr, settings.network.az_count)
    assert subnets == sorted(public + private)
    zones = {r.inputs["availabilityZone"] for r in cap.by_type("aws:ec2/subnet:Subnet")}
    assert all(z.startswith(settings.region) for z in zones)


def test_program_rejects_bad_config_with_one_line(project_copy):
    path = project_copy / "stacks" / "Pulumi.dev.yaml"
    path.write_text(path.read_text().replace("live: blue", "live: purple"))
    project = stackfiles.load_project(project_copy)
    config = stackfiles.read_config(project, "dev")
    # Straight into the program, as `pulumi up` would run it: no pre-parse by kiln.
    with pytest.raises(capture.CaptureError) as caught:
        capture.run_program(project.main, project.name, "dev", config)
    message = str(caught.value)
    assert "\n" not in message
    assert "kiln:live" in message and "purple" in message
