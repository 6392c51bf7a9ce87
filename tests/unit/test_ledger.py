"""The hash-chained ledger (kiln.release.ledger): entries, the chain, the file backend."""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiln.release.ledger import (
    ACTIONS,
    FIELDS,
    GENESIS,
    Entry,
    FileLedger,
    LedgerError,
    Repair,
    default_actor,
    new_entry,
    now,
    parse_entry,
    verify_chain,
)
from kiln.release.record import canonical, digest_of
from kiln.release.signing import generate_ed25519

PROPERTY = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
FILE_PROPERTY = settings(PROPERTY, max_examples=50)  # each example fsyncs its appends
RECORD = "sha256:" + "a" * 64
_dirs = itertools.count()


@pytest.fixture(scope="session")
def ledger_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "ledger-test.pem"
    generate_ed25519(path)
    return path


@pytest.fixture(autouse=True)
def _ledger_key(monkeypatch: pytest.MonkeyPatch, ledger_key_file: Path) -> None:
    """Appends sign with a test key, whatever keys this machine has."""
    monkeypatch.setenv("KILN_LEDGER_KEY", str(ledger_key_file))


def fresh(tmp_path: Path) -> FileLedger:
    """A ledger file of its own (hypothesis reuses tmp_path across examples)."""
    return FileLedger(tmp_path / f"run-{next(_dirs)}" / "ledger" / "ledger.jsonl")


def append(ledger: FileLedger, action: str = "deploy", **changes: Any) -> Entry:
    fields: dict[str, Any] = {"stack": "dev", "subject": {"record": RECORD},
                              "commit": "c" * 40, "details": {}, "actor": "test"}
    fields.update(changes)
    return ledger.append(action, **fields)


def chain(length: int) -> list[Entry]:
    entries: list[Entry] = []
    for index in range(length):
        entries.append(new_entry(entries[-1] if entries else None,
                                 ACTIONS[index % len(ACTIONS)], stack="dev",
                                 subject={"record": RECORD, "n": index}, commit=None,
                                 actor="test"))
    return entries


# --- entries ------------------------------------------------------------------------------

def test_the_first_entry_follows_genesis_and_seals_its_body() -> None:
    entry = new_entry(None, "bake", stack=None, subject={"image": "ami-1"}, commit=None,
                      actor="ci")
    assert (entry.seq, entry.prev, entry.actor, entry.details) == (0, GENESIS, "ci", {})
    assert entry.hash == digest_of(canonical(entry.body()))
    assert set(entry.body()) == set(FIELDS) and "hash" not in entry.body()
    assert entry.signature is None and "signature" not in entry.to_json()
    assert entry.to_line() == canonical(entry.to_json()) + b"\n"


def test_an_entry_follows_the_one_before() -> None:
    first, second = chain(2)
    assert second.seq == first.seq + 1 and second.prev == first.hash
    assert second.hash != first.hash


def test_an_entry_keeps_its_own_copy_of_subject_and_details() -> None:
    subject: dict[str, Any] = {"record": RECORD}
    details: dict[str, Any] = {"reason": "x"}
    entry = new_entry(None, "revoke", stack=None, subject=subject, commit=None,
                      details=details, actor="t")
    subject["record"] = "changed"
    details["reason"] = "changed"
    assert verify_chain([entry]) == 1


@pytest.mark.parametrize("action", ["", "Deploy", "deploy ", "de ploy", "x" * 33, "dé", 7,
                                    None, "-deploy", "deploy\n"])
def test_actions_of_the_wrong_shape_are_refused(action: Any) -> None:
    with pytest.raises(LedgerError, match=r"ledger action .* is not allowed; expected a "
                                          r"lowercase word"):
        new_entry(None, action, stack=None, subject={}, commit=None, actor="t")


@pytest.mark.parametrize("action", [*ACTIONS, "served", "staged", "traffic", "repair",
                                    "rollback-2", "x" * 32])
