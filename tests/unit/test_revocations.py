"""The revocation list in the policy pack's config (kiln.project.revocations)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiln.project.layout import PACK_CONFIG_DIR
from kiln.project.revocations import RULE, RevocationError, Revoked, add, listed

PROPERTY = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

AMI_A = "ami-0123456789abcdef0"
AMI_B = "ami-0fedcba9876543210"
REC_R = "sha256:" + "a" * 64
REC_S = "sha256:" + "b" * 64
ENVS = ("dev", "prod", "staging")
OTHER_RULES = {"all": "advisory", "kiln-ec2-launchtemplate-signed-image": {"trustedKeys": []}}
_roots = itertools.count()


def project(tmp_path: Path, configs: dict[str, Any] | None = None) -> Path:
    """A project root whose pack config holds ``configs`` (env → JSON value)."""
    root = tmp_path / f"project-{next(_roots)}"
    directory = root / PACK_CONFIG_DIR
    directory.mkdir(parents=True)
    if configs is None:
        configs = {env: {**OTHER_RULES, RULE: {"revoked": []}} for env in ENVS}
    for env, value in configs.items():
        text = value if isinstance(value, str) else json.dumps(value, indent=2) + "\n"
        (directory / f"{env}.json").write_text(text, encoding="utf-8")
    return root


def config(root: Path, env: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / PACK_CONFIG_DIR / f"{env}.json").read_text())
    return data


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / PACK_CONFIG_DIR).iterdir())}


# --- matching -----------------------------------------------------------------------------

@pytest.mark.parametrize(("entry", "image", "release", "matches"), [
    (Revoked(AMI_A, None, ""), AMI_A, None, True),
    (Revoked(AMI_A, None, ""), AMI_A, REC_S, True),
    (Revoked(AMI_A, None, ""), AMI_B, REC_R, False),
    (Revoked(None, REC_R, ""), AMI_B, REC_R, True),  # the record, under any image id
    (Revoked(None, REC_R, ""), AMI_B, REC_S, False),
    (Revoked(AMI_A, REC_R, ""), AMI_B, REC_R, True),
    (Revoked(AMI_A, REC_R, ""), AMI_A, REC_S, True),
    (Revoked(AMI_A, REC_R, ""), AMI_B, REC_S, False),
    # an absent field never matches an absent value
    (Revoked(None, REC_R, ""), None, None, False),
    (Revoked(AMI_A, None, ""), None, None, False),
    (Revoked(None, None, ""), None, None, False),
    (Revoked("", "", ""), "", "", False),
])
def test_revoked_matches(entry: Revoked, image: str | None, release: str | None,
                         matches: bool) -> None:
    assert entry.matches(image, release) is matches


# --- listing ------------------------------------------------------------------------------

def test_nothing_is_revoked_at_first(tmp_path: Path) -> None:
    assert listed(project(tmp_path)) == []


def test_a_file_without_the_rule_lists_nothing(tmp_path: Path) -> None:
    assert listed(project(tmp_path, {"dev": OTHER_RULES, "prod": {}})) == []


def test_listing_merges_environments_and_keeps_the_first_reason(tmp_path: Path) -> None:
    root = project(tmp_path, {
        "dev": {RULE: {"revoked": [{"image": AMI_A, "release": REC_R, "reason": "first"}]}},
        "prod": {RULE: {"revoked": [{"image": AMI_A, "release": REC_R, "reason": "second"},
                                    {"release": REC_S}]}},
        "staging": {RULE: {"revoked": [{"image": AMI_B, "reason": "pet"}]}},
    })
    assert listed(root) == [Revoked(AMI_A, REC_R, "first"), Revoked(None, REC_S, ""),
                            Revoked(AMI_B, None, "pet")]


@pytest.mark.parametrize(("configs", "message"), [
    ({}, "no policy pack config in"),
    ({"dev": "{not json"}, "dev.json: cannot read policy config"),
    ({"dev": [], "prod": {}}, "dev.json: policy config is not a JSON object"),
    ({"dev": "null"}, "dev.json: policy config is not a JSON object"),
])
def test_unreadable_config_is_one_line(tmp_path: Path, configs: dict[str, Any],
                                       message: str) -> None:
    root = project(tmp_path, configs)
    for call in (lambda: listed(root), lambda: add(root, AMI_A, None, "x")):
        with pytest.raises(RevocationError, match=message) as raised:
            call()
        assert "\n" not in str(raised.value) and raised.value.exit_code == 2


@pytest.mark.parametrize("rule", [[{"image": AMI_A, "reason": "x"}], "ami-0123456789abcdef0"])
def test_listing_refuses_a_rule_that_is_not_an_object(tmp_path: Path, rule: Any) -> None:
    root = project(tmp_path, {"dev": {RULE: rule}})
    with pytest.raises(RevocationError):
        listed(root)


@pytest.mark.parametrize("revoked", ["ami-0123456789abcdef0", [AMI_A]])
def test_malformed_revoked_list_is_one_line(tmp_path: Path, revoked: Any) -> None:
    root = project(tmp_path, {"dev": {RULE: {"revoked": revoked}}})
    with pytest.raises(RevocationError):
        listed(root)


# --- adding -------------------------------------------------------------------------------

def test_add_writes_every_environment_and_keeps_other_rules(tmp_path: Path) -> None:
    root = project(tmp_path)
    changed = add(root, AMI_A, REC_R, "CVE-2026-0001")
    assert [p.name for p in changed] == ["dev.json", "prod.json", "staging.json"]
    for env in ENVS:
        data = config(root, env)
        assert data[RULE]["revoked"] == [
            {"image": AMI_A, "release": REC_R, "reason": "CVE-2026-0001"}]
        assert {k: v for k, v in data.items() if k != RULE} == OTHER_RULES
        text = (root / PACK_CONFIG_DIR / f"{env}.json").read_text()
        assert text.endswith("}\n") and text.startswith('{\n  "')
    assert listed(root) == [Revoked(AMI_A, REC_R, "CVE-2026-0001")]


@pytest.mark.parametrize(("image", "release", "item"), [
    (AMI_A, None, {"image": AMI_A, "reason": "r"}),
    (None, REC_R, {"release": REC_R, "reason": "r"}),
])
def test_add_writes_only_what_it_was_given(tmp_path: Path, image: str | None,
                                           release: str | None, item: dict[str, str]) -> None:
    root = project(tmp_path)
    add(root, image, release, "r")
    assert config(root, "dev")[RULE]["revoked"] == [item]


def test_add_creates_the_rule_where_it_is_missing(tmp_path: Path) -> None:
    root = project(tmp_path, {"dev": OTHER_RULES, "prod": {RULE: {}}})
    assert len(add(root, AMI_A, None, "r")) == 2
    assert config(root, "dev")[RULE] == {"revoked": [{"image": AMI_A, "reason": "r"}]}
    assert config(root, "prod")[RULE] == {"revoked": [{"image": AMI_A, "reason": "r"}]}


@pytest.mark.parametrize(("again", "changes"), [
    ((AMI_A, REC_R, "CVE-2026-0001"), False),  # the same revocation
    ((AMI_A, REC_R, "another reason"), False),  # the reason is not part of the identity
    ((AMI_A, None, "x"), False),  # already covered by the image
    ((None, REC_R, "x"), False),  # already covered by the record
    ((AMI_B, None, "x"), True),
    ((None, REC_S, "x"), True),
])
def test_add_is_idempotent(tmp_path: Path, again: tuple[str | None, str | None, str],
                           changes: bool) -> None:
    root = project(tmp_path)
    add(root, AMI_A, REC_R, "CVE-2026-0001")
    before = snapshot(root)
    changed = add(root, *again)
    assert bool(changed) is changes and (snapshot(root) == before) is not changes


def test_add_changes_only_the_files_that_lack_the_revocation(tmp_path: Path) -> None:
    item = {"image": AMI_A, "reason": "earlier"}
    root = project(tmp_path, {"dev": {RULE: {"revoked": [item]}}, "prod": {}})
    before = (root / PACK_CONFIG_DIR / "dev.json").read_bytes()
    assert [p.name for p in add(root, AMI_A, None, "now")] == ["prod.json"]
    assert (root / PACK_CONFIG_DIR / "dev.json").read_bytes() == before
    assert listed(root) == [Revoked(AMI_A, None, "earlier")]


def test_add_refuses_a_rule_that_is_not_an_object(tmp_path: Path) -> None:
    root = project(tmp_path, {"dev": {RULE: ["x"]}})
    with pytest.raises(RevocationError, match=f"dev.json: {RULE} is not an object"):
        add(root, AMI_A, None, "r")


def test_a_fuller_revocation_is_not_swallowed_by_a_partial_one(tmp_path: Path) -> None:
    root = project(tmp_path)
    add(root, AMI_A, None, "first")
    add(root, AMI_A, REC_R, "with its record")
    assert any(entry.matches(AMI_B, REC_R) for entry in listed(root))


images = st.sampled_from([AMI_A, AMI_B, None])
records = st.sampled_from([REC_R, REC_S, None])
revocations = st.lists(st.tuples(images, records, st.sampled_from(["a", "b"])).filter(
    lambda t: t[0] is not None or t[1] is not None), max_size=6)


@PROPERTY
@given(revocations)
def test_every_added_pair_is_listed_and_adding_again_changes_nothing(
        tmp_path: Path, adds: list[tuple[str | None, str | None, str]]) -> None:
    root = project(tmp_path)
    for image, release, reason in adds:
        add(root, image, release, reason)
    found = listed(root)
    for image, release, _ in adds:
        assert any(entry.matches(image, release) for entry in found)
    before = snapshot(root)
    for image, release, reason in adds:
        assert add(root, image, release, reason) == []
    assert snapshot(root) == before
    # every environment carries the same list
    lists = [config(root, env)[RULE]["revoked"] for env in ENVS]
    assert all(each == lists[0] for each in lists)
    assert len(found) == len(lists[0])


@PROPERTY
@given(revocations, images, records)
def test_nothing_matches_that_was_not_revoked(tmp_path: Path,
                                              adds: list[tuple[str | None, str | None, str]],
                                              image: str | None, release: str | None) -> None:
    root = project(tmp_path)
    for each in adds:
        add(root, *each)
    named = {i for i, _, _ in adds if i} | {r for _, r, _ in adds if r}
    matched = any(entry.matches(image, release) for entry in listed(root))
    if image not in named and release not in named:
        assert not matched
