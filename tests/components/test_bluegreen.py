"""BlueGreenService and Fleet under the recording mock monitor."""

from __future__ import annotations

import itertools

import pytest

from kiln.model.stack import COLOURS, STANDBY_MODES, other

from .helpers import (
    ASG,
    INGRESS_RULE,
    LAUNCH_TEMPLATE,
    LISTENER,
    SECURITY_GROUP,
    build_service,
    by_colour,
    listener_weights,
)

CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/5f0d2a4e-3b1c-4f7e-9a6d-8c2b1e0f4a37"
FORBIDDEN_PORTS = (22, 3389)


@pytest.mark.parametrize(("live", "traffic"),
                         list(itertools.product(COLOURS, (1, 10, 50, 90, 99, 100))))
def test_listener_weights_follow_live_colour_and_traffic(dev_settings, live, traffic):
    cap = build_service(dev_settings, live=live, traffic=traffic)
    assert listener_weights(cap) == {live: traffic, other(live): 100 - traffic}


@pytest.mark.parametrize(("standby", "live"), list(itertools.product(STANDBY_MODES, COLOURS)))
def test_idle_colour_capacity_follows_standby_mode(dev_settings, standby, live):
    cap = build_service(dev_settings, standby=standby, live=live)
    asgs = by_colour(cap, ASG)
    full = dev_settings.service.capacity
    live_asg, idle_asg = asgs[live].inputs, asgs[other(live)].inputs
    assert (live_asg["minSize"], live_asg["desiredCapacity"], live_asg["maxSize"]) == (
        full.min, full.desired, full.max)
    assert "warmPool" not in live_asg
    idle = (idle_asg["minSize"], idle_asg["desiredCapacity"], idle_asg["maxSize"])
    if standby == "hot":
        assert idle == (full.min, full.desired, full.max)
        assert "warmPool" not in idle_asg
    elif standby == "warm":
        assert idle == (0, 0, full.max)
        assert idle_asg["warmPool"]["minSize"] == full.desired
        assert idle_asg["warmPool"]["poolState"] == "Stopped"
    else:
        assert idle == (0, 0, full.max)
        assert "warmPool" not in idle_asg


@pytest.mark.parametrize("standby", STANDBY_MODES)
def test_canary_keeps_both_colours_full_and_gated(dev_settings, standby):
    cap = build_service(dev_settings, standby=standby, traffic=10)
    for asg in by_colour(cap, ASG).values():
        assert asg.inputs["desiredCapacity"] == dev_settings.service.capacity.desired
        assert asg.inputs["waitForElbCapacity"] == dev_settings.service.min_healthy


def _ingress_rules(cap):
    """Every ingress rule in the capture: inline on groups and standalone rule resources."""
    for group in cap.by_type(SECURITY_GROUP):
        yield from group.inputs.get("ingress", [])
    for rule in cap.by_type(INGRESS_RULE):
        yield rule.inputs


@pytest.mark.parametrize("certificate", [None, CERT])
def test_no_ssh_or_rdp_ingress_anywhere(dev_settings, certificate):
    cap = build_service(dev_settings, certificate_arn=certificate)
    rules = list(_ingress_rules(cap))
    assert rules, "expected ingress rules to check"
    for rule in rules:
        assert rule.get("ipProtocol", rule.get("protocol")) not in ("-1", "all")
        low, high = int(rule["fromPort"]), int(rule["toPort"])
        assert not any(low <= port <= high for port in FORBIDDEN_PORTS), rule
    public = sorted(int(r["fromPort"]) for r in rules if r.get("cidrIpv4") == "0.0.0.0/0")
    assert public == ([80, 443] if certificate else [80])


def test_instances_accept_only_the_service_port_from_the_alb(dev_settings):
    cap = build_service(dev_settings)
    groups = {g.name: g for g in cap.by_type(SECURITY_GROUP)}
    instance_sg, alb_sg = groups["web-instance-sg"], groups["web-alb-sg"]
    rules = [r.inputs for r in cap.by_type(INGRESS_RULE)
             if r.inputs["securityGroupId"] == instance_sg.id]
    assert len(rules) == 1
    port = dev_settings.service.port
    assert (int(rules[0]["fromPort"]), int(rules[0]["toPort"])) == (port, port)
    assert rules[0]["referencedSecurityGroupId"] == alb_sg.id
    assert "cidrIpv4" not in rules[0] and "cidrIpv6" not in rules[0]