def test_any_action_of_the_right_shape_is_accepted(action: str) -> None:
    entry = new_entry(None, action, stack=None, subject={}, commit=None, actor="t")
    assert entry.action == action and verify_chain([entry]) == 1


def test_default_actor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KILN_ACTOR", "ci-runner-7")
    assert default_actor() == "ci-runner-7"
    entry = new_entry(None, "audit", stack=None, subject={}, commit=None)
    assert entry.actor == "ci-runner-7"
    monkeypatch.delenv("KILN_ACTOR")
    assert re.fullmatch(r"[^@]+@[^@]+", default_actor())


def test_timestamps_are_utc_milliseconds() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", now())


def _entry_json() -> dict[str, Any]:
    return dataclasses.asdict(chain(1)[0])


@pytest.mark.parametrize(("data", "message"), [
    ([], "fields differ"),
    ("entry", "fields differ"),
    ({k: v for k, v in _entry_json().items() if k != "actor"}, "fields differ"),
    ({**_entry_json(), "sig": "x"}, "fields differ"),
    ({**_entry_json(), "signature": {"key": "k", "value": "v"}, "extra": 1}, "fields differ"),
])
def test_parse_entry_refuses_what_is_not_an_entry(data: Any, message: str) -> None:
    with pytest.raises(LedgerError, match=rf"^here: not a ledger entry \({message}\)"):
        parse_entry(data, "here")


def test_parse_entry_round_trips() -> None:
    entry = chain(1)[0]
    assert parse_entry(json.loads(entry.to_line()), "here") == entry


@pytest.mark.parametrize(("field", "value"), [
    ("subject", ["not", "an", "object"]), ("subject", None), ("subject", "ami-1"),
    ("details", []), ("details", None), ("seq", "0"), ("seq", 0.0), ("seq", True),
    ("seq", -1), ("prev", None), ("prev", "sha256:xyz"), ("hash", 1), ("at", None),
    ("actor", ["a"]), ("action", "Deploy"), ("action", 1), ("stack", 1), ("stack", {}),
    ("commit", 1), ("signature", "x"), ("signature", None), ("signature", {"key": "k"}),
    ("signature", {"key": "k", "value": 1}),
])
def test_parse_entry_refuses_fields_of_the_wrong_type(field: str, value: Any) -> None:
    data = {**_entry_json(), field: value}
    with pytest.raises(LedgerError, match=rf"^here: not a ledger entry \({field} has the "
                                          "wrong type"):
        parse_entry(data, "here")


def test_parse_entry_accepts_a_signed_entry() -> None:
    signed = chain(1)[0].with_signature({"key": "ci", "value": "c2ln"})
    assert parse_entry(json.loads(signed.to_line()), "here") == signed


# --- the chain ----------------------------------------------------------------------------

def test_an_empty_chain_verifies() -> None:
    assert verify_chain([]) == 0


def _edit(entry: Entry, reseal: bool = False, **changes: Any) -> Entry:
    edited = dataclasses.replace(entry, **changes)
    return edited.sealed() if reseal else edited


@pytest.mark.parametrize(("tamper", "message"), [
    (lambda c: [c[0], c[2], c[3]], "entry seq 2: expected seq 1"),  # dropped
    (lambda c: [c[0], c[2], c[1], c[3]], "entry seq 2: expected seq 1"),  # reordered
    (lambda c: [c[1], c[2], c[3]], "entry seq 1: expected seq 0"),  # head dropped
    (lambda c: [c[0], c[1], c[1], c[2]], "entry seq 1: expected seq 2"),  # duplicated
    (lambda c: [c[0], _edit(c[1], details={"x": 1}), c[2]], "entry seq 1: hash does not"),
    (lambda c: [c[0], _edit(c[1], actor="mallory"), c[2]], "entry seq 1: hash does not"),
    # an edit resealed by whoever edited it breaks the link from the next entry
    (lambda c: [c[0], _edit(c[1], True, actor="mallory"), c[2]], "entry seq 2: prev does"),
    (lambda c: [_edit(c[0], True, prev="sha256:" + "1" * 64)], "entry seq 0: prev does"),
    (lambda c: [c[0], _edit(c[1], True, action="Destroy!")], "entry seq 1: action "),
])
def test_verify_chain_says_where_it_breaks(tamper: Any, message: str) -> None:
    with pytest.raises(LedgerError, match=rf"^{message}"):
        verify_chain(tamper(chain(4)))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                   max_size=3),
    max_leaves=8)
