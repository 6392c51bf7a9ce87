"""Drift rules (kiln.release.drift), and `kiln status` handing them what it read."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from kiln.aws.fleet import ColourState
from kiln.aws.traffic import ColourHealth
from kiln.model.stack import (
    COLOURS,
    Capacity,
    NewVpc,
    Release,
    Service,
    StackSettings,
    TrustedKey,
    other,
)
from kiln.ops import lineage
from kiln.ops import status as status_module
from kiln.project.revocations import Revoked
from kiln.release.drift import (
    Observed,
    colour_drift,
    listener_drift,
    signed,
    stack_drift,
    stray_drift,
)
from kiln.release.lineage import Family
from kiln.release.record import statement

PROPERTY = settings(max_examples=200, deadline=None)

REGION = "eu-west-1"
BLUE_AMI = "ami-0123456789abcdef0"
GREEN_AMI = "ami-0fedcba9876543210"
PET_AMI = "ami-0000000000000beef"
BLUE_REC = "sha256:" + "a" * 64
GREEN_REC = "sha256:" + "b" * 64
KEY = ed25519.Ed25519PrivateKey.from_private_bytes(b"\x01" * 32)
OTHER_KEY = ed25519.Ed25519PrivateKey.from_private_bytes(b"\x02" * 32)


def pem(key: ed25519.Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def sign(image: str, record: str, key: ed25519.Ed25519PrivateKey = KEY,
         region: str = REGION) -> str:
    return base64.b64encode(key.sign(statement("ami", image, region, record))).decode()


BLUE = Release(BLUE_AMI, BLUE_REC, sign(BLUE_AMI, BLUE_REC))
GREEN = Release(GREEN_AMI, GREEN_REC, sign(GREEN_AMI, GREEN_REC))
TRUSTED = (TrustedKey("release-2026", "ed25519", pem(KEY)),)


def stack(live: str = "blue", traffic: int = 100, blue: Release = BLUE,
          green: Release = GREEN,
          trusted: tuple[TrustedKey, ...] = TRUSTED) -> StackSettings:
    service = Service("web", 8080, "/healthz", "t3.micro", Capacity(1, 2, 2), 1, 20)
    return StackSettings("staging", REGION, service, NewVpc("10.0.0.0/16", 2), blue, green,
                         live, traffic, "hot", trusted)  # type: ignore[arg-type]


def running_as_declared(settings_: StackSettings) -> dict[str, Observed]:
    return {c: Observed(settings_.release(c).image,
                        {f"i-{c}{n}": settings_.release(c).image for n in range(2)})
            for c in COLOURS}


# --- the listener -------------------------------------------------------------------------

@pytest.mark.parametrize(("current", "live", "traffic", "drift"), [
    ({"blue": 100, "green": 0}, "blue", 100, []),
    ({"blue": 0, "green": 100}, "green", 100, []),
    ({"blue": 90, "green": 10}, "blue", 90, []),  # a canary the stack file declares
    ({"blue": 50, "green": 50}, "blue", 100,
     ["listener sends {'blue': 50, 'green': 50}, stack file says "
      "{'blue': 100, 'green': 0}"]),
    ({"blue": 0, "green": 100}, "blue", 100,
     ["listener sends {'blue': 0, 'green': 100}, stack file says "
      "{'blue': 100, 'green': 0}"]),
    ({"blue": 100, "green": 0}, "green", 90,
     ["listener sends {'blue': 100, 'green': 0}, stack file says "
      "{'blue': 10, 'green': 90}"]),
    ({"blue": 100}, "blue", 100,  # a colour the listener does not forward to at all
     ["listener sends {'blue': 100}, stack file says {'blue': 100, 'green': 0}"]),
])
def test_listener_drift(current: dict[str, int], live: str, traffic: int,
                        drift: list[str]) -> None:
    assert listener_drift(current, live, traffic) == drift


@PROPERTY
@given(st.sampled_from(COLOURS), st.integers(1, 100), st.integers(0, 100))
def test_the_listener_drifts_exactly_when_it_splits_otherwise(live: str, traffic: int,
                                                              weight: int) -> None:
    current = {live: weight, other(live): 100 - weight}
    drift = listener_drift(current, live, traffic)
    assert (drift == []) is (weight == traffic)
    assert len(drift) <= 1


# --- one colour ---------------------------------------------------------------------------

GOOD = Observed(BLUE_AMI, {"i-2": BLUE_AMI, "i-1": BLUE_AMI})


@pytest.mark.parametrize(("observed", "signed_by", "revoked", "drift"), [
    (GOOD, "release-2026", [], []),
    (Observed(BLUE_AMI), "release-2026", [], []),  # scaled to zero (cold standby)
    (None, "release-2026", [], ["blue: no ASG tagged for this stack"]),
    # without an ASG nothing else is compared, not even signature or revocation
    (None, None, [Revoked(BLUE_AMI, None, "CVE")], ["blue: no ASG tagged for this stack"]),
    (Observed(GREEN_AMI, {"i-1": BLUE_AMI}), "k", [],
     [f"blue: launch template runs {GREEN_AMI}, stack file says {BLUE_AMI}"]),
    (Observed(None), "k", [], [f"blue: launch template runs None, stack file says {BLUE_AMI}"]),
    (Observed(BLUE_AMI, {"i-9": PET_AMI, "i-1": BLUE_AMI, "i-3": GREEN_AMI}), "k", [],
     [f"blue: instance i-3 runs {GREEN_AMI}, not {BLUE_AMI}",
      f"blue: instance i-9 runs {PET_AMI}, not {BLUE_AMI}"]),
    (GOOD, None, [], [f"blue: release {BLUE_AMI} is not signed by a trusted key"]),
    (GOOD, "k", [Revoked(BLUE_AMI, None, "CVE-1")], [f"blue: {BLUE_AMI} is revoked (CVE-1)"]),
    (GOOD, "k", [Revoked(None, BLUE_REC, "bad record")],
     [f"blue: {BLUE_AMI} is revoked (bad record)"]),
    (GOOD, "k", [Revoked(GREEN_AMI, GREEN_REC, "other colour")], []),
    (GOOD, "k", [Revoked(BLUE_AMI, None, "one"), Revoked(None, BLUE_REC, "two")],
     [f"blue: {BLUE_AMI} is revoked (one)", f"blue: {BLUE_AMI} is revoked (two)"]),
    (Observed(GREEN_AMI, {"i-1": GREEN_AMI}), None, [Revoked(BLUE_AMI, None, "x")],
     [f"blue: launch template runs {GREEN_AMI}, stack file says {BLUE_AMI}",
      f"blue: instance i-1 runs {GREEN_AMI}, not {BLUE_AMI}",
      f"blue: release {BLUE_AMI} is not signed by a trusted key",
      f"blue: {BLUE_AMI} is revoked (x)"]),
])
def test_colour_drift(observed: Observed | None, signed_by: str | None,
                      revoked: list[Revoked], drift: list[str]) -> None:
    assert colour_drift("blue", BLUE, observed, signed_by, revoked) == drift


images = st.sampled_from([BLUE_AMI, GREEN_AMI, PET_AMI])
instance_maps = st.dictionaries(st.from_regex(r"i-[0-9a-f]{4}", fullmatch=True), images,
                                max_size=6)


@PROPERTY
@given(images, instance_maps)
def test_every_instance_off_its_colours_image_is_reported_once(
        template: str, instances: dict[str, str]) -> None:
    drift = colour_drift("green", GREEN, Observed(template, instances), "k", [])
    off = sorted(i for i, image in instances.items() if image != GREEN_AMI)
    reported = [d.split()[2] for d in drift if d.startswith("green: instance ")]
    assert reported == off
    assert any("launch template" in d for d in drift) is (template != GREEN_AMI)
    assert all(d.startswith("green: ") and "\n" not in d for d in drift)


# --- strays -------------------------------------------------------------------------------

@pytest.mark.parametrize(("running", "drift"), [
    ({}, []),
    ({"i-1": BLUE_AMI, "i-2": GREEN_AMI}, []),
    ({"i-2": PET_AMI, "i-1": BLUE_AMI, "i-0": "ami-00000000"},
     ["instance i-0 runs ami-00000000, which no colour declares",
      f"instance i-2 runs {PET_AMI}, which no colour declares"]),
])
def test_stray_drift(running: dict[str, str], drift: list[str]) -> None:
    assert stray_drift(running, [BLUE_AMI, GREEN_AMI]) == drift


@PROPERTY
@given(instance_maps, st.sets(images))
def test_strays_are_exactly_the_undeclared_images(running: dict[str, str],
                                                  declared: set[str]) -> None:
    drift = stray_drift(running, iter(declared))  # declared may be a one-pass iterable
    assert drift == sorted(drift)
    assert {d.split()[1] for d in drift} == {i for i, img in running.items()
                                             if img not in declared}


# --- signatures ---------------------------------------------------------------------------

@pytest.mark.parametrize(("settings_", "colour", "key_id"), [
    (stack(), "blue", "release-2026"),
    (stack(), "green", "release-2026"),
    # the second trusted key signed it
    (stack(trusted=(TrustedKey("old", "ed25519", pem(OTHER_KEY)), *TRUSTED)), "blue",
     "release-2026"),
    (stack(trusted=()), "blue", None),  # no trusted keys
    (stack(trusted=(TrustedKey("old", "ed25519", pem(OTHER_KEY)),)), "blue", None),
    # signed by a key the stack does not trust
    (stack(blue=dataclasses.replace(BLUE, signature=sign(BLUE_AMI, BLUE_REC, OTHER_KEY))),
     "blue", None),
    # a signature over another image, record or region does not carry over
    (stack(blue=dataclasses.replace(BLUE, image=GREEN_AMI)), "blue", None),
    (stack(blue=dataclasses.replace(BLUE, record=GREEN_REC)), "blue", None),
    (stack(blue=dataclasses.replace(BLUE, signature=sign(BLUE_AMI, BLUE_REC,
                                                         region="us-east-1"))), "blue", None),
    # not base64, not a digest, not a key: unsigned, never a crash
    (stack(blue=dataclasses.replace(BLUE, signature="%%%")), "blue", None),
    (stack(blue=dataclasses.replace(BLUE, record="sha256:short")), "blue", None),
    (stack(trusted=(TrustedKey("broken", "ed25519", "not a pem"),)), "blue", None),
])
def test_signed_names_the_trusted_key_or_none(settings_: StackSettings, colour: str,
                                              key_id: str | None) -> None:
    assert signed(settings_, colour) == key_id


# --- the whole stack ----------------------------------------------------------------------

def test_a_stack_running_what_it_declares_has_no_drift() -> None:
    settings_ = stack()
    observed = running_as_declared(settings_)
    running = {i: img for o in observed.values() for i, img in o.instances.items()}
    assert stack_drift(settings_, current={"blue": 100, "green": 0}, observed=observed,
                       signers=dict.fromkeys(COLOURS, "release-2026"), revoked=[],
                       running=running) == []


def test_stack_drift_is_sorted_and_without_repeats() -> None:
    settings_ = stack()
    # the same revocation listed twice gives the same line twice: reported once
    revoked = [Revoked(GREEN_AMI, None, "CVE"), Revoked(GREEN_AMI, None, "CVE")]
    drift = stack_drift(settings_, current={"blue": 50, "green": 50},
                        observed={"blue": Observed(BLUE_AMI, {"i-1": PET_AMI})},
                        signers={"blue": "k"}, revoked=iter(revoked),
                        running={"i-1": PET_AMI, "i-7": BLUE_AMI})
    assert drift == [
        f"blue: instance i-1 runs {PET_AMI}, not {BLUE_AMI}",
        "green: no ASG tagged for this stack",
        f"instance i-1 runs {PET_AMI}, which no colour declares",
        "listener sends {'blue': 50, 'green': 50}, stack file says {'blue': 100, 'green': 0}",
    ]
    # the revocation is read for each colour although it came as a one-pass iterator
    both = {c: Observed(settings_.release(c).image) for c in COLOURS}
    assert stack_drift(settings_, current={"blue": 100, "green": 0}, observed=both,
                       signers=dict.fromkeys(COLOURS, "k"), revoked=iter(revoked),
                       running={}) == [f"green: {GREEN_AMI} is revoked (CVE)"]


perturbations = st.sampled_from(["none", "listener", "template", "instance", "unsigned",
                                 "revoked", "stray", "no-asg"])


@PROPERTY
@given(st.sampled_from(COLOURS), st.integers(1, 100), st.sampled_from(COLOURS),
       perturbations)
def test_each_kind_of_drift_is_one_line_naming_it(live: str, traffic: int, colour: str,
                                                  change: str) -> None:
    settings_ = stack(live=live, traffic=traffic)
    release = settings_.release(colour)
    observed = running_as_declared(settings_)
    current = {live: traffic, other(live): 100 - traffic}
    signers: dict[str, str | None] = dict.fromkeys(COLOURS, "release-2026")
    revoked: list[Revoked] = []
    running = {i: img for o in observed.values() for i, img in o.instances.items()}
    expected = {
        "none": None,
        "listener": "listener sends",
        "template": f"{colour}: launch template runs {PET_AMI}",
        "instance": f"{colour}: instance i-{colour}0 runs {PET_AMI}, not {release.image}",
        "unsigned": f"{colour}: release {release.image} is not signed",
        "revoked": f"{colour}: {release.image} is revoked (test)",
        "stray": f"instance i-pet runs {PET_AMI}, which no colour declares",
        "no-asg": f"{colour}: no ASG tagged for this stack",
    }[change]
    if change == "listener":
        current = {live: 100 - traffic, other(live): traffic} if traffic != 50 \
            else {live: 0, other(live): 100}
    elif change == "template":
        observed[colour] = Observed(PET_AMI, observed[colour].instances)
    elif change == "instance":
        observed[colour] = Observed(release.image, {f"i-{colour}0": PET_AMI})
    elif change == "unsigned":
        signers[colour] = None
    elif change == "revoked":
        revoked.append(Revoked(None, release.record, "test"))
    elif change == "stray":
        running["i-pet"] = PET_AMI
    elif change == "no-asg":
        del observed[colour]
    drift = stack_drift(settings_, current=current, observed=observed, signers=signers,
                        revoked=revoked, running=running)
    if expected is None:
        assert drift == []
    else:
        assert len(drift) == 1 and drift[0].startswith(expected)


# --- `kiln status` hands the rules what it read -------------------------------------------

def test_status_reports_the_rules_drift_from_what_aws_shows(
        monkeypatch: pytest.MonkeyPatch) -> None:
    settings_ = stack(live="green")
    deployment = SimpleNamespace(target_groups={"blue": "tg-b", "green": "tg-g"})
    states = {
        "asg-blue": ColourState("asg-blue", BLUE_AMI, 2, None, {"i-b1": BLUE_AMI}),
        "asg-green": ColourState("asg-green", PET_AMI, 2, 1,
                                 {"i-g1": GREEN_AMI, "i-g2": PET_AMI}),
    }
    calls: list[str] = []
    seen: dict[str, Any] = {}

    def colour_state(region: str, name: str) -> ColourState:
        calls.append(name)
        return states[name]

    def running(region: str, service: str, name: str, **where: Any) -> dict[str, str]:
        seen.update(subnets=list(where["subnets"]),
                    target_groups=sorted(where["target_groups"]))
        return {"i-b1": BLUE_AMI, "i-g1": GREEN_AMI, "i-g2": PET_AMI, "i-x": "ami-00000000"}

    health = {"blue": ColourHealth(1, 1, 1, 2, 1), "green": ColourHealth(2, 2, 1, 2, 0)}
    family = lineage.RevokedFamily(Revoked(BLUE_AMI, None, "CVE", "2026-01-02", "ops"),
                                   Family(frozenset({BLUE_AMI}), frozenset()))
    fakes: dict[tuple[Any, str], Any] = {
        (status_module.stackfiles, "check_stack_name"): lambda project, name: None,
        (status_module.stackfiles, "load_settings"): lambda project, name: settings_,
        (status_module.traffic, "discover"): lambda region, service, name: deployment,
        (status_module.traffic, "discovered_weights"): lambda d: {"blue": 0, "green": 100},
        (status_module.traffic, "colour_health"): lambda d, colour, image: health[colour],
        (status_module.traffic, "asg_names"): lambda d: {"blue": "asg-blue",
                                                         "green": "asg-green"},
        (status_module.fleet, "colour_state"): colour_state,
        (status_module.fleet, "stack_subnets"): lambda region, service, name: ["subnet-1"],
        (status_module.fleet, "running_images"): running,
        (status_module.lineage, "revoked"): lambda root: [family],
    }
    for (module, name), fake in fakes.items():
        monkeypatch.setattr(module, name, fake)
    ctx: Any = SimpleNamespace(project=SimpleNamespace(root=Path("/nowhere")))
    result = status_module.status(ctx, "staging")
    assert calls == ["asg-blue", "asg-green"]
    assert seen == {"subnets": ["subnet-1"], "target_groups": ["tg-b", "tg-g"]}
    assert result.drift == [
        f"blue: {BLUE_AMI} is revoked (CVE, 2026-01-02, by ops)",
        "green (live): 0 serving instances, below minHealthy 1",
        "green (live): 1 in service, desired capacity 2",
        f"green: instance i-g2 runs {PET_AMI}, not {GREEN_AMI}",
        f"green: launch template runs {PET_AMI}, stack file says {GREEN_AMI}",
        "instance i-g2 runs ami-0000000000000beef, which no colour declares",
        "instance i-x runs ami-00000000, which no colour declares",
    ]
    assert result.colours["green"] == {
        "image": GREEN_AMI, "record": GREEN_REC, "weight": 100, "healthy": 2,
        "signedBy": "release-2026", "asg": "asg-green", "desired": 2, "warmPool": 1,
        "instances": 2, "inService": 1, "serving": 0, "revoked": None}
    assert result.colours["blue"]["revoked"] == "CVE, 2026-01-02, by ops"
    assert result.to_json()["live"] == "green"
