"""The app bake's AWS path (amazon-chroot), as far as it runs without AWS.

On AWS the golden snapshot's volume is mounted on the bake host, load-container.sh fills
its Docker store through a temporary dockerd on the host, and app.sh, cleanup.sh and
validate.sh run inside the chroot. The chroot builder itself needs an EC2 instance, so
here: Packer validates the template for that source with the variables kiln would pass,
and the scripts run against a directory standing in for the mounted volume.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from kiln.aws import clients
from kiln.bake import inputs, runner
from kiln.bake import packer as packer_mod
from kiln.errors import BakeError, BuildError
from kiln.local import standins

from .conftest import BakeProject, Docker, need
from .test_scripts import IMAGES, hardened_root, validate

pytestmark = pytest.mark.integration

SCRIPTS = IMAGES / "scripts"
ECR_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web@sha256:" + "ab" * 32


def test_the_source_is_chosen_by_endpoint_and_is_part_of_the_input_hash() -> None:
    app = inputs.spec("app")
    assert app.source_for(emulated=False) == "amazon-chroot.app"
    assert app.source_for(emulated=True) == "amazon-ebs.app"
    assert inputs.spec("golden").source_for(emulated=True) == "amazon-ebs.golden"

    def hashed(source: str) -> str:
        return inputs.seal(inputs.Inputs(app, {"app.pkr.hcl": b"x"}, {"region": "eu-west-1"},
                                         "ami-1", "1.6.6", source)).input_hash

    assert hashed("amazon-chroot.app") != hashed("amazon-ebs.app")
    assert hashed("") == hashed("amazon-chroot.app")  # unset: the image's AWS source


@pytest.fixture
def aws_path(aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """kiln's view of real AWS (no AWS_ENDPOINT_URL), while EC2 lookups still reach the
    emulator through botocore's per-service endpoint; returns a golden AMI id there."""
    golden = boto3.client("ec2").register_image(
        Name="kiln-golden-test", RootDeviceName="/dev/xvda", VirtualizationType="hvm",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda",
                              "Ebs": {"VolumeSize": 20, "Encrypted": True}}])["ImageId"]
    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", aws)
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    clients.reset()
    yield golden
    clients.reset()


def test_aws_app_bake_validates_with_amazon_chroot(bake_project: BakeProject,
                                                   aws_path: str) -> None:
    prepared = runner.validate("app", bake_project.root,
                               {"golden_ami": aws_path, "container_image": ECR_IMAGE})
    assert prepared.resolved.source == "amazon-chroot.app"
    assert prepared.sealed.document()["source"] == "amazon-chroot.app"
    passed = prepared.packer_variables()
    assert "ec2_endpoint" not in passed and passed.get("communicator") != "none"
    assert "scripts/load-container.sh" in prepared.sealed.files

    # Control: Packer really checked the amazon-chroot source (an -only that matched no
    # build would have passed whatever the source said).
    template = bake_project.root / "images" / "app.pkr.hcl"
    template.write_text(template.read_text().replace(
        'source "amazon-chroot" "app" {', 'source "amazon-chroot" "app" {\n  bogus_setting = 1'))
    with pytest.raises(BuildError, match='argument named "bogus_setting" is not expected'):
        runner.validate("app", bake_project.root,
                        {"golden_ami": aws_path, "container_image": ECR_IMAGE})


def test_validate_refuses_a_source_no_build_has(bake_project: BakeProject,
                                                tmp_path: Path) -> None:
    files = inputs.collect_files(IMAGES, inputs.spec("app"), with_plugins=False)
    staged = packer_mod.stage(files, tmp_path / "staged")
    with pytest.raises(BakeError, match=r"no build has the source amazon-chroot\.nothing"):
        packer_mod.validate(packer_mod.find(), staged, {}, "amazon-chroot.nothing")


