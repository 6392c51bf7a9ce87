"""The DynamoDB ledger (on moto) against someone who can write its table but holds no ledger
key: every rewrite of the history is caught and named, or documented as out of reach."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from kiln.aws import clients
from kiln.aws.ledger_anchor import ANCHOR_KEY, TableAnchor
from kiln.aws.ledger_table import LEDGER_PK, TableLedger, ensure_table
from kiln.records import keys
from kiln.release.chain import Entry, LedgerError, new_entry
from kiln.release.ledger_trust import checkpoint_of, sign_entry
from kiln.release.signing import Ed25519FileSigner, PublicKey, generate_ed25519

pytestmark = pytest.mark.integration

TABLE = "kiln-ledger"
RECORD = "sha256:" + "a" * 64


@pytest.fixture
def signers(tmp_path: Path) -> dict[str, Ed25519FileSigner]:
    found = {}
    for name in ("ledger-ci", "mallory"):
        generate_ed25519(tmp_path / f"{name}.pem")
        found[name] = Ed25519FileSigner(tmp_path / f"{name}.pem")
    return found


@pytest.fixture
def table(aws: str) -> TableLedger:
    del aws
    clients.reset()
    ensure_table(TABLE)
    return TableLedger(TABLE)


def written(signers: dict[str, Ed25519FileSigner], count: int = 5) -> TableLedger:
    ledger = TableLedger(TABLE, signers["ledger-ci"])
    for index in range(count):
        ledger.append("deploy", stack="dev", subject={"record": RECORD, "n": index},
                      commit=None, actor="ci")
    return ledger


def trusted(signers: dict[str, Ed25519FileSigner]) -> list[PublicKey]:
    return [signers["ledger-ci"].public_key()]


def put(entry: Entry) -> None:
    clients.client("dynamodb").put_item(TableName=TABLE, Item={
        "pk": {"S": LEDGER_PK}, "seq": {"N": str(entry.seq)},
        "entry": {"S": entry.to_line().decode().rstrip("\n")}})


def delete(seq: int) -> None:
    clients.client("dynamodb").delete_item(
        TableName=TABLE, Key={"pk": {"S": LEDGER_PK}, "seq": {"N": str(seq)}})


def test_an_honest_table_verifies_with_its_anchor(table: TableLedger,
                                                  signers: dict[str, Ed25519FileSigner]) -> None:
    ledger = written(signers)
    found = ledger.check(trusted(signers))
    assert (found.entries, found.signers) == (5, {"ledger-ci": 5})
    assert found.anchors == (f"anchor table {TABLE}: agrees at seq 4",)
    assert table.check(trusted(signers)).entries == 5  # another writer's view


@pytest.mark.parametrize(("dropped", "missing"), [(1, "seq 4"), (3, "seq 2-4")])
def test_deleting_the_newest_items_disagrees_with_the_anchor(
        table: TableLedger, signers: dict[str, Ed25519FileSigner], dropped: int,
        missing: str) -> None:
    ledger = written(signers)
    for seq in range(5 - dropped, 5):
        delete(seq)
    with pytest.raises(LedgerError, match=(
            rf"^anchor table {TABLE}: head was seq 4 but the ledger ends at seq {4 - dropped}: "
            rf"entries {missing} are missing \(truncated\)$")):
        ledger.check(trusted(signers))


@pytest.mark.parametrize(("who", "message"), [
    (None, r"^unsigned entries: seq 5 "),
    ("mallory", r"^entry seq 5: signed by key 'mallory', which is not a trusted ledger key"),
])
def test_a_forged_item_with_a_correct_hash_is_caught(
        table: TableLedger, signers: dict[str, Ed25519FileSigner], who: str | None,
        message: str) -> None:
    ledger = written(signers)
    entry = new_entry(list(ledger.entries())[-1], "promote", stack="prod",
                      subject={"record": RECORD}, commit=None, actor="ci")
    put(sign_entry(entry, signers[who]) if who else entry)
    assert ledger.verify() == 6  # the chain and the anchor alone accept it
    with pytest.raises(LedgerError, match=message):
        ledger.check(trusted(signers))


def test_a_middle_item_edited_and_the_chain_recomputed_is_named(
        table: TableLedger, signers: dict[str, Ed25519FileSigner]) -> None:
    ledger = written(signers)
    previous: Entry | None = None
    for entry in ledger.entries():
        current = entry
        if entry.seq >= 2:
            changed = dataclasses.replace(entry, stack="prod" if entry.seq == 2 else entry.stack,
                                          prev=previous.hash if previous else entry.prev)
            current = dataclasses.replace(changed.sealed(), signature=entry.signature)
            put(current)
        previous = current
    with pytest.raises(LedgerError, match=r"^entry seq 2: signature by 'ledger-ci' does not "
                                          r"verify \(entry forged or edited\)$"):
        ledger.check(trusted(signers))
    with pytest.raises(LedgerError, match=r"^anchor table .*: entry seq 4 is not the one "
                                          r"anchored \(history rewritten\)$"):
        ledger.verify()


@pytest.mark.parametrize(("item", "message"), [
    ({"entry": {"S": "{"}}, r"^table kiln-ledger seq 5: not JSON$"),
    ({"junk": {"S": "x"}}, r"^table kiln-ledger seq 5: item holds no entry$"),
    ({"entry": {"S": json.dumps({"seq": 5})}}, r"^table kiln-ledger seq 5: not a ledger entry"),
])
def test_a_junk_item_is_one_line_naming_its_seq(table: TableLedger,
                                                signers: dict[str, Ed25519FileSigner],
                                                item: dict[str, Any], message: str) -> None:
    ledger = written(signers)
    clients.client("dynamodb").put_item(TableName=TABLE, Item={
        "pk": {"S": LEDGER_PK}, "seq": {"N": "5"}, **item})
    with pytest.raises(LedgerError, match=message):
        ledger.verify()


def test_the_anchor_item_only_moves_up_and_an_edit_is_named(
        table: TableLedger, signers: dict[str, Ed25519FileSigner]) -> None:
    ledger = written(signers)
    anchor = TableAnchor(TABLE)
    entries = list(ledger.entries())
    assert anchor.advance(checkpoint_of(entries[2], signers["ledger-ci"])) is False
    assert anchor.read().seq == 4  # type: ignore[union-attr]
    dynamodb = clients.client("dynamodb")
    dynamodb.update_item(TableName=TABLE, Key=ANCHOR_KEY, UpdateExpression="SET headSeq = :s",
                         ExpressionAttributeValues={":s": {"N": "2"}})
    with pytest.raises(LedgerError, match=r"^anchor table .*: item's headSeq 2 differs from its "
                                          r"checkpoint's seq 4 \(edited\)$"):
        ledger.check(trusted(signers))
    dynamodb.delete_item(TableName=TABLE, Key=ANCHOR_KEY)
    with pytest.raises(LedgerError, match=r"^anchor table .*: holds no checkpoint, but the "
                                          r"ledger has signed entries up to seq 4"):
        ledger.check(trusted(signers))


def test_what_the_same_table_anchor_cannot_catch(table: TableLedger,
                                                 signers: dict[str, Ed25519FileSigner]) -> None:
    """A table writer who kept an old checkpoint can put it back with a truncation."""
    ledger = written(signers, 3)
    dynamodb = clients.client("dynamodb")
    kept = dynamodb.get_item(TableName=TABLE, Key=ANCHOR_KEY)["Item"]
    ledger.append("rollback", stack="prod", subject={}, commit=None, actor="ci")
    delete(3)
    dynamodb.put_item(TableName=TABLE, Item=kept)
    assert ledger.check(trusted(signers)).entries == 3


def test_a_separate_anchor_table_survives_a_rewrite_of_the_ledger_table(
        table: TableLedger, signers: dict[str, Ed25519FileSigner]) -> None:
    ensure_table("kiln-anchor")
    ledger = TableLedger(TABLE, signers["ledger-ci"], [TableAnchor("kiln-anchor")])
    for _ in range(3):
        ledger.append("bake", stack=None, subject={}, commit=None, actor="ci")
    delete(2)
    with pytest.raises(LedgerError, match=r"^anchor table kiln-anchor: head was seq 2"):
        ledger.check(trusted(signers))


def test_a_kms_ledger_key_signs_and_verifies(table: TableLedger,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    key_id = clients.client("kms").create_key(
        KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    monkeypatch.setenv("KILN_LEDGER_KEY", f"kms:{key_id}")
    ledger = TableLedger(TABLE)
    entry = ledger.append("bake", stack=None, subject={}, commit=None, actor="ci")
    public = keys.explicit_keys([f"kms:{key_id}"])
    assert entry.signature is not None and entry.signature["key"] == public[0].id
    assert ledger.check(public).signers == {public[0].id: 1}
    other = public[0].id + "-other"
    with pytest.raises(LedgerError, match=r"^entry seq 0: signed by key .* not a trusted"):
        ledger.check([dataclasses.replace(public[0], id=other)])
