"""What determines an image, and its hash.

An image is baked from its template, the shared variables, the pins, and every file the
template reaches through ``${path.root}/…``. Those files are read once: their bytes are
hashed and the same bytes are staged for Packer, so what is built is exactly what was
hashed. The input hash also covers the resolved variables, the base image id, the
template source Packer builds (``-only``), the Packer version and the plugin pins; where
an image goes (endpoint, repository), who may reach the build instance, or how the bake
host attaches a volume is not an input.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiln.errors import BakeError
from kiln.release.record import canonical, digest_of

VARIABLES_FILE = "variables.pkr.hcl"
PINS_FILE = "release.auto.pkrvars.hcl"
PLUGINS_FILE = "plugins.pkr.hcl"
# The shared amazon-ebs source: Packer >= 1.7 gets the one AWS bakes use (IMDSv2 required);
# Packer 1.6 rejects metadata_options and gets the emulator's stand-in.
EBS_FILE = "ebs.pkr.hcl"
EBS_FILE_1_6 = "ebs-1.6.pkr.hcl"
EBS_SOURCE = "amazon-ebs.golden"
PLUGIN_BLOCK = re.compile(r"(?m)^\s*([A-Za-z0-9_-]+)\s*=\s*\{([^{}]*)\}")
PLUGIN_VERSION = re.compile(r'(?m)^\s*version\s*=\s*"([^"]*)"')
EXACT_PIN = re.compile(r"=\s*(\d+\.\d+\.\d+)")
PATH_ROOT_REF = re.compile(r"\$\{path\.root\}/([A-Za-z0-9._/-]+)")
PIN_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(.+?)\s*$")
# Variables that say where an image goes, how the bake host attaches the volume it bakes,
# or that kiln derives from the hash itself.
# ssh_source_cidrs says which runner may reach the build instance, not what is built.
NOT_INPUTS = frozenset({"input_hash", "image_tag", "ec2_endpoint", "repository",
                        "chroot_device_path", "chroot_nvme_device_path", "ssh_source_cidrs"})
SCHEMA = "kiln.inputs/v1"


@dataclass(frozen=True)
class ImageSpec:
    name: str
    kind: str  # "ami" | "container"
    template: str
    source: str  # Packer's build name on AWS, e.g. amazon-ebs.golden
    emulator_source: str | None = None  # the build against the emulator, where it differs

    def source_for(self, emulated: bool) -> str:
        """The source Packer builds (``-only``): AWS's, or the emulator's stand-in."""
        return (self.emulator_source or self.source) if emulated else self.source


IMAGES: dict[str, ImageSpec] = {
    "golden": ImageSpec("golden", "ami", "golden.pkr.hcl", "amazon-ebs.golden"),
    # The golden image cannot be logged in to, so on AWS the app layer is written into a
    # volume of it (amazon-chroot); the emulator boots nothing and has no chroot host, so
    # there amazon-ebs stands in (no provisioner runs on either emulated source).
    "app": ImageSpec("app", "ami", "app.pkr.hcl", "amazon-chroot.app", "amazon-ebs.app"),
    "container": ImageSpec("container", "container", "container.pkr.hcl", "docker.app"),
}


def spec(name: str) -> ImageSpec:
    try:
        return IMAGES[name]
    except KeyError:
        raise BakeError(f"unknown image {name!r}; expected one of "
                        f"{', '.join(IMAGES)}") from None


@dataclass(frozen=True)
class Inputs:
    """The files of one bake (relative path → bytes) and the hash over everything."""

    spec: ImageSpec
    files: dict[str, bytes]
    variables: dict[str, Any]
    base: str
    packer_version: str
    source: str = ""  # the template source built; empty: the image's AWS source
    plugins: dict[str, str] = field(default_factory=dict)  # name → exact version pinned
    hashes: dict[str, str] = field(default_factory=dict)
    input_hash: str = ""

    @property
    def built_source(self) -> str:
        return self.source or self.spec.source

    def document(self) -> dict[str, Any]:
        """Everything the hash covers, as recorded in the artifact record."""
        return {"schema": SCHEMA, "image": self.spec.name, "source": self.built_source,
                "files": self.hashes,
                "variables": {k: v for k, v in self.variables.items() if k not in NOT_INPUTS},
                "base": self.base, "packer": self.packer_version, "plugins": self.plugins}


def _read(images_dir: Path, relative: str) -> bytes:
    path = images_dir / relative
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise BakeError(f"{path}: file not found (the template refers to it)") from None
    except OSError as error:
        raise BakeError(f"{path}: cannot read ({error.strerror})") from None


def collect_files(images_dir: Path, image: ImageSpec, with_plugins: bool) -> dict[str, bytes]:
    """The template, shared files and everything reachable via ``${path.root}/``."""
    names = [VARIABLES_FILE, PINS_FILE, image.template]
    if with_plugins:
        names.append(PLUGINS_FILE)
    files = {name: _read(images_dir, name) for name in names}
    template_text = files[image.template].decode("utf-8", errors="replace")
    if EBS_SOURCE in template_text:
        ebs = EBS_FILE if with_plugins else EBS_FILE_1_6
        files[ebs] = _read(images_dir, ebs)
    for ref in sorted(set(PATH_ROOT_REF.findall(template_text))):
        if ref in files or ref == "manifest.json":
            continue
        target = (images_dir / ref).resolve()
        if not target.is_relative_to(images_dir.resolve()):
            raise BakeError(f"{image.template}: ${{path.root}}/{ref} leaves {images_dir}")
        if ref.endswith("/") or target.is_dir():
            for path in sorted(p for p in target.rglob("*") if p.is_file()):
                relative = path.relative_to(images_dir.resolve()).as_posix()
                files[relative] = _read(images_dir, relative)
        else:
            files[ref] = _read(images_dir, ref)
    return files


def parse_pins(text: str, where: str = PINS_FILE) -> dict[str, Any]:
    """Read ``name = value`` lines (strings, numbers, booleans); reject anything else."""
    pins: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "//")):
            continue
        match = PIN_LINE.match(stripped)
        value: Any = None
        if match:
            raw = match.group(2)
            try:
                value = json.loads(raw)
            except ValueError:
                match = None
            if isinstance(value, str) and "${" in value:
                match = None
            if isinstance(value, list | dict) or value is None:
                match = None
        if not match:
            raise BakeError(f"{where} line {number}: kiln reads only `name = value` pins "
                            "(a quoted string, a number, true or false)")
        pins[match.group(1)] = value
    return pins


def plugin_pins(text: str, where: str = PLUGINS_FILE) -> dict[str, str]:
    """``name → version`` of each ``required_plugins`` entry; every one must be pinned
    exactly (``version = "= X.Y.Z"``), or a plugin release could change a bake whose input
    hash did not change."""
    pins: dict[str, str] = {}
    start = text.find("required_plugins")
    for name, body in PLUGIN_BLOCK.findall(text[start:] if start >= 0 else ""):
        version = PLUGIN_VERSION.search(body)
        exact = EXACT_PIN.fullmatch(version.group(1).strip()) if version else None
        if not exact:
            shown = version.group(1) if version else "no version"
            raise BakeError(f"{where}: plugin {name} is not pinned exactly ({shown}); write "
                            'version = "= X.Y.Z"')
        pins[name] = exact.group(1)
    return pins


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    """``["k=v", ...]`` from ``--var`` → dict; a bad pair is a one-line error."""
    overrides: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", name):
            raise BakeError(f"--var {pair!r}: expected name=value, e.g. --var "
                            "repository=127.0.0.1:5000/kiln/web")
        overrides[name] = value
    return overrides


def packer_value(value: Any) -> str:
    """How a variable is written on Packer's command line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def seal(inputs: Inputs) -> Inputs:
    """Fill in per-file hashes and the input hash."""
    hashes = {name: "sha256:" + hashlib.sha256(data).hexdigest()
              for name, data in sorted(inputs.files.items())}
    draft = Inputs(inputs.spec, inputs.files, inputs.variables, inputs.base,
                   inputs.packer_version, inputs.built_source, dict(inputs.plugins), hashes)
    return Inputs(inputs.spec, inputs.files, inputs.variables, inputs.base,
                  inputs.packer_version, inputs.built_source, dict(inputs.plugins), hashes,
                  digest_of(canonical(draft.document())))


def hash_document(document: Mapping[str, Any]) -> str:
    """Recompute an input hash from a record's ``inputs.document`` (for auditors)."""
    return digest_of(canonical(dict(document)))
