"""The ledger and stack locks in one DynamoDB table, for teams with many CI runners.

Table keys: ``pk`` (string) and ``seq`` (number). Ledger entries live under
``pk = "ledger"``, one item per ``seq``, holding the entry's canonical JSON; an append is a
conditional put on a ``seq`` nobody has written, so two writers can never both extend the
chain from the same entry — the loser re-reads and retries. Locks are items
``pk = "lock#<stack>"`` written only when absent or expired.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from kiln.aws.clients import client
from kiln.aws.ledger_anchor import TableAnchor
from kiln.project.locks import StackBusyError
from kiln.release.ledger import (
    Entry,
    LedgerError,
    SignerSlot,
    Verified,
    check_action,
    default_actor,
    new_entry,
    now,
    parse_entry,
)
from kiln.release.ledger_trust import Anchor, audit, checkpoint_of, sign_entry
from kiln.release.record import canonical
from kiln.release.signing import PublicKey, Signer

log = logging.getLogger(__name__)

LEDGER_PK = "ledger"
LOCK_TTL_SECONDS = 15 * 60
APPEND_ATTEMPTS = 50


def _region() -> str | None:
    return os.environ.get("KILN_LEDGER_REGION") or None


def _conflict(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def ensure_table(name: str) -> None:
    """Create the table (on-demand billing) when it does not exist, and wait for it."""
    dynamodb = client("dynamodb", _region())
    try:
        dynamodb.describe_table(TableName=name)
        return
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
    dynamodb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "seq", "AttributeType": "N"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "seq", "KeyType": "RANGE"}])
    dynamodb.get_waiter("table_exists").wait(TableName=name)


class TableLedger:
    """Entries signed by the acting key; the head anchored in ``anchors`` (default: a
    checkpoint item in the same table)."""

    def __init__(self, table: str, signer: Signer | None = None,
                 anchors: Sequence[Anchor] | None = None) -> None:
        self.table = table
        self.dynamodb = client("dynamodb", _region())
        self.signer = SignerSlot(signer)
        self.anchors = [TableAnchor(table)] if anchors is None else list(anchors)

    def _decode(self, item: Mapping[str, Any]) -> Entry:
        where = f"table {self.table} seq {item.get('seq', {}).get('N')}"
        text = item.get("entry", {}).get("S")
        if not isinstance(text, str):
            raise LedgerError(f"{where}: item holds no entry")
        try:
            raw = json.loads(text)
        except ValueError:
            raise LedgerError(f"{where}: not JSON") from None
        entry = parse_entry(raw, where)
        if canonical(raw) != text.encode() or str(entry.seq) != item["seq"]["N"]:
            raise LedgerError(f"{where}: entry is not canonical or its seq differs (edited?)")
        return entry

    def _last(self) -> Entry | None:
        items = self.dynamodb.query(
            TableName=self.table, KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": "pk"},
            ExpressionAttributeValues={":pk": {"S": LEDGER_PK}}, ScanIndexForward=False,
            Limit=1, ConsistentRead=True)["Items"]
        return self._decode(items[0]) if items else None

    def entries(self) -> Iterator[Entry]:
        paginator = self.dynamodb.get_paginator("query")
        for page in paginator.paginate(
                TableName=self.table, KeyConditionExpression="#pk = :pk",
                ExpressionAttributeNames={"#pk": "pk"},
                ExpressionAttributeValues={":pk": {"S": LEDGER_PK}}, ConsistentRead=True):
            for item in page["Items"]:
                yield self._decode(item)

    def verify(self) -> int:
        return self.check().entries

    def check(self, trusted: Sequence[PublicKey] | None = None,
              allow_unsigned_before: int = 0) -> Verified:
        """The chain, signatures (given trusted keys) and every anchor; raise where broken."""
        return audit(list(self.entries()), [(a.name, a.read()) for a in self.anchors],
                     trusted, allow_unsigned_before)

    def _anchor(self, entry: Entry, signer: Signer | None) -> None:
        if signer is None:
            return
        checkpoint = checkpoint_of(entry, signer)
        for anchor in self.anchors:
            try:
                anchor.advance(checkpoint)
            except (ClientError, BotoCoreError, LedgerError) as error:
                # The entry is written; the anchor lags and verify says by how much.
                log.warning("anchor %s not advanced to seq %d: %s", anchor.name, entry.seq,
                            error)

    def append(self, action: str, *, stack: str | None, subject: Mapping[str, Any],
               commit: str | None, details: Mapping[str, Any] | None = None,
               actor: str | None = None) -> Entry:
        check_action(action)
        signer = self.signer.get()
        for _ in range(APPEND_ATTEMPTS):
            entry = new_entry(self._last(), action, stack=stack, subject=subject,
                              commit=commit, details=details, actor=actor)
            if signer is not None:
                entry = sign_entry(entry, signer)
            try:
                self.dynamodb.put_item(
                    TableName=self.table,
                    Item={"pk": {"S": LEDGER_PK}, "seq": {"N": str(entry.seq)},
                          "entry": {"S": entry.to_line().decode().rstrip("\n")}},
                    ConditionExpression="attribute_not_exists(#seq)",
                    ExpressionAttributeNames={"#seq": "seq"})
            except ClientError as error:
                if not _conflict(error):
                    raise
                time.sleep(random.uniform(0.005, 0.05))  # noqa: S311 (jitter, not crypto)
                continue
            self._anchor(entry, signer)
            return entry
        raise LedgerError(f"table {self.table}: could not append after {APPEND_ATTEMPTS} "
                          "concurrent attempts")


def _alive_here(holder: Mapping[str, Any]) -> bool:
    """False only when the holder is a process on this host that no longer exists."""
    if holder.get("host", {}).get("S") != socket.gethostname():
        return True
    try:
        os.kill(int(holder.get("pid", {}).get("N", "0")), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True


class TableLocks:
    def __init__(self, table: str, ttl: int = LOCK_TTL_SECONDS) -> None:
        self.table = table
        self.ttl = ttl
        self.dynamodb = client("dynamodb", _region())

    def _acquire(self, key: dict[str, Any], item: dict[str, Any], stack: str) -> None:
        try:
            self.dynamodb.put_item(
                TableName=self.table, Item=item,
                ConditionExpression="attribute_not_exists(#pk) OR #expires < :now",
                ExpressionAttributeNames={"#pk": "pk", "#expires": "expires"},
                ExpressionAttributeValues={":now": {"N": str(int(time.time()))}})
            return
        except ClientError as error:
            if not _conflict(error):
                raise
        held = self.dynamodb.get_item(TableName=self.table, Key=key,
                                      ConsistentRead=True).get("Item", {})
        if held and not _alive_here(held):
            # The holder was killed on this machine: take the lock over from exactly it.
            try:
                self.dynamodb.put_item(
                    TableName=self.table, Item=item, ConditionExpression="#token = :token",
                    ExpressionAttributeNames={"#token": "token"},
                    ExpressionAttributeValues={":token": held["token"]})
                return
            except ClientError as error:
                if not _conflict(error):
                    raise
        raise StackBusyError(stack, held.get("holder", {}).get("S", ""),
                             held.get("since", {}).get("S", ""),
                             held.get("operation", {}).get("S", ""))

    @contextmanager
    def hold(self, stack: str, operation: str) -> Iterator[None]:
        key = {"pk": {"S": f"lock#{stack}"}, "seq": {"N": "0"}}
        token = f"{socket.gethostname()}:{os.getpid()}:{random.getrandbits(64):x}"
        item = {**key, "token": {"S": token}, "operation": {"S": operation},
                "holder": {"S": f"{default_actor()} (pid {os.getpid()})"},
                "since": {"S": now()}, "host": {"S": socket.gethostname()},
                "pid": {"N": str(os.getpid())},
                "expires": {"N": str(int(time.time()) + self.ttl)}}
        self._acquire(key, item, stack)
        try:
            yield
        finally:
            try:
                self.dynamodb.delete_item(TableName=self.table, Key=key,
                                          ConditionExpression="#token = :token",
                                          ExpressionAttributeNames={"#token": "token"},
                                          ExpressionAttributeValues={":token": {"S": token}})
            except ClientError as error:
                if not _conflict(error):
                    raise
