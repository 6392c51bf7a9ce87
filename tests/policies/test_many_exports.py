"""`kiln audit --export` as a command: several exports (or a directory) in one run, one report
set per stack and a summary; --analyzer gives the same report; bad input is exit 2 with one
line and nothing written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.policies import auditkit as ak
from tests.policies import generated as gen

pytestmark = pytest.mark.integration

KILN = Path(sys.executable).parent / "kiln"


@pytest.fixture
def project(project_copy: Path) -> Path:
    shutil.copytree(ak.PACK, project_copy / "policies" / "immutable",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return project_copy


def kiln(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KILN_PROJECT_DIR": str(project)}
    return subprocess.run([str(KILN), "audit", *args], capture_output=True, text=True,
                          env=env, cwd=project, timeout=300, check=False)


def exports(directory: Path) -> Path:
    directory.mkdir()
    gen.write_export(ak.stack_source("dev"), directory / "dev.json")
    gen.write_export(ak.bad_source("prod"), directory / "prod.json")
    return directory


def test_a_directory_of_exports_gives_one_report_set_per_stack_and_a_summary(project, tmp_path):
    out = tmp_path / "out"
    done = kiln(project, "--export", str(exports(tmp_path / "exports")), "--out", str(out))
    assert done.returncode == 1, done.stderr  # prod is broken, dev is clean
    for stack in ("dev", "prod"):
        for suffix in ("json", "sarif", "xml", "html"):
            assert (out / f"audit-{stack}.{suffix}").is_file()
    summary = json.loads((out / "audit-summary.json").read_text())
    by_stack = {s["stack"]: s for s in summary["stacks"]}
    assert summary["exitCode"] == 1 and set(by_stack) == {"dev", "prod"}
    assert by_stack["dev"]["exitCode"] == 0 and by_stack["dev"]["mandatory"] == 0
    assert by_stack["prod"]["mandatory"] == len(ak.BAD)
    prod = json.loads((out / "audit-prod.json").read_text())
    assert {(f["rule"], f["name"]) for f in prod["findings"]} == ak.BAD


def test_repeated_exports_are_the_same_as_a_directory(project, tmp_path):
    directory = exports(tmp_path / "exports")
    out = tmp_path / "out"
    done = kiln(project, "--export", str(directory / "prod.json"), "--export",
                str(directory / "dev.json"), "--out", str(out), "--json")
    assert done.returncode == 1, done.stderr
    assert {s["stack"] for s in json.loads(done.stdout)["stacks"]} == {"dev", "prod"}


def test_two_exports_of_one_stack_are_refused_and_nothing_is_written(project, tmp_path):
    directory = exports(tmp_path / "exports")
    shutil.copy(directory / "prod.json", directory / "prod-again.json")
    out = tmp_path / "out"
    done = kiln(project, "--export", str(directory), "--out", str(out))
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "'prod'" in done.stderr
    assert not out.exists()


def test_a_broken_export_among_many_is_refused_and_nothing_is_written(project, tmp_path):
    directory = exports(tmp_path / "exports")
    (directory / "zz.json").write_text("{not json")
    out = tmp_path / "out"
    done = kiln(project, "--export", str(directory), "--out", str(out))
    assert done.returncode == 2 and "zz.json" in done.stderr
    assert not out.exists()


def test_the_analyzer_path_writes_the_same_report(project, tmp_path):
    path = gen.write_export(ak.bad_source("prod"), tmp_path / "prod.json")
    reports = []
    for flag in ((), ("--analyzer",)):
        done = kiln(project, "--export", str(path), "--out", str(tmp_path / "out"), "--json",
                    *flag)
        assert done.returncode == 1, done.stderr
        report = json.loads(done.stdout)
        reports.append({k: report[k] for k in ("findings", "counts", "rules", "passed")})
    assert reports[0] == reports[1]


@pytest.mark.parametrize("flag", [(), ("--analyzer",)], ids=["in-process", "analyzer"])
def test_a_bad_trusted_key_entry_is_exit_2_in_both_paths(project, tmp_path, flag):
    config_file = project / "policies" / "immutable" / "config" / "prod.json"
    config = json.loads(config_file.read_text())
    config["kiln-ec2-launchtemplate-signed-image"]["trustedKeys"][0].pop("publicKey")
    config_file.write_text(json.dumps(config))
    path = gen.write_export(ak.stack_source("prod"), tmp_path / "prod.json")
    done = kiln(project, "--export", str(path), "--out", str(tmp_path / "out"), *flag)
    assert done.returncode == 2, done.stdout
    assert "trustedKeys[0]: 'publicKey' is a required property" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
