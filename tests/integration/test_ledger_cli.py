"""`kiln ledger verify` and `kiln ledger repair` as a process, on the file backend: trusted
keys from Pulumi.yaml, one line naming what broke and where, exit 2, nothing half-written."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from kiln.ops.context import open_context
from kiln.project.stackfiles import load_project
from kiln.release.chain import new_entry
from kiln.release.ledger import FileLedger
from kiln.release.signing import generate_ed25519

from .opsutil import run_kiln

pytestmark = pytest.mark.integration


@pytest.fixture
def project(project_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project copy, a ledger key in the environment and trusted in Pulumi.yaml."""
    key = tmp_path / "keys" / "ledger-ci.pem"
    key.parent.mkdir()
    public = generate_ed25519(key)
    monkeypatch.setenv("KILN_LEDGER_KEY", str(key))
    monkeypatch.setenv("KILN_ACTOR", "ci")
    project_file = project_copy / "Pulumi.yaml"
    yaml = YAML()
    declared = yaml.load(project_file.read_text(encoding="utf-8"))
    declared["config"]["kiln:ledgerKeys"]["default"] = [
        {"id": "ledger-ci", "type": "ed25519", "publicKey": public.pem}]
    with open(project_file, "w", encoding="utf-8") as handle:
        yaml.dump(declared, handle)
    return project_copy


def ledger_of(root: Path) -> FileLedger:
    ledger = open_context(load_project(root)).ledger
    assert isinstance(ledger, FileLedger)
    return ledger


def fill(root: Path, count: int = 4) -> FileLedger:
    ledger = ledger_of(root)
    for index in range(count):
        ledger.append("deploy", stack="dev", subject={"n": index}, commit=None)
    return ledger


def one_line_error(result: Any, pattern: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert re.search(pattern, result.stderr), result.stderr


def test_verify_names_signers_anchor_and_chain(project: Path) -> None:
    fill(project)
    result = run_kiln("ledger", "verify")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"anchor file {project}/.kiln/ledger-head.json: agrees at seq 3",
        "ledger ok: 4 entries signed by ledger-ci (4), hash chain intact"]
    data = json.loads(run_kiln("ledger", "verify", "--json").stdout)
    assert (data["ok"], data["entries"], data["head"]["seq"], data["signers"]) == \
        (True, 4, 3, {"ledger-ci": 4})


def test_verify_fails_on_a_dropped_entry_naming_the_anchor(project: Path) -> None:
    ledger = fill(project)
    lines = ledger.path.read_bytes().splitlines(keepends=True)
    ledger.path.write_bytes(b"".join(lines[:-1]))
    one_line_error(run_kiln("ledger", "verify"),
                   r"^kiln: error: anchor file .*ledger-head\.json: head was seq 3 but the "
                   r"ledger ends at seq 2: entries seq 3 are missing \(truncated\)$")


def test_verify_without_trusted_keys_refuses(project_copy: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    generate_ed25519(key)
    monkeypatch.setenv("KILN_LEDGER_KEY", str(key))
    fill(project_copy, 1)
    one_line_error(run_kiln("ledger", "verify"),
                   r"^kiln: error: no trusted ledger keys: declare kiln:ledgerKeys")
    result = run_kiln("ledger", "verify", "--key", str(key.with_suffix(".pub")))
    assert result.returncode == 0 and "signed by k (1)" in result.stdout, result.stderr


def test_unsigned_history_needs_an_explicit_boundary(project: Path) -> None:
    # a history written before entries were signed
    first = new_entry(None, "bake", stack=None, subject={}, commit=None)
    second = new_entry(first, "sign", stack=None, subject={}, commit=None)
    path = project / "ledger" / "kiln.jsonl"
    path.parent.mkdir()
    path.write_bytes(first.to_line() + second.to_line())
    fill(project, 1)
    one_line_error(run_kiln("ledger", "verify"),
                   r"unsigned entries: seq 0-1 .*--allow-unsigned-before 2")
    result = run_kiln("ledger", "verify", "--allow-unsigned-before", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("2 older unsigned accepted, hash chain intact")
    one_line_error(run_kiln("ledger", "verify", "--allow-unsigned-before", "-1"),
                   r"--allow-unsigned-before -1: expected a seq")


def test_a_torn_line_is_reported_until_repair_removes_it(project: Path) -> None:
    ledger = fill(project, 2)
    intact = ledger.path.read_bytes()
    ledger.path.write_bytes(intact + b'{"action":"dep')
    for verb in (("ledger", "verify"), ("ledger", "show")):
        one_line_error(run_kiln(*verb), r"kiln\.jsonl:3: torn final line \(14 bytes, not a "
                                        r"complete entry\); `kiln ledger repair` removes it$")
    assert ledger.path.read_bytes() == intact + b'{"action":"dep'
    result = run_kiln("ledger", "repair")
    assert result.returncode == 0, result.stderr
    assert "removed a torn final line 3 (14 bytes, sha256:" in result.stdout
    assert ledger.path.read_bytes().startswith(intact)
    verified = run_kiln("ledger", "verify")
    assert verified.returncode == 0 and "3 entries signed by ledger-ci (3)" in verified.stdout
    again = run_kiln("ledger", "repair", "--json")
    assert json.loads(again.stdout) == {"repaired": None}


def test_a_missing_final_newline_is_kept(project: Path) -> None:
    ledger = fill(project, 2)
    ledger.path.write_bytes(ledger.path.read_bytes()[:-1])
    result = run_kiln("ledger", "verify")
    assert result.returncode == 0 and "2 entries" in result.stdout, result.stderr