objects = st.dictionaries(st.text(max_size=8), json_values, max_size=4)
operations = st.lists(st.tuples(st.sampled_from(ACTIONS),
                                st.none() | st.sampled_from(["dev", "staging", "prod"]),
                                objects, objects), max_size=8)


def build(ops: list[tuple[str, str | None, dict[str, Any], dict[str, Any]]]) -> list[Entry]:
    entries: list[Entry] = []
    for action, stack, subject, details in ops:
        entries.append(new_entry(entries[-1] if entries else None, action, stack=stack,
                                 subject=subject, commit=None, details=details, actor="t"))
    return entries


@PROPERTY
@given(operations)
def test_verify_chain_accepts_every_chain_new_entry_builds(ops: list[Any]) -> None:
    entries = build(ops)
    assert verify_chain(entries) == len(entries)
    assert [e.seq for e in entries] == list(range(len(entries)))


@PROPERTY
@given(operations.filter(lambda ops: len(ops) >= 2), st.data())
def test_dropping_or_swapping_any_but_the_last_entry_is_detected(ops: list[Any],
                                                                 data: st.DataObject) -> None:
    entries = build(ops)
    index = data.draw(st.integers(0, len(entries) - 2))
    dropped = entries[:index] + entries[index + 1:]
    swapped = [*entries]
    swapped[index], swapped[index + 1] = swapped[index + 1], swapped[index]
    for broken in (dropped, swapped):
        with pytest.raises(LedgerError):
            verify_chain(broken)


@PROPERTY
@given(operations.filter(bool), st.data(), json_values)
def test_editing_any_entry_is_detected_resealed_or_not(ops: list[Any], data: st.DataObject,
                                                       value: Any) -> None:
    entries = build(ops)
    index = data.draw(st.integers(0, len(entries) - 1))
    target = entries[index]
    edited = _edit(target, details={**target.details, "tampered": value})
    assert edited != target
    with pytest.raises(LedgerError, match="hash does not match"):
        verify_chain([*entries[:index], edited, *entries[index + 1:]])
    if index < len(entries) - 1:
        resealed = edited.sealed()
        with pytest.raises(LedgerError, match="prev does not match"):
            verify_chain([*entries[:index], resealed, *entries[index + 1:]])


# --- the file backend ---------------------------------------------------------------------

def test_a_missing_file_is_an_empty_ledger(tmp_path: Path) -> None:
    ledger = FileLedger(tmp_path / "none.jsonl")
    assert list(ledger.entries()) == [] and ledger.verify() == 0
    assert not ledger.path.exists()


def test_append_writes_canonical_lines_that_read_back(tmp_path: Path) -> None:
    ledger = FileLedger(tmp_path / "deep" / "dir" / "ledger.jsonl")
    written = [append(ledger, "bake", stack=None), append(ledger, "deploy"),
               append(ledger, "rollback", details={"from": {"record": RECORD}})]
    assert list(ledger.entries()) == written and ledger.verify() == 3
    lines = ledger.path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and [line + b"\n" for line in lines[:-1]] == \
        [e.to_line() for e in written]
    # a second handle on the same file continues the same chain
    again = append(FileLedger(ledger.path), "audit")
    assert again.seq == 3 and again.prev == written[-1].hash