@pytest.fixture
def pushed(docker: Docker) -> str:
    """The busybox base image pushed to the local registry, as repository@sha256:digest."""
    repository = f"{docker.registry}/kiln/chroot-test"
    for args in (["tag", docker.base_id, f"{repository}:t"], ["push", f"{repository}:t"]):
        subprocess.run(["docker", *args], check=True, capture_output=True, timeout=60)
    request = urllib.request.Request(
        f"http://{docker.registry}/v2/kiln/chroot-test/manifests/t", method="HEAD",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return f"{repository}@{response.headers['Docker-Content-Digest']}"


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A short directory for daemons' sockets (unix socket paths stop at 108 bytes)."""
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"kiln-chroot-{os.getpid()}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def run_script(name: str, **env: str) -> subprocess.CompletedProcess[str]:
    # No DOCKER_HOST: the scripts must not reach any daemon but their own.
    base = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    return subprocess.run(["bash", str(SCRIPTS / name)], env={**base, **env},
                          capture_output=True, text=True, timeout=120, check=False)


def processes_naming(*paths: Path) -> list[str]:
    """Command lines of running processes that mention any of ``paths``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if any(str(path) in cmdline for path in paths):
            found.append(cmdline)
    return found


def mounts_under(root: Path) -> list[str]:
    mountpoints = (line.split()[4] for line in Path("/proc/self/mountinfo").read_text()
                   .splitlines())
    return [point for point in mountpoints if point.startswith(str(root))]


def docker_at(host: str, *args: str) -> str:
    return subprocess.run(["docker", "-H", host, *args], capture_output=True, text=True,
                          check=True, timeout=60).stdout.strip()


def test_chroot_steps_leave_a_root_that_carries_the_pinned_container(
        tmp_path: Path, docker: Docker, pushed: str, short_dir: Path) -> None:
    need("systemctl")
    root = hardened_root(tmp_path / "mnt")
    scratch = short_dir / "t"
    scratch.mkdir()

    # On the host, against the mounted volume (post_mount_commands). The template asks
    # for overlay2; here, whichever driver this machine's dockerd runs with.
    driver = docker_at(docker.host, "info", "--format", "{{.Driver}}")
    loaded = run_script("load-container.sh", KILN_MOUNT=str(root), CONTAINER_IMAGE=pushed,
                        TMPDIR=str(scratch), STORAGE_DRIVER=driver)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip().startswith(f"load-container: {pushed} (sha256:")
    assert processes_naming(root, scratch) == [], "the temporary dockerd must be stopped"
    assert list(scratch.iterdir()) == [], "its exec root, pid file and socket are removed"
    assert mounts_under(root) == [], "Packer must be able to unmount the volume"

    # In the chroot: the unit, then the image checks itself (store included).
    unit = run_script("app.sh", KILN_ROOT=str(root), CONTAINER_IMAGE=pushed, APP_PORT="8080")
    assert unit.returncode == 0, unit.stderr
    checked = validate(root, CONTAINER_IMAGE=pushed)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip() == "validate: ok"

    # As the image's own dockerd will at first boot: the store has exactly that image.
    data = root / "var/lib/docker"
    daemon = standins.start_dockerd(short_dir / "boot", data_root=data)
    try:
        assert docker_at(daemon.address, "info", "--format", "{{.Driver}}") == driver
        digests = json.loads(docker_at(daemon.address, "image", "inspect", "--format",
                                       "{{json .RepoDigests}}", pushed))
        assert digests == [pushed]
        image_id = docker_at(daemon.address, "image", "inspect", "--format", "{{.Id}}",
                             pushed)
        assert docker_at(daemon.address, "image", "ls", "-q", "--no-trunc").split() == \
            [image_id]
        assert image_id == docker_at(docker.host, "image", "inspect", "--format", "{{.Id}}",
                                     pushed)
    finally:
        daemon.stop()
    assert processes_naming(data) == []


def test_load_container_refuses_a_tag_and_a_digest_the_registry_lacks(
        tmp_path: Path, docker: Docker, pushed: str, short_dir: Path) -> None:
    root = hardened_root(tmp_path / "mnt")
    tagged = run_script("load-container.sh", KILN_MOUNT=str(root),
                        CONTAINER_IMAGE=pushed.split("@", 1)[0] + ":t")
    assert tagged.returncode == 1
    assert tagged.stderr.strip().startswith(
        "load-container: CONTAINER_IMAGE must be repository@sha256:<64 hex>")
    assert not (root / "var/lib/docker").exists()

    missing = pushed.split("@", 1)[0] + "@sha256:" + "0" * 64
    scratch = short_dir / "t"
    scratch.mkdir()
    result = run_script("load-container.sh", KILN_MOUNT=str(root), CONTAINER_IMAGE=missing,
                        TMPDIR=str(scratch))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"load-container: pull {missing} failed:")
    assert processes_naming(root, scratch) == []
    assert list(scratch.iterdir()) == []

    not_a_root = run_script("load-container.sh", KILN_MOUNT=str(tmp_path / "empty"),
                            CONTAINER_IMAGE=pushed)
    assert not_a_root.returncode == 1 and "is not the root of a mounted image" in \
        not_a_root.stderr


def test_app_unit_is_pinned_enabled_and_checked_against_the_store(tmp_path: Path) -> None:
    need("systemctl")
    root = hardened_root(tmp_path / "root")
    image = "127.0.0.1:5000/kiln/web@sha256:" + "cd" * 32
    result = run_script("app.sh", KILN_ROOT=str(root), CONTAINER_IMAGE=image, APP_PORT="8080")
    assert result.returncode == 0, result.stderr
    unit = (root / "etc/systemd/system/kiln-app.service").read_text()
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert exec_start.endswith(f"--pull=never --read-only --tmpfs /tmp -p 8080:8080 {image}")
    link = root / "etc/systemd/system/multi-user.target.wants/kiln-app.service"
    assert os.readlink(link) == "/etc/systemd/system/kiln-app.service"
    enabled = subprocess.run(["systemctl", f"--root={root}", "is-enabled", "kiln-app.service"],
                             capture_output=True, text=True, check=False)
    assert enabled.stdout.strip() == "enabled"
    assert not list((root / "etc/systemd/system").glob(".kiln-app.service.*"))

    # A root without an image store is checked for the unit only; one with a store that
    # lacks the container fails the bake.
    assert validate(root, CONTAINER_IMAGE=image).returncode == 0
    (root / "var/lib/docker/image/overlay2").mkdir(parents=True)
    (root / "var/lib/docker/image/overlay2/repositories.json").write_text(
        '{"Repositories":{}}')
    failed = validate(root, CONTAINER_IMAGE=image)
    assert failed.returncode == 1
    assert f"validate: FAIL: {image} is not in the image store" in failed.stderr

    for bad, reason in (({"CONTAINER_IMAGE": "web:latest"}, "must be repository@sha256"),
                        ({"APP_PORT": "http"}, "APP_PORT must be a port number")):
        refused = run_script("app.sh", **{"KILN_ROOT": str(root), "CONTAINER_IMAGE": image,
                                          "APP_PORT": "8080", **bad})
        assert refused.returncode == 1 and reason in refused.stderr
