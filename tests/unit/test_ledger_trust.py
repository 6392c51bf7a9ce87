"""Signed entries and an anchored head: what someone who can write the ledger file (but holds
no ledger key) can do to it, and how each attempt is caught (kiln.release.ledger_trust,
the file backend with its local anchor)."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiln.project.ledger_anchor import FileAnchor, ledger_keys
from kiln.project.stackfiles import Project
from kiln.release import ledger_trust
from kiln.release.chain import Entry, LedgerError, new_entry
from kiln.release.ledger import FileLedger
from kiln.release.ledger_trust import (
    Checkpoint,
    check_signatures,
    checkpoint_of,
    env_signer,
    moves_forward,
    parse_checkpoint,
    sign_entry,
)
from kiln.release.signing import Ed25519FileSigner, PublicKey, generate_ed25519

RECORD = "sha256:" + "a" * 64


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Ed25519FileSigner]:
    folder = tmp_path_factory.mktemp("keys")
    found = {}
    for name in ("ledger-ci", "mallory"):
        generate_ed25519(folder / f"{name}.pem")
        found[name] = Ed25519FileSigner(folder / f"{name}.pem")
    return found


@pytest.fixture
def ci(keys: dict[str, Ed25519FileSigner]) -> Ed25519FileSigner:
    return keys["ledger-ci"]


@pytest.fixture
def mallory(keys: dict[str, Ed25519FileSigner]) -> Ed25519FileSigner:
    return keys["mallory"]


@pytest.fixture
def trusted(ci: Ed25519FileSigner) -> list[PublicKey]:
    return [ci.public_key()]


class Files:
    def __init__(self, root: Path, signer: Ed25519FileSigner) -> None:
        self.anchor = FileAnchor(root / ".kiln" / "ledger-head.json")
        self.ledger = FileLedger(root / "ledger" / "kiln.jsonl", signer, [self.anchor])
        self.path = self.ledger.path

    def lines(self) -> list[bytes]:
        return self.path.read_bytes().splitlines(keepends=True)

    def write(self, lines: list[bytes]) -> None:
        self.path.write_bytes(b"".join(lines))

    def entries(self) -> list[Entry]:
        return list(self.ledger.entries())


def written(tmp_path: Path, signer: Ed25519FileSigner, count: int = 5) -> Files:
    files = Files(tmp_path, signer)
    for index in range(count):
        files.ledger.append("deploy", stack="dev", subject={"record": RECORD, "n": index},
                            commit=None, actor="ci")
    return files


def forged(previous: Entry, signer: Ed25519FileSigner | None = None, **changes: Any) -> Entry:
    entry = new_entry(previous, "deploy", stack="prod", subject={"record": RECORD},
                      commit=None, actor="ci", details=changes)
    return sign_entry(entry, signer) if signer else entry


def rechain(entries: list[Entry], index: int, edit: Callable[[Entry], Entry]) -> list[Entry]:
    """Edit entry ``index`` and recompute every later hash and link (signatures kept)."""
    out = entries[:index]
    for entry in entries[index:]:
        changed = edit(entry) if entry.seq == index else entry
        if out:
            changed = dataclasses.replace(changed, prev=out[-1].hash)
        out.append(dataclasses.replace(changed.sealed(), signature=entry.signature))
    return out


# --- what is caught, and where ---------------------------------------------------------------

def test_an_honest_ledger_verifies_with_its_anchor(tmp_path: Path, ci: Ed25519FileSigner,
                                                   trusted: list[PublicKey]) -> None:
    files = written(tmp_path, ci)
    found = files.ledger.check(trusted)
    assert (found.entries, found.head, found.signers) == (5, files.entries()[-1],
                                                          {"ledger-ci": 5})
    assert found.anchors == (f"anchor {files.anchor.name}: agrees at seq 4",)
    assert files.anchor.read() == checkpoint_of(files.entries()[-1], ci)  # Ed25519: same bytes


@pytest.mark.parametrize(("dropped", "missing"), [(1, "seq 4"), (2, "seq 3-4"), (5, "seq 0-4")])
def test_dropping_the_newest_entries_disagrees_with_the_anchor(
        tmp_path: Path, ci: Ed25519FileSigner, trusted: list[PublicKey], dropped: int,
        missing: str) -> None:
    files = written(tmp_path, ci)
    files.write(files.lines()[:-dropped])
    for check in (lambda: files.ledger.check(trusted), files.ledger.verify):
        with pytest.raises(LedgerError, match=(
                rf"^anchor file .*ledger-head\.json: head was seq 4 but the ledger ends at seq "
                rf"{4 - dropped}: entries {missing} are missing \(truncated\)$")):
            check()


def test_a_truncated_ledger_extended_again_is_a_rewritten_history(
        tmp_path: Path, ci: Ed25519FileSigner, trusted: list[PublicKey]) -> None:
    files = written(tmp_path, ci)
    files.write(files.lines()[:-1])
    files.ledger.append("deploy", stack="dev", subject={}, commit=None, actor="ci")
    with pytest.raises(LedgerError, match=r"^anchor file .*: entry seq 4 is not the one "
                                          r"anchored \(history rewritten\)$"):
        files.ledger.check(trusted)


@pytest.mark.parametrize(("who", "message"), [
    (None, r"^unsigned entries: seq 5 \(every entry must be signed"),
    ("mallory", r"^entry seq 5: signed by key 'mallory', which is not a trusted ledger key"),
    ("posing", r"^entry seq 5: signature by 'ledger-ci' does not verify \(entry forged"),
])
def test_a_forged_entry_with_a_correct_hash_is_caught_by_its_signature(
        tmp_path: Path, keys: dict[str, Ed25519FileSigner], trusted: list[PublicKey],
        who: str | None, message: str) -> None:
    files = written(tmp_path, keys["ledger-ci"])
    entry = forged(files.entries()[-1], keys["mallory"] if who else None, deployed="evil")
    if who == "posing":  # mallory's signature under the trusted key's name
        assert entry.signature is not None
        entry = entry.with_signature({**entry.signature, "key": "ledger-ci"})
    files.write([*files.lines(), entry.to_line()])
    files.ledger.verify()  # the chain alone is intact: only the signature tells
    with pytest.raises(LedgerError, match=message):
        files.ledger.check(trusted)


@pytest.mark.parametrize("resign", [False, True])
def test_a_middle_entry_edited_and_the_chain_recomputed_is_named(
        tmp_path: Path, ci: Ed25519FileSigner, mallory: Ed25519FileSigner,
        trusted: list[PublicKey], resign: bool) -> None:
    files = written(tmp_path, ci)
    entries = rechain(files.entries(), 2, lambda e: dataclasses.replace(e, stack="prod"))
    if resign:
        entries = [sign_entry(e, mallory) if e.seq >= 2 else e for e in entries]
    files.write([e.to_line() for e in entries])
    with pytest.raises(LedgerError, match=r"entry seq 4 is not the one anchored"):
        files.ledger.verify()  # without keys, the anchor still knows seq 4's hash
    message = (r"^entry seq 2: signed by key 'mallory'" if resign
               else r"^entry seq 2: signature by 'ledger-ci' does not verify")
    with pytest.raises(LedgerError, match=message):
        files.ledger.check(trusted)


def test_a_final_line_without_its_newline_is_kept(tmp_path: Path, ci: Ed25519FileSigner,
                                                  trusted: list[PublicKey]) -> None:
    files = written(tmp_path, ci)
    files.path.write_bytes(files.path.read_bytes()[:-1])
    assert files.ledger.check(trusted).entries == 5
    files.ledger.append("audit", stack=None, subject={}, commit=None, actor="ci")
    assert files.ledger.check(trusted).entries == 6


def test_a_forged_or_deleted_anchor_is_named(tmp_path: Path, ci: Ed25519FileSigner,
                                             mallory: Ed25519FileSigner,
                                             trusted: list[PublicKey]) -> None:
    files = written(tmp_path, ci)
    head = files.entries()[-1]
    files.anchor.path.write_text(json.dumps(checkpoint_of(head, mallory).to_json()))
    with pytest.raises(LedgerError, match=r"^anchor file .*: checkpoint of seq 4 is not signed "
                                          r"by a trusted ledger key \(forged\)$"):
        files.ledger.check(trusted)
    files.anchor.path.unlink()
    with pytest.raises(LedgerError, match=r"^anchor file .*: holds no checkpoint, but the "
                                          r"ledger has signed entries up to seq 4"):
        files.ledger.check(trusted)
    files.anchor.path.write_text("{")
    with pytest.raises(LedgerError, match=r"^anchor file .*: not JSON$"):
        files.ledger.check(trusted)


def test_what_the_file_anchor_cannot_catch(tmp_path: Path, ci: Ed25519FileSigner,
                                           trusted: list[PublicKey]) -> None:
    """Whoever writes both the ledger and its anchor can put back an older pair (docs say so)."""
    files = written(tmp_path, ci, 3)
    old_anchor, old_ledger = files.anchor.path.read_bytes(), files.path.read_bytes()
    files.ledger.append("rollback", stack="prod", subject={}, commit=None, actor="ci")
    files.anchor.path.write_bytes(old_anchor)
    files.path.write_bytes(old_ledger)
    assert files.ledger.check(trusted).entries == 3


def test_the_anchor_never_moves_back(tmp_path: Path, ci: Ed25519FileSigner) -> None:
    files = written(tmp_path, ci, 3)
    entries = files.entries()
    held = files.anchor.path.read_bytes()
    assert files.anchor.advance(checkpoint_of(entries[1], ci)) is False
    assert files.anchor.advance(checkpoint_of(entries[2], ci)) is False  # not sideways either
    assert files.anchor.path.read_bytes() == held


# --- unsigned histories and keys ----------------------------------------------------------

def test_an_unsigned_history_is_refused_unless_accepted_up_to_a_seq(
        tmp_path: Path, ci: Ed25519FileSigner, trusted: list[PublicKey],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KILN_SIGNING_KEY", raising=False)
    monkeypatch.delenv("KILN_LEDGER_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no default key file
    old = FileLedger(tmp_path / "ledger.jsonl")
    for _ in range(3):
        old.append("bake", stack=None, subject={}, commit=None, actor="old")
    assert all(e.signature is None for e in old.entries())
    signed = FileLedger(old.path, ci)
    signed.append("deploy", stack="dev", subject={}, commit=None, actor="ci")
    with pytest.raises(LedgerError, match=r"^unsigned entries: seq 0-2 \(every entry must be "
                                          r"signed; --allow-unsigned-before 3 accepts"):
        signed.check(trusted)
    assert signed.check(trusted, allow_unsigned_before=3).signers == {"ledger-ci": 1}
    old.append("deploy", stack="prod", subject={}, commit=None, actor="forger")
    with pytest.raises(LedgerError, match=r"^unsigned entries: seq 4 "):
        signed.check(trusted, allow_unsigned_before=3)


def test_without_trusted_keys_nothing_verifies(ci: Ed25519FileSigner) -> None:
    entry = sign_entry(new_entry(None, "bake", stack=None, subject={}, commit=None), ci)
    with pytest.raises(LedgerError, match=r"^no trusted ledger keys: declare kiln:ledgerKeys"):
        check_signatures([entry], [])


def test_unsigned_ranges_are_grouped(trusted: list[PublicKey]) -> None:
    entries: list[Entry] = []
    for _ in range(9):
        entries.append(new_entry(entries[-1] if entries else None, "audit", stack=None,
                                 subject={}, commit=None, actor="t"))
    with pytest.raises(LedgerError, match=r"unsigned entries: seq 2-8 "):
        check_signatures(entries, trusted, allow_unsigned_before=2)


def test_the_ledger_key_comes_from_the_environment(
        tmp_path: Path, ci: Ed25519FileSigner, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    key = tmp_path / "k.pem"
    generate_ed25519(key)
    monkeypatch.setenv("KILN_SIGNING_KEY", str(key))
    monkeypatch.delenv("KILN_LEDGER_KEY", raising=False)
    assert env_signer().key_id == "k"  # type: ignore[union-attr]
    monkeypatch.setenv("KILN_LEDGER_KEY", str(tmp_path / "gone.pem"))
    with pytest.raises(LedgerError, match=r"^ledger key .*gone\.pem: no such key file"):
        env_signer()
    with pytest.raises(LedgerError, match=r"ledger key .*gone\.pem: no such key file"):
        FileLedger(tmp_path / "l.jsonl").append("bake", stack=None, subject={}, commit=None)
    assert not (tmp_path / "l.jsonl").exists()
    monkeypatch.setenv("KILN_LEDGER_KEY", "kms:alias/ledger")
    monkeypatch.setattr(ledger_trust, "_OPENERS", {})
    with pytest.raises(LedgerError, match=r"^ledger key kms:alias/ledger: KMS signing is not"):
        env_signer()
    monkeypatch.delenv("KILN_LEDGER_KEY")
    monkeypatch.delenv("KILN_SIGNING_KEY")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with caplog.at_level(logging.WARNING):
        assert env_signer() is None
    assert "writing an unsigned entry" in caplog.text


def _project(tmp_path: Path, value: Any) -> Project:
    return Project(tmp_path, "kiln", tmp_path, tmp_path, values={"kiln:ledgerKeys": value})


def test_ledger_keys_come_from_project_config(tmp_path: Path, ci: Ed25519FileSigner) -> None:
    public = ci.public_key()
    project = _project(tmp_path, [{"id": "ledger-ci", "type": "ed25519",
                                   "publicKey": public.pem}])
    assert ledger_keys(project) == [public]
    assert ledger_keys(Project(tmp_path, "kiln", tmp_path, tmp_path)) == []
    with pytest.raises(ValueError, match=r"^kiln:ledgerKeys\[0\]\.publicKey: "):
        ledger_keys(_project(tmp_path, [{"id": "a", "type": "ed25519", "publicKey": "x"}]))
    with pytest.raises(ValueError, match=r"^kiln:ledgerKeys: .* is not allowed"):
        ledger_keys(_project(tmp_path, "ledger-ci"))


# --- checkpoints --------------------------------------------------------------------------

def _checkpoint(seq: int) -> Checkpoint:
    return Checkpoint(seq, "sha256:" + "b" * 64, "t", "k", "c2ln")


@given(st.none() | st.integers(0, 100).map(_checkpoint), st.integers(0, 100))
def test_an_anchor_moves_only_to_a_higher_seq(current: Checkpoint | None, seq: int) -> None:
    assert moves_forward(current, _checkpoint(seq)) == (current is None or seq > current.seq)


@pytest.mark.parametrize("change", [
    {"seq": "4"}, {"seq": -1}, {"seq": True}, {"hash": "sha256:x"}, {"key": 1},
    {"signature": None}, {"at": 0},
])
def test_parse_checkpoint_refuses_wrong_types(change: dict[str, Any]) -> None:
    data = {**_checkpoint(4).to_json(), **change}
    with pytest.raises(LedgerError, match=r"^here: not a ledger checkpoint \(a field"):
        parse_checkpoint(data, "here")
    with pytest.raises(LedgerError, match=r"fields differ"):
        parse_checkpoint({**data, "extra": 1}, "here")
    assert parse_checkpoint(_checkpoint(4).to_json(), "here") == _checkpoint(4)
