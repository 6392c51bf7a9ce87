"""A small released project for the evidence tests: records, signatures and a ledger.

golden AMI + container → app AMI (released), a cross-region copy of the app AMI, the app
served on dev then staging, a rollback on staging and a revocation — written with kiln's
own publish path, so the records are exactly what a bake or a promotion writes.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from kiln.project import layout
from kiln.records.publish import publish
from kiln.release.ledger import FileLedger
from kiln.release.record import ArtifactRecord
from kiln.release.signing import Ed25519FileSigner, generate_ed25519

ROOT = Path(__file__).resolve().parents[2]
CONTAINER_DIGEST = "sha256:" + "c" * 64
REPOSITORY = "127.0.0.1:5000/kiln/web"


@dataclass(frozen=True)
class Released:
    root: Path
    key: Path
    public: Path
    app: str  # the released record's digest
    golden: str
    container: str
    copy: str
    ledger: FileLedger


def _record(kind: str, name: str, images: dict[str, str], variables: dict[str, str],
            base: str, **extra: object) -> ArtifactRecord:
    return ArtifactRecord(
        kind=kind, name=name, images=images, source={"commit": "a" * 40, "dirty": False},
        inputs={"template": f"{name}.pkr.hcl", "source": f"amazon-ebs.{name}",
                "inputHash": "sha256:" + "1" * 64, "variables": variables, "base": base,
                "files": {f"{name}.pkr.hcl": "sha256:" + "2" * 64}},
        tools={"packer": "1.6.6", "kiln": "0.1.0"}, built_at="2026-03-01T10:00:00Z",
        packer_run_uuid=f"run-{name}", extra=dict(extra))


def make_release(base: Path, *, with_ops: bool = True) -> Released:
    root = base / "project"
    root.mkdir(parents=True)
    shutil.copy(ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    shutil.copytree(ROOT / "stacks", root / "stacks")
    (base / "keys").mkdir()
    key = base / "keys" / "kiln-test.pem"
    generate_ed25519(key)
    signer = Ed25519FileSigner(key)
    ledger = FileLedger(layout.ledger_path(root))
    commit = "a" * 40
    golden = _record("ami", "golden", {"eu-west-1": "ami-0aaaaaaaaaaaaaaa1"},
                     {"region": "eu-west-1"}, "ami-0bbbbbbbbbbbbbbb1")
    container = _record("container", "container",
                        {"repository": REPOSITORY, "digest": CONTAINER_DIGEST},
                        {"container_base": "kiln/busybox:1.35"}, "sha256:" + "d" * 64)
    app = _record("ami", "app", {"eu-west-1": "ami-0ccccccccccccccc1"},
                  {"golden_ami": "ami-0aaaaaaaaaaaaaaa1", "root_volume_gb": "20",
                   "container_image": f"{REPOSITORY}@{CONTAINER_DIGEST}"},
                  "ami-0aaaaaaaaaaaaaaa1")
    for record in (golden, container, app):
        ledger.append("bake", stack=None, commit=commit,
                      subject={"name": record.name, "kind": record.kind,
                               "image": record.locations()[0][0], "record": record.digest})
        publish(root, record, signer, ledger, commit=commit)
    copy = _record("ami", "app", {"us-east-1": "ami-0eeeeeeeeeeeeeee1"},
                   dict(app.inputs["variables"]), "ami-0aaaaaaaaaaaaaaa1",
                   copyOf=app.digest,
                   copiedFrom={"image": "ami-0ccccccccccccccc1", "region": "eu-west-1"})
    publish(root, copy, signer, ledger, commit=commit, details={"copyOf": app.digest})
    if with_ops:
        for action, stack in (("deploy", "dev"), ("promote", "staging")):
            ledger.append(action, stack=stack, commit=commit,
                          subject={"image": "ami-0ccccccccccccccc1", "record": app.digest},
                          details={"colour": "green", "region": "eu-west-1"})
        ledger.append("rollback", stack="staging", commit=commit,
                      subject={"image": "ami-0aaaaaaaaaaaaaaa1", "record": golden.digest},
                      details={"from": {"colour": "green", "image": "ami-0ccccccccccccccc1",
                                        "record": app.digest}})
        ledger.append("revoke", stack=None, commit=commit,
                      subject={"image": "ami-0ccccccccccccccc1", "record": app.digest},
                      details={"reason": "CVE in the app", "stacks": ["dev", "staging"]})
    return Released(root, key, key.with_suffix(".pub"), app.digest, golden.digest,
                    container.digest, copy.digest, ledger)
