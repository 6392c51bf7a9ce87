"""Resolve a bake's variables: pins, then what kiln derives, then ``--var``.

kiln derives the emulator endpoint and communicator (AMIs), the template source Packer
builds (AWS's, or the emulator's stand-in when there is an endpoint), the base image
(golden: the newest AMI matching the pinned name and owner; app: the newest golden and
container records), and checks that each base exists before Packer starts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiln.aws import images
from kiln.bake import oci
from kiln.bake.inputs import ImageSpec
from kiln.errors import BakeError
from kiln.records import store

DIGEST_REF = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Resolved:
    region: str
    variables: dict[str, Any]  # every value: pins, derived, overrides
    passed: dict[str, Any]  # what goes on Packer's command line (pins come from their file)
    base: str
    source: str  # the template source Packer builds (-only), e.g. amazon-chroot.app
    extra_inputs: dict[str, Any] = field(default_factory=dict)
    repository: oci.Repository | None = None


def _require(values: Mapping[str, Any], name: str, hint: str) -> str:
    value = values.get(name)
    if value in (None, ""):
        raise BakeError(f"variable {name!r} is not set; {hint}")
    return str(value)


def _region(values: Mapping[str, Any]) -> str:
    region = values.get("region") or os.environ.get("AWS_REGION") \
        or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise BakeError("variable 'region' is not set; pin it in release.auto.pkrvars.hcl "
                        "or pass --var region=eu-west-1")
    return str(region)


def _golden_base(values: Mapping[str, Any], region: str) -> str:
    chosen = values.get("source_ami")
    if chosen:
        if images.describe(str(chosen), region) is None:
            raise BakeError(f"base AMI {chosen} does not exist in {region}")
        return str(chosen)
    name = _require(values, "source_ami_name", "pin the base AMI's name filter")
    owner = _require(values, "source_ami_owner", "pin the base AMI's owner account")
    found = images.newest(name, owner, region)
    if found is None:
        raise BakeError(f"no base AMI named {name!r} owned by {owner} in {region}")
    return str(found["ImageId"])


def _app_bases(root: Path, values: Mapping[str, Any], region: str) -> tuple[str, str]:
    golden = values.get("golden_ami")
    if not golden:
        latest = store.latest(root, "golden", lambda r: region in r.images)
        if latest is None:
            raise BakeError(f"no golden AMI for {region}: run `kiln bake golden` first or "
                            "pass --var golden_ami=ami-…")
        golden = latest[0].images[region]
    if images.describe(str(golden), region) is None:
        raise BakeError(f"golden AMI {golden} does not exist in {region}")
    container = values.get("container_image")
    if not container:
        latest_container = store.latest(root, "container")
        if latest_container is None:
            raise BakeError("no container image: run `kiln bake container` first or pass "
                            "--var container_image=<repository>@sha256:<digest>")
        found = latest_container[0].images
        container = f"{found['repository']}@{found['digest']}"
    if not DIGEST_REF.fullmatch(str(container)):
        raise BakeError(f"container_image {container!r} is not allowed; the app AMI carries "
                        "a container by digest: <repository>@sha256:<64 hex>")
    return str(golden), str(container)


def resolve(image: ImageSpec, root: Path, pins: Mapping[str, Any],
            overrides: Mapping[str, str], *, imdsv2: bool = True,
            packer_version: str = "") -> Resolved:
    """All variables of the bake of ``image`` and its base image id. ``imdsv2``: the
    installed Packer can make a build instance require IMDSv2 (>= 1.7)."""
    values: dict[str, Any] = {**pins, **overrides}
    region = _region(values)
    derived: dict[str, Any] = {}
    if "region" not in values:
        derived["region"] = region
    extra: dict[str, Any] = {}
    repository = None
    emulated = False
    if image.kind == "ami":
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        if endpoint and "ec2_endpoint" not in overrides:
            derived["ec2_endpoint"] = endpoint
        emulated = bool(overrides.get("ec2_endpoint") or derived.get("ec2_endpoint"))
        # Against the emulator no instance boots: nothing to connect to.
        if emulated and "communicator" not in overrides:
            derived["communicator"] = "none"
        # An instance boots on AWS only for amazon-ebs; Packer 1.6 cannot require IMDSv2 there.
        if not emulated and not imdsv2 and image.source.startswith("amazon-ebs."):
            raise BakeError(f"{image.name} on AWS boots a build instance, which must require "
                            f"IMDSv2: Packer {packer_version or '< 1.7'} cannot; install "
                            "Packer >= 1.7")
    if image.name == "golden":
        base = _golden_base(values, region)
        derived["source_ami"] = base
    elif image.name == "app":
        base, container = _app_bases(root, values, region)
        derived.update(golden_ami=base, container_image=container)
        repo, _, digest = container.partition("@")
        extra["container"] = {"repository": repo, "digest": digest}
    else:
        repository = oci.parse_repository(_require(
            values, "repository", "pass --var repository=<registry host>/<path>, e.g. "
            "127.0.0.1:5000/kiln/web"))
        reference = _require(values, "container_base", "pin the container's base image")
        base_id = oci.local_image_id(reference)
        if base_id is None:
            if values.get("container_pull") in (True, "true"):
                base_id = reference  # pulled by Packer; the reference is all we know
            else:
                raise BakeError(f"container base {reference} is not in the local image store "
                                "(build it with `python -m kiln.local.standins base`, or set "
                                "container_pull = true)")
        base = base_id
    passed = {**derived, **overrides}
    return Resolved(region, {**pins, **derived, **overrides}, passed, base,
                    image.source_for(emulated), extra, repository)
