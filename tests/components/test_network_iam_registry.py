"""Network, InstanceIdentity and Registry under the recording mock monitor."""

from __future__ import annotations

import ipaddress

import pytest

from kiln.model.stack import ExistingVpc, NewVpc
from kiln.program.components.iam import InstanceIdentity, InstanceIdentityArgs
from kiln.program.components.network import Network, NetworkArgs
from kiln.program.components.repository import Registry, RegistryArgs, pin

TAGS = {"kiln:service": "web", "kiln:stack": "test"}
REPO = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web"
DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize("az_count", [2, 3, 6])
def test_new_vpc_has_public_and_private_subnets_per_az(run_components, az_count):
    cap = run_components(lambda: Network("web", NetworkArgs(NewVpc("10.40.0.0/16", az_count),
                                                                  TAGS)))
    vpc = cap.by_type("aws:ec2/vpc:Vpc")
    assert len(vpc) == 1 and vpc[0].inputs["cidrBlock"] == "10.40.0.0/16"
    subnets = cap.by_type("aws:ec2/subnet:Subnet")
    roles = [s.inputs["tags"]["kiln:role"] for s in subnets]
    assert roles.count("public") == az_count and roles.count("private") == az_count
    for role in ("public", "private"):
        zones = [s.inputs["availabilityZone"] for s in subnets
                 if s.inputs["tags"]["kiln:role"] == role]
        assert len(set(zones)) == az_count, f"{role} subnets must span distinct AZs"
    networks = [ipaddress.ip_network(s.inputs["cidrBlock"]) for s in subnets]
    assert all(n.subnet_of(ipaddress.ip_network("10.40.0.0/16")) for n in networks)
    assert not any(a.overlaps(b) for i, a in enumerate(networks) for b in networks[i + 1:])
    assert all(s.inputs.get("mapPublicIpOnLaunch") is False for s in subnets)


def test_private_subnets_have_no_route_out(run_components):
    cap = run_components(lambda: Network("web", NetworkArgs(NewVpc("10.40.0.0/16", 2), TAGS)))
    tables = {t.inputs["tags"]["kiln:role"]: t
              for t in cap.by_type("aws:ec2/routeTable:RouteTable")}
    assert tables["private"].inputs.get("routes", []) == []
    assert [r["cidrBlock"] for r in tables["public"].inputs["routes"]] == ["0.0.0.0/0"]
    assert not cap.by_type("aws:ec2/natGateway:NatGateway")
    private_ids = {s.id for s in cap.by_type("aws:ec2/subnet:Subnet")
                   if s.inputs["tags"]["kiln:role"] == "private"}
    assocs = cap.by_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
    for assoc in assocs:
        role = "private" if assoc.inputs["subnetId"] in private_ids else "public"
        expected = tables[role]
        assert assoc.inputs["routeTableId"] == expected.id


def test_existing_vpc_creates_nothing(run_components):
    existing = ExistingVpc("vpc-0123456789abcdef0",
                           ("subnet-0123456789abcdef0", "subnet-0123456789abcdef1"),
                           ("subnet-0123456789abcdef2", "subnet-0123456789abcdef3"))
    cap = run_components(lambda: Network("web", NetworkArgs(existing, TAGS)))
    assert [r.type for r in cap.resources] == ["kiln:network:Network"]


def test_instance_role_grants_nothing(run_components):
    cap = run_components(lambda: InstanceIdentity("web", InstanceIdentityArgs(TAGS)))
    types = sorted(r.type for r in cap.resources if r.custom)
    assert types == ["aws:iam/instanceProfile:InstanceProfile", "aws:iam/role:Role"]
    role = cap.by_type("aws:iam/role:Role")[0].inputs
    assert "ec2.amazonaws.com" in role["assumeRolePolicy"]
    assert "inlinePolicies" not in role and "managedPolicyArns" not in role


def test_repository_is_immutable_and_scanned(run_components):
    cap = run_components(lambda: Registry("web", RegistryArgs(None, TAGS)))
    repo = cap.by_type("aws:ecr/repository:Repository")[0].inputs
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"]["scanOnPush"] is True
    assert not cap.invokes


def test_container_tag_is_resolved_to_a_digest(run_components):
    seen = {}

    def body():
        registry = Registry("web", RegistryArgs(f"{REPO}:1.4.2", TAGS))
        registry.image.apply(lambda image: seen.setdefault("image", image))

    cap = run_components(body)
    lookups = [args for token, args in cap.invokes if token.startswith("docker:")]
    assert lookups == [{"name": f"{REPO}:1.4.2"}]
    assert seen["image"].startswith(f"{REPO}@sha256:")
    assert len(seen["image"].split("@sha256:")[1]) == 64


def test_container_digest_is_used_as_is(run_components):
    seen = {}

    def body():
        registry = Registry("web", RegistryArgs(f"{REPO}@{DIGEST}", TAGS))
        registry.image.apply(lambda image: seen.setdefault("image", image))

    cap = run_components(body)
    assert not cap.invokes
    assert seen["image"] == f"{REPO}@{DIGEST}"


def test_pin_replaces_tag_with_digest():
    assert pin(f"{REPO}:v1", DIGEST) == f"{REPO}@{DIGEST}"
    assert pin("localhost:5000/web:v1", DIGEST) == f"localhost:5000/web@{DIGEST}"
    with pytest.raises(ValueError, match="not a container reference"):
        pin("web", DIGEST)
