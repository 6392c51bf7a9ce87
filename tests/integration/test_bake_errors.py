"""Bad input to `kiln bake`: one line, non-zero exit, no record and no ledger entry."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import BakeProject

pytestmark = pytest.mark.integration


def kiln(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiln.cli", *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})},
                          check=False)


def assert_refused(project: BakeProject, result: subprocess.CompletedProcess[str],
                   reason: str) -> None:
    assert result.returncode != 0
    # Progress lines (one per Packer message, without a terminal) come first; the error is
    # one line, the last.
    lines = [line for line in result.stderr.strip().splitlines()
             if not line.startswith("bake ")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines()[-1] == lines[0]
    assert lines[0].startswith("kiln: error: ") and reason in lines[0], lines[0]
    assert not project.releases.exists(), "nothing may be recorded for a failed bake"
    assert not project.ledger.exists(), "nothing may reach the ledger for a failed bake"


def test_missing_variable(aws: str, bake_project: BakeProject) -> None:
    pins = bake_project.root / "images" / "release.auto.pkrvars.hcl"
    pins.write_text("".join(line for line in pins.read_text().splitlines(keepends=True)
                            if not line.startswith("instance_type")))
    assert_refused(bake_project, kiln("bake", "golden"),
                   'packer: Unset variable "instance_type"')


def test_template_syntax_error(aws: str, bake_project: BakeProject) -> None:
    template = bake_project.root / "images" / "golden.pkr.hcl"
    template.write_text(template.read_text() + '\nsource "amazon-ebs" {\n')
    result = kiln("bake", "golden")
    assert_refused(bake_project, result, "golden.pkr.hcl line")
    # Files are named where the user keeps them, not in the temporary staging directory.
    assert str(bake_project.root / "images" / "golden.pkr.hcl") in result.stderr


def test_nonexistent_base_ami(aws: str, bake_project: BakeProject) -> None:
    assert_refused(bake_project,
                   kiln("bake", "golden", "--var", "source_ami=ami-0123456789abcdef0"),
                   "base AMI ami-0123456789abcdef0 does not exist in eu-west-1")


def test_packer_error_from_the_build_is_one_line(aws: str, bake_project: BakeProject) -> None:
    # An instance-store base exists, so kiln passes it on; Packer's build refuses it.
    assert_refused(bake_project,
                   kiln("bake", "golden", "--var", "source_ami=ami-04681a1dbd79675b6"),
                   "packer: amazon-ebs.golden: The provided source AMI has an invalid root "
                   "device type. Expected 'ebs', got 'instance-store'.")


def test_packer_not_installed(aws: str, bake_project: BakeProject, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("git", "docker"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    assert_refused(bake_project, kiln("bake", "golden", env={"PATH": str(bin_dir)}),
                   "packer not found on PATH")


def test_unknown_image_and_bad_var(aws: str, bake_project: BakeProject) -> None:
    bad = kiln("bake", "goldne")
    assert_refused(bake_project, bad, "unknown image 'goldne'")
    assert bad.returncode == 2
    assert_refused(bake_project, kiln("bake", "golden", "--var", "novalue"),
                   "expected name=value")
    assert_refused(bake_project, kiln("bake", "container"), "variable 'repository' is not set")


def test_missing_signing_key(aws: str, bake_project: BakeProject, tmp_path: Path) -> None:
    assert_refused(bake_project, kiln("bake", "golden", "--signing-key",
                                      str(tmp_path / "absent.pem")), "no signing key at")


def test_keys_generate_writes_once(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "release-2026.pem"
    made = kiln("keys", "generate", str(path), "--json")
    assert made.returncode == 0, made.stderr
    assert '"id": "release-2026"' in made.stdout
    assert (path.stat().st_mode & 0o777) == 0o600
    assert path.with_suffix(".pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    again = kiln("keys", "generate", str(path))
    assert again.returncode == 2
    assert "already exists; refusing to overwrite a key (--force" in again.stderr


def test_packer_variables_from_the_environment_are_refused(aws: str,
                                                           bake_project: BakeProject) -> None:
    assert_refused(bake_project, kiln("bake", "golden", env={"PKR_VAR_instance_type": "x"}),
                   "PKR_VAR_instance_type is set; pass variables with --var")