def test_append_uses_the_default_actor(tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KILN_ACTOR", "pipeline")
    ledger = FileLedger(tmp_path / "l.jsonl")
    entry = ledger.append("audit", stack=None, subject={}, commit=None)
    assert entry.actor == "pipeline" and next(ledger.entries()).actor == "pipeline"


def test_an_action_of_the_wrong_shape_appends_nothing(tmp_path: Path) -> None:
    ledger = FileLedger(tmp_path / "l.jsonl")
    append(ledger)
    before = ledger.path.read_bytes()
    with pytest.raises(LedgerError, match="ledger action 'Destroy!' is not allowed"):
        append(ledger, "Destroy!")
    assert ledger.path.read_bytes() == before


def test_a_torn_last_line_is_reported_and_removed_only_by_repair(tmp_path: Path) -> None:
    ledger = FileLedger(tmp_path / "l.jsonl")
    first, second = append(ledger), append(ledger)
    intact = ledger.path.read_bytes()
    torn = new_entry(second, "deploy", stack="dev", subject={}, commit=None,
                     actor="t").to_line()[:40]
    ledger.path.write_bytes(intact + torn)
    message = (r"l\.jsonl:3: torn final line \(40 bytes, not a complete entry\); "
               r"`kiln ledger repair` removes it")
    with pytest.raises(LedgerError, match=message):
        ledger.verify()
    with pytest.raises(LedgerError, match=message):
        append(ledger, "promote")  # never silently dropped by a writer
    assert ledger.path.read_bytes() == intact + torn
    done = ledger.repair()
    assert done == Repair(line=3, removed=40, digest=digest_of(torn))
    entries = list(ledger.entries())
    assert entries[:2] == [first, second] and ledger.verify() == 3
    assert entries[2].action == "repair" and entries[2].details == {
        "line": 3, "removedBytes": 40, "removedSha256": digest_of(torn)}
    assert ledger.path.read_bytes().startswith(intact) and ledger.repair() is None


def test_a_complete_final_entry_without_its_newline_is_kept(tmp_path: Path) -> None:
    ledger = FileLedger(tmp_path / "l.jsonl")
    append(ledger)
    append(ledger)
    ledger.path.write_bytes(ledger.path.read_bytes()[:-1])  # lose only the final newline
    seen = list(ledger.entries())
    assert ledger.verify() == 2
    third = append(ledger)
    assert list(ledger.entries()) == [*seen, third] and ledger.verify() == 3
    assert ledger.path.read_bytes().endswith(b"}\n" + third.to_line())


def test_repair_ends_a_complete_final_entry_and_records_nothing(tmp_path: Path) -> None:
    ledger = FileLedger(tmp_path / "l.jsonl")
    append(ledger)
    whole = ledger.path.read_bytes()
    ledger.path.write_bytes(whole[:-1])
    assert ledger.repair() == Repair(line=1, removed=0, digest=digest_of(b""))
    assert ledger.path.read_bytes() == whole and ledger.repair() is None


@pytest.mark.parametrize(("tail", "message"), [
    # complete JSON is no torn write: an edited final entry is reported as what it is
    (lambda line: line.replace(b'"actor":"test"', b'"actor": "test"'), "not canonical JSON"),
    (lambda line: b"[]", "not a ledger entry"),
])
def test_a_final_line_that_is_complete_json_is_never_torn(tmp_path: Path, tail: Any,
                                                           message: str) -> None:
    ledger = FileLedger(tmp_path / "l.jsonl")
    append(ledger)
    last = append(ledger).to_line()
    data = ledger.path.read_bytes()
    broken = data[:-len(last)] + tail(last.rstrip(b"\n"))
    ledger.path.write_bytes(broken)
    for attempt in (ledger.verify, ledger.repair):
        with pytest.raises(LedgerError, match=rf"l\.jsonl:2: .*{message}"):
            attempt()
    assert ledger.path.read_bytes() == broken


def test_repair_mends_only_the_tail(tmp_path: Path) -> None:
    ledger = FileLedger(tmp_path / "l.jsonl")
    append(ledger)
    broken = b"garbage\n" + ledger.path.read_bytes() + b'{"seq'
    ledger.path.write_bytes(broken)
    with pytest.raises(LedgerError, match=r"l\.jsonl:1: not JSON"):
        ledger.repair()
    assert ledger.path.read_bytes() == broken
    assert FileLedger(tmp_path / "none.jsonl").repair() is None


@pytest.mark.parametrize(("edit", "message"), [
    # a value changed in place, the line still canonical JSON
    (lambda line: line.replace(b'"actor":"test"', b'"actor":"evil"'), "hash does not match"),
    # reformatted: the same entry, no longer canonical
    (lambda line: line.replace(b'"actor":"test"', b'"actor": "test"'), "not canonical JSON"),
    (lambda line: line[:-5], "not JSON"),
    (lambda line: b"[]", "not a ledger entry"),
])
def test_a_tampered_file_line_is_detected_and_located(tmp_path: Path, edit: Any,
                                                      message: str) -> None:
    ledger = FileLedger(tmp_path / "l.jsonl")
    for _ in range(3):
        append(ledger)
    lines = ledger.path.read_bytes().split(b"\n")
    lines[1] = edit(lines[1])
    ledger.path.write_bytes(b"\n".join(lines))
    with pytest.raises(LedgerError, match=message) as raised:
        ledger.verify()
    if message != "hash does not match":
        assert "l.jsonl:2:" in str(raised.value)
    else:
        assert "entry seq 1" in str(raised.value)


def test_append_refuses_to_extend_an_unreadable_ledger(tmp_path: Path) -> None:
    ledger = FileLedger(tmp_path / "l.jsonl")
    append(ledger)
    ledger.path.write_bytes(ledger.path.read_bytes() + b"garbage\n")
    before = ledger.path.read_bytes()
    with pytest.raises(LedgerError, match="not JSON"):
        append(ledger)
    assert ledger.path.read_bytes() == before


def test_blank_lines_are_skipped_but_count_for_locations(tmp_path: Path) -> None:
    ledger = FileLedger(tmp_path / "l.jsonl")
    entry = append(ledger)
    ledger.path.write_bytes(b"\n" + entry.to_line() + b"\n{\n")
    with pytest.raises(LedgerError, match=r"l\.jsonl:4: not JSON"):
        ledger.verify()
    ledger.path.write_bytes(b"\n" + entry.to_line() + b"  \n")
    assert ledger.verify() == 1


@FILE_PROPERTY
@given(operations)
def test_the_file_verifies_every_chain_it_wrote(tmp_path: Path, ops: list[Any]) -> None:
    ledger = fresh(tmp_path)
    written = [ledger.append(action, stack=stack, subject=subject, commit=None,
                             details=details, actor="t")
               for action, stack, subject, details in ops]
    assert ledger.verify() == len(written)
    assert list(ledger.entries()) == written
    assert [e.seq for e in written] == list(range(len(written)))
    assert all(b.prev == a.hash for a, b in itertools.pairwise(written))


@FILE_PROPERTY
@given(operations.filter(bool), st.data())
def test_a_torn_tail_at_any_byte_is_reported_then_repaired(
        tmp_path: Path, ops: list[Any], data: st.DataObject) -> None:
    ledger = fresh(tmp_path)
    for action, stack, subject, details in ops:
        ledger.append(action, stack=stack, subject=subject, commit=None, details=details,
                      actor="t")
    kept = list(ledger.entries())
    tail = new_entry(kept[-1], "audit", stack=None, subject={}, commit=None,
                     actor="t").to_line()
    cut = data.draw(st.integers(1, len(tail) - 2))  # at least one byte, never whole
    with open(ledger.path, "ab") as handle:
        handle.write(tail[:cut])
    with pytest.raises(LedgerError, match=rf":{len(kept) + 1}: torn final line \({cut} "):
        ledger.append("audit", stack=None, subject={}, commit=None, actor="t")
    assert ledger.repair() == Repair(len(kept) + 1, cut, digest_of(tail[:cut]))
    entry = ledger.append("audit", stack=None, subject={}, commit=None, actor="t")
    assert entry.seq == len(kept) + 1 and ledger.verify() == len(kept) + 2
    assert list(ledger.entries())[:len(kept)] == kept
