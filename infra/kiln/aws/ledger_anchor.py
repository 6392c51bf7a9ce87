"""The ledger's head anchored in DynamoDB or in S3 with Object Lock, and KMS keys as
ledger signers.

The anchor is one item (``pk = "anchor#ledger"``, ``seq = 0``) holding the newest signed
checkpoint; writes are conditional on a *higher* head seq, so kiln's own writers never move
it back, even racing. What it cannot stop: anyone allowed to PutItem on the table writes
what they like (a condition is the writer's choice) — they cannot forge a checkpoint
without the ledger key, but they can put back an older one they kept. Keep the anchor in a
table of its own (``KILN_LEDGER_ANCHOR_TABLE``) that the ledger's writers cannot write
without kiln's role to narrow that.
"""

from __future__ import annotations

import json
import os

from botocore.exceptions import BotoCoreError, ClientError

from kiln.aws.clients import client
from kiln.aws.kms import KmsSigner
from kiln.release.chain import LedgerError
from kiln.release.ledger_trust import Checkpoint, parse_checkpoint, register_opener
from kiln.release.record import canonical
from kiln.release.signing import Signer

ANCHOR_KEY = {"pk": {"S": "anchor#ledger"}, "seq": {"N": "0"}}


def _region() -> str | None:
    return os.environ.get("KILN_LEDGER_REGION") or None


def _kms_signer(spec: str) -> Signer:
    return KmsSigner(spec.removeprefix("kms:"), None)


# A ledger key `kms:<key>` signs through KMS in every process that loaded this adapter.
register_opener("kms:", _kms_signer)


class TableAnchor:
    """The newest checkpoint in a DynamoDB item that a conditional write only moves up."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.name = f"table {table}"
        self.dynamodb = client("dynamodb", _region())

    def read(self) -> Checkpoint | None:
        item = self.dynamodb.get_item(TableName=self.table, Key=ANCHOR_KEY,
                                      ConsistentRead=True).get("Item")
        if not item:
            return None
        where = f"anchor {self.name}"
        try:
            checkpoint = parse_checkpoint(json.loads(item["checkpoint"]["S"]), where)
            head = int(item["headSeq"]["N"])
        except (KeyError, ValueError, TypeError):
            raise LedgerError(f"{where}: not a ledger checkpoint item") from None
        if head != checkpoint.seq:
            raise LedgerError(f"{where}: item's headSeq {head} differs from its checkpoint's "
                              f"seq {checkpoint.seq} (edited)")
        return checkpoint

    def advance(self, checkpoint: Checkpoint) -> bool:
        """Store ``checkpoint`` when its seq is higher than the one held; False otherwise."""
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item={**ANCHOR_KEY, "headSeq": {"N": str(checkpoint.seq)},
                      "checkpoint": {"S": canonical(checkpoint.to_json()).decode()}},
                ConditionExpression="attribute_not_exists(#pk) OR #head < :seq",
                ExpressionAttributeNames={"#pk": "pk", "#head": "headSeq"},
                ExpressionAttributeValues={":seq": {"N": str(checkpoint.seq)}})
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True


S3_PREFIX = "ledger-head/"


def _s3_key(seq: int) -> str:
    return f"{S3_PREFIX}{seq:012d}.json"


class S3Anchor:
    """One object per checkpoint in a bucket with Object Lock in compliance mode.

    Nobody — the bucket's owner included — can delete or overwrite a locked version before
    its retention ends, so the newest checkpoint survives anyone who can write the ledger.
    Reads walk every version (a delete marker hides nothing), take the highest seq, and
    refuse versions of one key that differ."""

    def __init__(self, bucket: str, region: str | None = None) -> None:
        self.bucket = bucket
        self.name = f"s3 {bucket}"
        self.s3 = client("s3", region)

    def _locked(self) -> None:
        try:
            config = self.s3.get_object_lock_configuration(Bucket=self.bucket)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != \
                    "ObjectLockConfigurationNotFoundError":
                raise
            config = {}
        rule = config.get("ObjectLockConfiguration", {}).get("Rule", {})
        if rule.get("DefaultRetention", {}).get("Mode") != "COMPLIANCE":
            raise LedgerError(f"anchor {self.name}: the bucket has no Object Lock in "
                              "compliance mode, so its checkpoints could be deleted")

    def _versions(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        paginator = self.s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=S3_PREFIX):
            for version in page.get("Versions", []):
                found.setdefault(version["Key"], []).append(version["VersionId"])
        return found

    def read(self) -> Checkpoint | None:
        self._locked()
        versions = self._versions()
        if not versions:
            return None
        newest = max(versions)  # zero-padded seq: the highest key is the newest checkpoint
        where = f"anchor {self.name}: {newest}"
        seen: set[bytes] = set()
        for version in versions[newest]:
            seen.add(self.s3.get_object(Bucket=self.bucket, Key=newest,
                                        VersionId=version)["Body"].read())
        if len(seen) != 1:
            raise LedgerError(f"{where}: has {len(seen)} different versions (overwritten)")
        try:
            raw = json.loads(seen.pop())
        except ValueError:
            raise LedgerError(f"{where}: not JSON") from None
        checkpoint = parse_checkpoint(raw, where)
        if _s3_key(checkpoint.seq) != newest:
            raise LedgerError(f"{where}: holds the checkpoint of seq {checkpoint.seq} "
                              "(misplaced)")
        return checkpoint

    def advance(self, checkpoint: Checkpoint) -> bool:
        """Store ``checkpoint`` as a new locked object; False when it is there already."""
        try:
            self.s3.put_object(Bucket=self.bucket, Key=_s3_key(checkpoint.seq),
                               Body=canonical(checkpoint.to_json()) + b"\n",
                               ContentType="application/json", IfNoneMatch="*")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "PreconditionFailed":
                return False
            raise LedgerError(f"anchor {self.name}: {error}") from None
        except BotoCoreError as error:  # the entry is written: the caller logs a lagging anchor
            raise LedgerError(f"anchor {self.name}: {error}") from None
        return True


def ensure_anchor_bucket(bucket: str, retention_days: int, region: str | None = None) -> None:
    """Create ``bucket`` with Object Lock in compliance mode (``retention_days``) unless it
    exists. Compliance retention cannot be shortened or removed: choose the days with care."""
    s3 = client("s3", region)
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
            raise
    where = region or s3.meta.region_name
    options = {} if where == "us-east-1" else {
        "CreateBucketConfiguration": {"LocationConstraint": where}}
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True, **options)
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": retention_days}}})
