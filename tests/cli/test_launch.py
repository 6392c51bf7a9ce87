"""The entry point's head start: `kiln audit --export` starts the pack before the CLI loads,
and the audit takes it over only when it would have started the very same one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiln.audit import process
from kiln.audit import stacks as audit
from kiln.cli import launch
from tests.cli.test_audit import packs_started_for
from tests.policies import auditkit as ak

pytestmark = pytest.mark.integration

BAD_FINDINGS = 4  # ak.bad_source: key pair, SSH rule, patched user data, unsigned image


@pytest.fixture
def project(project_copy):
    (project_copy / "policies").symlink_to(ak.ROOT / "policies")
    return project_copy


@pytest.fixture
def export(tmp_path):
    path = tmp_path / "prod-export.json"
    path.write_text(json.dumps(ak.export_document(ak.bad_source("prod"))))
    return path


@pytest.fixture
def starts(monkeypatch):
    """Every pack process started, in order."""
    started: list[process.PackProcess] = []
    real = process.PackProcess.__init__

    def spy(self, launched):
        real(self, launched)
        started.append(self)

    monkeypatch.setattr(process.PackProcess, "__init__", spy)
    yield started
    for pack in started:
        pack.stop()


@pytest.mark.parametrize(("argv", "expected"), [
    (["--export", "e.json", "--stack", "prod"], "prod"),
    (["--stack=prod", "--export", "e.json"], "prod"),
    (["--stack", "dev", "--stack", "prod"], "prod"),  # the last one wins, as in the CLI
    (["--stack"], None),
    (["--", "--stack", "prod"], None),
    (["prod"], None),
])
def test_options_are_read_from_raw_arguments(argv, expected):
    assert launch.option(argv, "--stack") == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("name: kiln\nruntime: python\n", "kiln"),
    ("runtime: python\nname: 'kiln-prod'  # the project\n", "kiln-prod"),
    ("runtime: python\n", None),
    ("  name: nested\n", None),
])
def test_the_project_name_is_read_from_pulumi_yaml(tmp_path, text, expected):
    (tmp_path / "Pulumi.yaml").write_text(text)
    assert launch.project_name(str(tmp_path)) == expected


def test_the_audit_takes_over_the_pack_started_early(project, export, starts):
    launch.start_audit_pack(["--export", str(export), "--stack", "prod", "--json"])
    assert len(starts) == 1
    report = audit.audit_export(export, "prod")
    assert len(starts) == 1, "the audit started a second pack"
    assert report.counts()["failed"] == BAD_FINDINGS
    assert starts[0].popen.poll() is not None  # stopped with the audit


def test_a_pack_started_differently_is_stopped_and_replaced(project, export, starts, tmp_path):
    """Started for other waivers than the audit uses: the guess is thrown away."""
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("waivers: []\n")
    launch.start_audit_pack(["--export", str(export), "--stack", "prod",
                             "--waivers", str(waivers)])
    report = audit.audit_export(export, "prod")
    assert len(starts) == 2
    assert starts[0].popen.poll() is not None
    assert starts[0].launch[4] == str(waivers.resolve()) and starts[1].launch[4] == ""
    assert report.counts()["failed"] == BAD_FINDINGS


@pytest.mark.parametrize("argv", [
    ["prod"],                                         # a program audit: nothing to read early
    ["--export", "missing.json", "--stack", "prod"],  # no such export
    ["--export"],                                     # no value
])
def test_nothing_is_started_without_an_export_to_audit(project, starts, argv):
    launch.start_audit_pack(argv)
    assert starts == []


def test_nothing_is_started_outside_a_project(tmp_path, export, starts, monkeypatch):
    monkeypatch.delenv("KILN_PROJECT_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    launch.start_audit_pack(["--export", str(export), "--stack", "prod"])
    assert starts == []


def test_a_pack_started_for_a_failing_command_is_stopped(project, export, tmp_path):
    """The console script starts the pack, then the CLI rejects an argument: exit 2 with
    one line, and the pack's process is gone."""
    kiln = Path(sys.executable).with_name("kiln")
    done = subprocess.run([str(kiln), "audit", "--export", str(export), "--stack", "prod",
                           "--format", "pdf", "--out", str(tmp_path / "out")],
                          env=dict(os.environ), capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["kiln: error: unknown report format 'pdf'; "
                                                "choose from json, sarif, junit, html"]
    assert not (tmp_path / "out").exists()
    assert packs_started_for(project) == []


def test_a_pack_started_early_that_fails_is_reported_in_one_line(project, export, tmp_path):
    """The early pack refuses a broken waiver file: the audit that takes it over reports why,
    exits 2, writes nothing and leaves no process behind."""
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("waivers:\n  - rule: kiln-ec2-keypair-disallowed\n    resource: '*'\n")
    kiln = Path(sys.executable).with_name("kiln")
    done = subprocess.run([str(kiln), "audit", "--export", str(export), "--stack", "prod",
                           "--waivers", str(waivers), "--out", str(tmp_path / "out")],
                          env=dict(os.environ), capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("kiln: error: the policy pack failed to start") and \
        "waivers[0].stack is missing" in line
    assert not (tmp_path / "out").exists()
    assert packs_started_for(project) == []
