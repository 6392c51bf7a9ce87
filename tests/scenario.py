"""A deployed stack in the emulator, built from the program's own resource graph.

`stand_up(root, stack, region)` registers two AMIs, signs a release for each with a test
key, writes them into the stack file of a project copy, captures the real program for
that stack, and mirrors the captured resources into the moto server — what `pulumi up`
would have created, with the component's own names and tags.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from kiln.aws.clients import client
from kiln.local import mirror
from kiln.model.stack import COLOURS
from kiln.preview import capture
from kiln.project import stackfiles
from kiln.project.layout import PACK_CONFIG_DIR
from kiln.records import store
from kiln.release.record import ArtifactRecord, statement

KEY_ID = "kiln-test"
REPO = Path(__file__).resolve().parent.parent


@dataclass
class Scenario:
    root: Path
    stack: str
    region: str
    images: dict[str, str]  # colour → AMI id
    records: dict[str, str]  # colour → record digest
    key: ed25519.Ed25519PrivateKey
    mirror: mirror.Mirror
    capture: capture.Capture

    @property
    def project(self) -> stackfiles.Project:
        return stackfiles.load_project(self.root)

    def resource_id(self, type_: str, name: str) -> str:
        return self.mirror.ids[self.capture.one(type_, name).urn]


def public_pem(key: ed25519.Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def register_image(region: str, name: str) -> str:
    ec2 = client("ec2", region)
    return ec2.register_image(Name=name, RootDeviceName="/dev/xvda", Architecture="x86_64",
                              VirtualizationType="hvm")["ImageId"]


def sign(key: ed25519.Ed25519PrivateKey, image: str, region: str, record: str) -> str:
    return base64.b64encode(key.sign(statement("ami", image, region, record))).decode()


def with_pack_config(root: Path) -> None:
    """Give a project copy the policy pack's config (its revocation list) if it lacks it."""
    target = root / PACK_CONFIG_DIR
    if not target.exists():
        shutil.copytree(REPO / PACK_CONFIG_DIR, target)


def stand_up(root: Path, stack: str, key: ed25519.Ed25519PrivateKey | None = None
             ) -> Scenario:
    with_pack_config(root)
    project = stackfiles.load_project(root)
    region = stackfiles.read_config(project, stack)["aws:region"]
    key = key or ed25519.Ed25519PrivateKey.generate()
    images: dict[str, str] = {}
    records: dict[str, str] = {}
    changes: dict[str, Any] = {}
    for colour in COLOURS:
        images[colour] = register_image(region, f"web-{stack}-{colour}")
        records[colour] = "sha256:" + hashlib.sha256(images[colour].encode()).hexdigest()
        changes[f"kiln:{colour}"] = {"image": images[colour], "release": records[colour],
                                     "signature": sign(key, images[colour], region,
                                                       records[colour])}
    changes["kiln:trustedKeys"] = [{"id": KEY_ID, "type": "ed25519",
                                    "publicKey": public_pem(key)}]
    stackfiles.update_config(project, stack, changes)
    made, cap = apply(root, stack)
    return Scenario(root, stack, region, images, records, key, made, cap)


def apply(root: Path, stack: str) -> tuple[mirror.Mirror, capture.Capture]:
    """What a `pulumi up` run elsewhere would do: mirror the stack file's program into the
    emulator (once per stack and emulator)."""
    project = stackfiles.load_project(root)
    region = stackfiles.read_config(project, stack)["aws:region"]
    if stackfiles.read_config(project, stack).get("kiln:certificateArn"):
        acm = client("acm", region)
        stackfiles.update_config(project, stack, {
            "kiln:certificateArn": acm.request_certificate(
                DomainName=f"{stack}.web.example.com")["CertificateArn"]})
    cap = capture.capture(stack, project)
    return mirror.create(list(cap.resources), region), cap


def make_release(root: Path, region: str, image: str, key: ed25519.Ed25519PrivateKey, *,
                 name: str = "app", key_id: str = KEY_ID) -> Path:
    """A signed ``kiln.artifact/v1`` record of ``image`` under ``releases/``, as a bake
    writes it; returns the record file."""

    record = ArtifactRecord(
        kind="ami", name=name, images={region: image},
        source={"commit": "0" * 40, "dirty": False},
        inputs={"template": "app.pkr.hcl", "inputHash": "sha256:" + "1" * 64,
                "variables": {}, "base": "ami-0123456789abcdef0"},
        tools={"packer": "1.6.6", "kiln": "0.1.0"},
        built_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        packer_run_uuid=str(uuid.uuid4()))
    signed = store.Signed(image, region, sign(key, image, region, record.digest))
    path, _ = store.write(root, record, store.SignatureFile(
        record.digest, key_id, "ed25519", public_pem(key), (signed,)))
    return path


def trust(root: Path, key: ed25519.Ed25519PrivateKey, stacks: list[str] | None = None,
          key_id: str = KEY_ID) -> None:
    """Make ``key`` the trusted release key of ``stacks`` (default: all)."""
    project = stackfiles.load_project(root)
    for stack in stacks or project.stacks():
        stackfiles.update_config(project, stack, {"kiln:trustedKeys": [
            {"id": key_id, "type": "ed25519", "publicKey": public_pem(key)}]})
