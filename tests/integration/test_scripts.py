"""The image scripts: shellcheck-clean, validate.sh's checks, the sample service itself."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import ROOT, need

pytestmark = pytest.mark.integration

IMAGES = ROOT / "images"
SCRIPTS = sorted([*(IMAGES / "scripts").glob("*.sh"), *(IMAGES / "app").glob("*.sh")])
UNIT = "[Unit]\nDescription=test\n[Service]\nExecStart=/bin/true\n[Install]\n" \
       "WantedBy=multi-user.target\n"


def test_every_script_passes_shellcheck_and_is_strict() -> None:
    need("shellcheck")
    assert len(SCRIPTS) >= 7
    result = subprocess.run(["shellcheck", "--format=gcc", *map(str, SCRIPTS)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout
    for script in SCRIPTS:
        text = script.read_text()
        assert "\nset -euo pipefail\n" in text, f"{script.name} lacks set -euo pipefail"
        assert os.access(script, os.X_OK), f"{script.name} is not executable"


# The ways into a running instance the golden image ships and harden.sh masks.
SHELL_UNITS = ("sshd.service", "amazon-ssm-agent.service", "ec2-instance-connect.service")


def hardened_root(root: Path) -> Path:
    """A filesystem as harden.sh, install.sh and cleanup.sh leave it."""
    units = root / "usr/lib/systemd/system"
    units.mkdir(parents=True)
    for name in (*SHELL_UNITS, "docker.service", "dnf-makecache.timer"):
        (units / name).write_text(UNIT.replace("multi-user.target", "timers.target")
                                  if name.endswith(".timer") else UNIT)
    for name in SHELL_UNITS:
        (root / "etc/systemd/system").mkdir(parents=True, exist_ok=True)
        (root / "etc/systemd/system" / name).symlink_to("/dev/null")
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True)
    (wants / "docker.service").symlink_to("/usr/lib/systemd/system/docker.service")
    (root / "etc/cloud/cloud.cfg.d").mkdir(parents=True)
    (root / "etc/cloud/cloud.cfg").write_text("cloud_final_modules: [scripts-user]\n")
    (root / "etc/cloud/cloud.cfg.d/99-kiln-immutable.cfg").write_text(
        "allow_userdata: false\n")
    (root / "home/ec2-user/.ssh").mkdir(parents=True)
    return root


def validate(root: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(IMAGES / "scripts" / "validate.sh")],
                          env={**os.environ, "KILN_ROOT": str(root), **env},
                          capture_output=True, text=True, check=False)


def enable(unit: str, target: str = "multi-user.target") -> Callable[[Path], None]:
    def change(root: Path) -> None:
        wants = root / f"etc/systemd/system/{target}.wants"
        wants.mkdir(parents=True, exist_ok=True)
        (wants / unit).symlink_to(f"/usr/lib/systemd/system/{unit}")
    return change


def unmask(unit: str, *, enabled: bool = False, vendor: str = "") -> Callable[[Path], None]:
    """The unit installed (under ``vendor``'s name when given) and not masked."""
    def change(root: Path) -> None:
        name = vendor or unit
        (root / "etc/systemd/system" / unit).unlink(missing_ok=True)
        (root / "usr/lib/systemd/system" / name).write_text(UNIT)
        if enabled:
            enable(name)(root)
    return change


def eic_keys_command(root: Path) -> None:
    drop_in = root / "etc/ssh/sshd_config.d/60-ec2-instance-connect.conf"
    drop_in.parent.mkdir(parents=True)
    drop_in.write_text("AuthorizedKeysCommand /opt/aws/bin/eic_run_authorized_keys %u %f\n"
                       "AuthorizedKeysCommandUser ec2-instance-connect\n")


def add_keys(root: Path) -> None:
    (root / "home/ec2-user/.ssh/authorized_keys").write_text("ssh-ed25519 AAAA test\n")


def allow_user_data(root: Path) -> None:
    (root / "etc/cloud/cloud.cfg.d/99-kiln-immutable.cfg").unlink()


def test_harden_masks_every_way_in_that_validate_checks() -> None:
    harden = (IMAGES / "scripts" / "harden.sh").read_text()
    check = (IMAGES / "scripts" / "validate.sh").read_text()
    for unit in (*SHELL_UNITS, "sshd.socket", "snap.amazon-ssm-agent.amazon-ssm-agent.service",
                 "ec2-instance-connect-hostkey-harvesting.service"):
        assert unit in harden and unit in check, unit


@pytest.mark.parametrize(("change", "reason"), [
    (unmask("sshd.service", enabled=True), "sshd.service is enabled, not masked"),
    (unmask("sshd.service"), "sshd.service is disabled, not masked"),
    (unmask("amazon-ssm-agent.service", enabled=True),
     "amazon-ssm-agent.service is enabled, not masked"),
    (unmask("amazon-ssm-agent.service"), "amazon-ssm-agent.service is disabled, not masked"),
    (unmask("snap.amazon-ssm-agent.amazon-ssm-agent.service", enabled=True),
     "snap.amazon-ssm-agent.amazon-ssm-agent.service is enabled, not masked"),
    (unmask("ec2-instance-connect.service"),
     "ec2-instance-connect.service is disabled, not masked"),
    (unmask("ec2-instance-connect-hostkey-harvesting.service", enabled=True),
     "ec2-instance-connect-hostkey-harvesting.service is enabled, not masked"),
    (eic_keys_command, "/etc/ssh/sshd_config.d/60-ec2-instance-connect.conf runs EC2 "
                       "Instance Connect's AuthorizedKeysCommand"),
    (add_keys, "authorized keys present: /home/ec2-user/.ssh/authorized_keys"),
    (allow_user_data, "cloud-init would run user data"),
    (enable("dnf-makecache.timer", "timers.target"), "dnf-makecache.timer is enabled"),
])
def test_validate_fails_the_bake_for_each_way_back_in(tmp_path: Path,
                                                      change: Callable[[Path], None],
                                                      reason: str) -> None:
    need("systemctl")
    root = hardened_root(tmp_path / "root")
    assert validate(root).returncode == 0, validate(root).stderr
    change(root)
    result = validate(root)
    assert result.returncode == 1
    assert f"validate: FAIL: {reason}" in result.stderr


def test_validate_checks_the_app_unit_is_pinned_to_the_digest(tmp_path: Path) -> None:
    need("systemctl")
    root = hardened_root(tmp_path / "root")
    image = "127.0.0.1:5000/kiln/web@sha256:" + "ab" * 32
    result = validate(root, CONTAINER_IMAGE=image)
    assert result.returncode == 1 and "kiln-app.service does not run" in result.stderr
    unit = root / "etc/systemd/system/kiln-app.service"
    unit.write_text(UNIT.replace("/bin/true", f"/usr/bin/docker run --pull=never {image}"))
    enable("kiln-app.service")(root)
    (root / "usr/lib/systemd/system/kiln-app.service").write_text(unit.read_text())
    assert validate(root, CONTAINER_IMAGE=image).returncode == 0
    other = image[:-2] + "cd"
    assert "does not run" in validate(root, CONTAINER_IMAGE=other).stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_sample_service_serves_its_release_id(tmp_path: Path) -> None:
    need("busybox")
    port = free_port()
    server = subprocess.Popen(["busybox", "sh", str(IMAGES / "app" / "serve.sh")],
                              env={**os.environ, "KILN_RELEASE": "web-test-7",
                                   "PORT": str(port), "WWW": str(tmp_path / "www")})
    try:
        bodies = {}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(bodies) < 2:
            for path in ("/", "/healthz"):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}",
                                                timeout=1) as response:
                        bodies[path] = response.read().decode().strip()
                except OSError:
                    time.sleep(0.05)
        assert bodies == {"/": "web-test-7", "/healthz": "web-test-7"}
    finally:
        server.terminate()
        server.wait(timeout=10)
