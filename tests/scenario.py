"""A deployed stack in the emulator, built from the program's own resource graph.

`stand_up(root, stack, region)` registers two AMIs, signs a release for each with a test
key, writes them into the stack file of a project copy, captures the real program for
that stack, and mirrors the captured resources into the moto server — what `pulumi up`
would have created, with the component's own names and tags.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from kiln import capture, stackfiles
from kiln.aws import mirror
from kiln.aws.clients import client
from kiln.release.record import statement
from kiln.settings import COLOURS

KEY_ID = "kiln-test"


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


def stand_up(root: Path, stack: str, key: ed25519.Ed25519PrivateKey | None = None
             ) -> Scenario:
    project = stackfiles.load_project(root)
    region = stackfiles.read_config(project, stack)["aws:region"]
    key = key or ed25519.Ed25519PrivateKey.generate()
    images, records, changes = {}, {}, {}
    for colour in COLOURS:
        images[colour] = register_image(region, f"web-{stack}-{colour}")
        records[colour] = "sha256:" + hashlib.sha256(images[colour].encode()).hexdigest()
        changes[f"kiln:{colour}"] = {"image": images[colour], "release": records[colour],
                                     "signature": sign(key, images[colour], region,
                                                       records[colour])}
    changes["kiln:trustedKeys"] = [{"id": KEY_ID, "type": "ed25519",
                                    "publicKey": public_pem(key)}]
    if stackfiles.read_config(project, stack).get("kiln:certificateArn"):
        acm = client("acm", region)
        changes["kiln:certificateArn"] = acm.request_certificate(
            DomainName=f"{stack}.web.example.com")["CertificateArn"]
    stackfiles.update_config(project, stack, changes)
    cap = capture.capture(stack, project)
    made = mirror.create(list(cap.resources), region)
    return Scenario(root, stack, region, images, records, key, made, cap)