@pytest.mark.parametrize("colour", COLOURS)
def test_launch_template_is_immutable_and_signed(dev_settings, colour):
    cap = build_service(dev_settings)
    lt = by_colour(cap, LAUNCH_TEMPLATE)[colour]
    release = dev_settings.release(colour)
    props = lt.inputs
    assert props["imageId"] == release.image
    assert props["metadataOptions"]["httpTokens"] == "required"
    assert int(props["metadataOptions"]["httpPutResponseHopLimit"]) == 1
    assert "keyName" not in props
    assert "userData" not in props
    assert props["blockDeviceMappings"][0]["ebs"]["encrypted"] == "true"
    nic = props["networkInterfaces"][0]
    assert nic["associatePublicIpAddress"] == "false"
    assert "iamInstanceProfile" in props
    expected = {"kiln:service": "web", "kiln:stack": "dev", "kiln:colour": colour,
                "kiln:release": release.record, "kiln:signature": release.signature}
    assert expected.items() <= props["tags"].items()
    for spec in props["tagSpecifications"]:
        assert expected.items() <= spec["tags"].items()
    assert {"imageId", "userData"} <= set(lt.options["replaceOnChanges"])


@pytest.mark.parametrize("colour", COLOURS)
def test_asg_pins_explicit_template_version_with_elb_health(dev_settings, colour):
    cap = build_service(dev_settings)
    asg = by_colour(cap, ASG)[colour]
    lt = by_colour(cap, LAUNCH_TEMPLATE)[colour]
    template = asg.inputs["launchTemplate"]
    assert template["id"] == lt.id
    assert template["version"] == str(lt.outputs["latestVersion"])
    assert template["version"] not in ("$Latest", "$Default")
    assert asg.inputs["healthCheckType"] == "ELB"
    assert asg.inputs["vpcZoneIdentifiers"] == ["subnet-1a", "subnet-1b"]
    assert "launchTemplate" in asg.options["replaceOnChanges"]
    tags = {t["key"]: t for t in asg.inputs["tags"]}
    assert tags["kiln:colour"]["value"] == colour
    assert all(t["propagateAtLaunch"] for t in tags.values())


@pytest.mark.parametrize("live", COLOURS)
def test_listener_waits_for_the_live_colour(dev_settings, live):
    cap = build_service(dev_settings, live=live)
    asgs = by_colour(cap, ASG)
    listener = cap.by_type(LISTENER)[0]
    assert asgs[live].urn in listener.dependencies
    assert asgs[other(live)].urn not in listener.dependencies
    assert asgs[live].inputs["waitForElbCapacity"] == dev_settings.service.min_healthy
    assert "waitForElbCapacity" not in asgs[other(live)].inputs


def test_canary_listener_waits_for_both_colours(dev_settings):
    cap = build_service(dev_settings, traffic=50)
    listener = cap.by_type(LISTENER)[0]
    assert {a.urn for a in cap.by_type(ASG)} <= set(listener.dependencies)


def test_https_listener_forwards_and_http_redirects(dev_settings):
    cap = build_service(dev_settings, certificate_arn=CERT)
    listeners = {int(r.inputs["port"]): r.inputs for r in cap.by_type(LISTENER)}
    assert listeners[443]["protocol"] == "HTTPS"
    assert listeners[443]["certificateArn"] == CERT
    assert listeners[443]["defaultActions"][0]["type"] == "forward"
    redirect = listeners[80]["defaultActions"][0]
    assert redirect["type"] == "redirect"
    assert redirect["redirect"]["protocol"] == "HTTPS"
    assert listener_weights(cap) == {"blue": 100, "green": 0}


def test_every_resource_is_tagged_and_parented(dev_settings):
    cap = build_service(dev_settings)
    component = cap.one("kiln:bluegreen:BlueGreenService", "web")
    for res in cap.resources:
        if res is component:
            continue
        assert res.parent, res.name
        assert res.name.startswith("web-"), res.name
        tags = res.inputs.get("tags")
        if res.custom and tags is not None:
            if isinstance(tags, list):
                tags = {t["key"]: t["value"] for t in tags}
            assert tags["kiln:service"] == "web" and tags["kiln:stack"] == "dev", res.name
