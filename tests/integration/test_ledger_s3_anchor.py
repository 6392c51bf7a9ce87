"""The S3 Object Lock anchor (on moto): checkpoints nobody can delete or overwrite, so a
ledger rolled back together with every other anchor still disagrees with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from kiln.aws import clients
from kiln.aws.ledger_anchor import S3Anchor, TableAnchor, ensure_anchor_bucket
from kiln.aws.ledger_table import LEDGER_PK, TableLedger, ensure_table
from kiln.project.ledger_anchor import FileAnchor
from kiln.release.chain import LedgerError
from kiln.release.ledger import FileLedger
from kiln.release.ledger_trust import checkpoint_of
from kiln.release.signing import Ed25519FileSigner, generate_ed25519

pytestmark = pytest.mark.integration

BUCKET = "kiln-ledger-anchor"


@pytest.fixture
def signer(tmp_path: Path) -> Ed25519FileSigner:
    generate_ed25519(tmp_path / "ledger-ci.pem")
    return Ed25519FileSigner(tmp_path / "ledger-ci.pem")


@pytest.fixture
def bucket(aws: str) -> S3Anchor:
    del aws
    clients.reset()
    ensure_anchor_bucket(BUCKET, 1)
    return S3Anchor(BUCKET)


def test_rolling_back_the_file_and_its_local_anchor_is_still_caught(
        tmp_path: Path, bucket: S3Anchor, signer: Ed25519FileSigner) -> None:
    local = FileAnchor(tmp_path / ".kiln" / "ledger-head.json")
    ledger = FileLedger(tmp_path / "kiln.jsonl", signer, [local, bucket])
    for _ in range(3):
        ledger.append("deploy", stack="dev", subject={}, commit=None, actor="ci")
    old = ledger.path.read_bytes(), local.path.read_bytes()
    ledger.append("rollback", stack="prod", subject={}, commit=None, actor="ci")
    ledger.path.write_bytes(old[0])
    local.path.write_bytes(old[1])
    s3 = clients.client("s3")
    newest = "ledger-head/000000000003.json"
    with pytest.raises(ClientError, match="AccessDenied"):  # compliance mode: nobody deletes
        for version in s3.list_object_versions(Bucket=BUCKET)["Versions"]:
            if version["Key"] == newest:
                s3.delete_object(Bucket=BUCKET, Key=newest, VersionId=version["VersionId"])
    s3.delete_object(Bucket=BUCKET, Key=newest)  # a delete marker hides nothing
    with pytest.raises(LedgerError, match=rf"^anchor s3 {BUCKET}: head was seq 3 but the "
                                          r"ledger ends at seq 2: entries seq 3 are missing"):
        ledger.check([signer.public_key()])


def test_an_overwritten_or_forged_checkpoint_is_named(
        tmp_path: Path, bucket: S3Anchor, signer: Ed25519FileSigner) -> None:
    ledger = FileLedger(tmp_path / "kiln.jsonl", signer, [bucket])
    entries = [ledger.append("bake", stack=None, subject={}, commit=None, actor="ci")
               for _ in range(2)]
    assert bucket.read() == checkpoint_of(entries[-1], signer)
    assert bucket.advance(checkpoint_of(entries[-1], signer)) is False  # never overwritten
    s3 = clients.client("s3")
    older = json.dumps(checkpoint_of(entries[0], signer).to_json()).encode()
    s3.put_object(Bucket=BUCKET, Key="ledger-head/000000000001.json", Body=older)
    with pytest.raises(LedgerError, match=r"000000000001\.json: has 2 different versions "
                                          r"\(overwritten\)$"):
        ledger.check([signer.public_key()])
    s3.put_object(Bucket=BUCKET, Key="ledger-head/000000000009.json", Body=older)
    with pytest.raises(LedgerError, match=r"000000000009\.json: holds the checkpoint of seq 0 "
                                          r"\(misplaced\)$"):
        ledger.check([signer.public_key()])


def test_a_bucket_without_compliance_lock_is_refused(aws: str,
                                                     signer: Ed25519FileSigner) -> None:
    del aws
    clients.reset()
    s3 = clients.client("s3")
    s3.create_bucket(Bucket="kiln-plain",
                     CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    with pytest.raises(LedgerError, match=r"^anchor s3 kiln-plain: the bucket has no Object "
                                          r"Lock in compliance mode"):
        S3Anchor("kiln-plain").read()


def test_the_table_ledger_with_an_s3_anchor(bucket: S3Anchor,
                                            signer: Ed25519FileSigner) -> None:
    ensure_table("kiln-ledger")
    ledger = TableLedger("kiln-ledger", signer, [TableAnchor("kiln-ledger"), bucket])
    for _ in range(3):
        ledger.append("deploy", stack="dev", subject={}, commit=None, actor="ci")
    dynamodb = clients.client("dynamodb")
    kept = TableAnchor("kiln-ledger").read()
    assert kept is not None
    dynamodb.delete_item(TableName="kiln-ledger",
                         Key={"pk": {"S": LEDGER_PK}, "seq": {"N": "2"}})
    # the table writer also puts back an older table anchor: the bucket still knows
    older = checkpoint_of(next(ledger.entries()), signer)
    dynamodb.put_item(TableName="kiln-ledger", Item={
        "pk": {"S": "anchor#ledger"}, "seq": {"N": "0"}, "headSeq": {"N": "0"},
        "checkpoint": {"S": json.dumps(older.to_json(), sort_keys=True)}})
    found = [a.name for a in ledger.anchors]
    assert found == ["table kiln-ledger", f"s3 {BUCKET}"]
    with pytest.raises(LedgerError, match=rf"^anchor s3 {BUCKET}: head was seq 2"):
        ledger.check([signer.public_key()])
