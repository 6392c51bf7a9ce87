"""A bake seen from CI: `kiln bake` without a terminal prints one plain line per Packer
message on stderr, keeps every Packer line under .kiln/logs/, names that log when the build
fails, and with --verbose shows Packer's own output."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import BakeProject

pytestmark = pytest.mark.integration


def kiln(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiln.cli", *args], capture_output=True,
                          text=True, timeout=180, env=os.environ, stdin=subprocess.DEVNULL,
                          check=False)


def logs(root: Path) -> list[Path]:
    return sorted((root / ".kiln" / "logs").glob("bake-golden-*.log"))


def test_without_a_terminal_each_packer_message_is_one_line_and_the_log_is_kept(
        aws: str, bake_project: BakeProject) -> None:
    done = kiln("bake", "golden")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    steps = [line for line in lines if line.startswith("bake golden [")]
    assert len(steps) >= 3, done.stderr
    assert all(re.match(r"bake golden \[\s*\d+\.\ds\] \S", line) for line in steps), steps
    assert any("amazon-ebs.golden: Creating AMI" in line for line in steps), steps
    assert not any("==>" in line for line in steps)  # Packer's marker is not repeated
    [log] = logs(bake_project.root)
    text = log.read_text()
    # The log is Packer's machine-readable output, every line of it.
    assert re.search(r"(?m)^\d+,amazon-ebs\.golden,artifact,0,id,", text), text[-2000:]


def test_a_failed_build_names_its_log(aws: str, bake_project: BakeProject) -> None:
    template = bake_project.root / "images" / "golden.pkr.hcl"
    template.write_text(template.read_text().replace(
        'ami_name        = "kiln-golden-${local.stamp}"', 'ami_name        = var.nowhere'))
    done = kiln("bake", "golden")
    assert done.returncode == 1, done.stderr
    error = done.stderr.strip().splitlines()[-1]
    found = re.search(r"\(Packer's log: (\.kiln/logs/bake-golden-\S+\.log)\)$", error)
    assert error.startswith("kiln: error: packer:") and found, done.stderr
    assert "nowhere" in (bake_project.root / found.group(1)).read_text()


def test_verbose_streams_packers_own_output(aws: str, bake_project: BakeProject) -> None:
    done = kiln("bake", "golden", "--verbose")
    assert done.returncode == 0, done.stderr
    assert "==> amazon-ebs.golden: Creating AMI" in done.stderr, done.stderr
    assert not any(line.startswith("bake golden [") for line in done.stderr.splitlines())
