"""The Packer templates under images/: formatted, valid per build the way kiln stages and
runs them, and hardened where the HCL itself can say so.

The text checks read the templates with a small block reader (python-hcl2 is not a
dependency); the Packer checks run the installed ``packer`` on a staged copy, as kiln's
runner does: the shared files, one template, what ``${path.root}`` reaches, and
``plugins.pkr.hcl`` only for Packer >= 1.7 (1.6 rejects ``required_plugins``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

IMAGES = Path(__file__).resolve().parents[2] / "images"
PINS = "release.auto.pkrvars.hcl"
SHARED = ("variables.pkr.hcl", PINS)
REACHED = ("scripts", "app")  # the directories the templates reach through ${path.root}/
PLUGINS = "plugins.pkr.hcl"
TIMEOUT = 60

EMULATOR = {"ec2_endpoint": "http://127.0.0.1:4566", "communicator": "none"}
AMI = "ami-0123456789abcdef0"
CONTAINER = "127.0.0.1:5000/kiln/web@sha256:" + "ab" * 32
INPUT_HASH = "sha256:" + "cd" * 32


# --- reading HCL text -------------------------------------------------------------------

def _strip_comments(text: str) -> str:
    """The text with comments blanked (quoted strings kept, offsets unchanged)."""
    out, i, quoted = [], 0, False
    while i < len(text):
        char = text[i]
        if quoted:
            out.append(char)
            if char == "\\" and i + 1 < len(text):
                out.append(text[i + 1])
                i += 1
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
            out.append(char)
        elif char == "#" or text.startswith("//", i):
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            out.append(" " * (end - i))
            i = end
            continue
        else:
            out.append(char)
        i += 1
    return "".join(out)


def blocks(text: str, header: str) -> list[str]:
    """Bodies of the blocks whose header (the text before ``{``) matches ``header``."""
    text = _strip_comments(text)
    found = []
    for match in re.finditer(rf"(?m)^[ \t]*{header}[ \t]*\{{", text):
        depth, i, quoted = 1, match.end(), False
        while depth and i < len(text):
            char = text[i]
            if quoted:
                if char == "\\":
                    i += 1
                elif char == '"':
                    quoted = False
            elif char == '"':
                quoted = True
            elif char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
            i += 1
        found.append(text[match.end():i - 1])
    return found


def attribute(body: str, name: str) -> str | None:
    """The raw expression of a top-level ``name = …`` of a block body (one line)."""
    depth = 0
    for line in body.splitlines():
        if depth == 0:
            match = re.match(rf"\s*{name}\s*=\s*(.+?)\s*$", line)
            if match:
                return match.group(1)
        depth += line.count("{") - line.count("}")
    return None


def templates() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(IMAGES.glob("*.pkr.hcl"))}


def amazon_ebs_sources() -> list[tuple[str, str, str]]:
    """(file, name, body) of every top-level ``source "amazon-ebs" "<name>"`` block."""
    found = []
    for name, text in templates().items():
        for match in re.finditer(r'(?m)^source\s+"amazon-ebs"\s+"([^"]+)"', text):
            body = blocks(text, rf'source\s+"amazon-ebs"\s+"{re.escape(match.group(1))}"')
            found.append((name, match.group(1), body[0]))
    return found


def variable_default(name: str) -> str | None:
    for text in templates().values():
        for body in blocks(text, rf'variable\s+"{re.escape(name)}"'):
            return attribute(body, "default")
    return None


# --- text checks ------------------------------------------------------------------------

EBS = "ebs.pkr.hcl"  # Packer >= 1.7: the source AWS bakes use
EBS_1_6 = "ebs-1.6.pkr.hcl"  # Packer 1.6: the emulator's stand-in


def test_one_amazon_ebs_source_per_packer_generation() -> None:
    sources = amazon_ebs_sources()
    assert sorted((f, n) for f, n, _ in sources) == [(EBS_1_6, "golden"), (EBS, "golden")], (
        "expected one source \"amazon-ebs\" \"golden\" in each of ebs.pkr.hcl (Packer >= 1.7) "
        f"and ebs-1.6.pkr.hcl (Packer 1.6), which the golden and app builds fill in; "
        f"found {[(f, n) for f, n, _ in sources]}")


def test_the_aws_build_instance_requires_imdsv2() -> None:
    for name, source, body in amazon_ebs_sources():
        if name == EBS_1_6:
            continue  # staged only against the emulator: kiln refuses it on AWS
        options = blocks(body, "metadata_options")
        assert options, f"{name}: source amazon-ebs.{source} has no metadata_options block"
        assert attribute(options[0], "http_tokens") == '"required"', options[0]
        assert attribute(options[0], "http_endpoint") == '"enabled"', options[0]
        assert attribute(options[0], "http_put_response_hop_limit") == "1", options[0]


def _cidrs(expression: str) -> list[str]:
    """CIDRs of a list literal, or of the default of the variable it names."""
    reference = re.fullmatch(r"var\.([A-Za-z_][A-Za-z0-9_-]*)", expression)
    if reference:
        default = variable_default(reference.group(1))
        assert default is not None, f"variable {reference.group(1)} has no default"
        expression = default
        pinned = re.search(rf"(?m)^\s*{reference.group(1)}\s*=\s*(.+)$",
                           (IMAGES / PINS).read_text(encoding="utf-8"))
        if pinned:
            expression = pinned.group(1)
    assert expression.startswith("["), f"not a list literal: {expression}"
    return re.findall(r'"([^"]*)"', expression)


def test_ssh_to_the_build_instance_is_never_open_to_the_internet() -> None:
    for name, source, body in amazon_ebs_sources():
        where = f"{name}: source amazon-ebs.{source}"
        if attribute(body, "temporary_security_group_source_public_ip") == "true":
            continue
        expression = attribute(body, "temporary_security_group_source_cidrs")
        # Unset, Packer's temporary security group admits 0.0.0.0/0 on the SSH port.
        assert expression, f"{where} sets no temporary_security_group_source_cidrs"
        cidrs = _cidrs(expression)
        assert cidrs, f"{where}: an empty list means 0.0.0.0/0"
        for cidr in cidrs:
            assert not re.fullmatch(r"(0\.0\.0\.0|::)/0", cidr.strip()), f"{where}: {cidr}"


def test_every_plugin_is_pinned_exactly() -> None:
    text = (IMAGES / PLUGINS).read_text(encoding="utf-8")
    required = blocks(text, "required_plugins")
    assert required, f"{PLUGINS} has no required_plugins block"
    plugins = re.findall(r"(?ms)^\s*([A-Za-z0-9_-]+)\s*=\s*\{(.*?)\}", required[0])
    assert {name for name, _ in plugins} >= {"amazon", "docker"}, plugins
    for name, body in plugins:
        version = attribute(body, "version")
        assert version and re.fullmatch(r'"=\s*\d+\.\d+\.\d+"', version), (
            f"{PLUGINS}: plugin {name} is not pinned exactly (version = \"= X.Y.Z\"): {version}")


# --- Packer checks ----------------------------------------------------------------------

@dataclass(frozen=True)
class Installed:
    path: str
    version: tuple[int, int, int]

    @property
    def needs_plugin_file(self) -> bool:
        return self.version[:2] >= (1, 7)


def _run(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PKR_VAR_")}
    env["CHECKPOINT_DISABLE"] = "1"
    if cwd is not None:
        env["PACKER_CACHE_DIR"] = str(cwd / ".packer_cache")
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=TIMEOUT, check=False)


@pytest.fixture(scope="module")
def packer() -> Installed:
    path = shutil.which("packer")
    if path is None:
        pytest.skip("packer is not on PATH (Debian: apt-get install packer; .ci/run installs it)")
    out = _run([path, "version"]).stdout
    found = re.search(r"(\d+)\.(\d+)\.(\d+)", out)
    assert found, f"cannot read a version from `packer version`: {out!r}"
    major, minor, patch = (int(part) for part in found.groups())
    return Installed(path, (major, minor, patch))


def test_templates_are_formatted(packer: Installed) -> None:
    result = _run([packer.path, "fmt", "-check", "-diff", str(IMAGES)])
    assert result.returncode == 0 and not result.stdout.strip(), (
        f"packer fmt would change images/ (run `packer fmt images`):\n{result.stdout}"
        f"{result.stderr}")


@dataclass(frozen=True)
class Build:
    template: str
    only: str  # the build name kiln passes to -only
    variables: dict[str, str]  # what kiln passes with -var
    base: str  # the variable naming the base image, blanked for the control run
    missing: str  # what Packer must then say, proving -only matched this build


BUILDS = [
    Build("golden.pkr.hcl", "amazon-ebs.golden",
          {**EMULATOR, "source_ami": AMI, "input_hash": INPUT_HASH},
          "source_ami", "A source_ami or source_ami_filter must be specified"),
    Build("app.pkr.hcl", "amazon-ebs.app",
          {**EMULATOR, "golden_ami": AMI, "container_image": CONTAINER,
           "input_hash": INPUT_HASH},
          "golden_ami", "A source_ami or source_ami_filter must be specified"),
    Build("app.pkr.hcl", "amazon-chroot.app",
          {"golden_ami": AMI, "container_image": CONTAINER, "input_hash": INPUT_HASH},
          "golden_ami", "source_ami or source_ami_filter is required"),
    Build("container.pkr.hcl", "docker.app",
          {"repository": "127.0.0.1:5000/kiln/web", "image_tag": "kiln-" + "cd" * 8,
           "input_hash": INPUT_HASH},
          "container_base", "Image must be specified"),
]


@pytest.fixture(scope="module")
def staged(packer: Installed, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One staged directory per template, as kiln's runner writes it for Packer."""
    dirs = {}
    for template in sorted({b.template for b in BUILDS}):
        target = tmp_path_factory.mktemp(template.split(".")[0])
        names = [*SHARED, template, *([PLUGINS] if packer.needs_plugin_file else [])]
        if "amazon-ebs.golden" in (IMAGES / template).read_text(encoding="utf-8"):
            names.append(EBS if packer.needs_plugin_file else EBS_1_6)
        for name in names:
            shutil.copy(IMAGES / name, target / name)
        for directory in REACHED:
            shutil.copytree(IMAGES / directory, target / directory)
        if packer.needs_plugin_file:
            init = _run([packer.path, "init", str(target)], cwd=target)
            assert init.returncode == 0, init.stdout + init.stderr
        dirs[template] = target
    return dirs


def _validate(packer: Installed, directory: Path, build: Build,
              variables: dict[str, str]) -> subprocess.CompletedProcess[str]:
    args = [packer.path, "validate", f"-only={build.only}"]
    for name, value in variables.items():
        args += ["-var", f"{name}={value}"]
    return _run([*args, str(directory)], cwd=directory)


@pytest.mark.parametrize("build", BUILDS, ids=[b.only for b in BUILDS])
def test_each_build_validates_with_the_variables_kiln_passes(
        packer: Installed, staged: dict[str, Path], build: Build) -> None:
    directory = staged[build.template]
    result = _validate(packer, directory, build, build.variables)
    assert result.returncode == 0, (
        f"packer validate -only={build.only} {build.template}:\n{result.stdout}{result.stderr}")
    # Packer accepts an -only that matches no build and then checks nothing: without the
    # base image the same run must fail, so the build above was really checked.
    control = _validate(packer, directory, build, {**build.variables, build.base: ""})
    assert control.returncode != 0 and build.missing in control.stdout + control.stderr, (
        f"-only={build.only} matched no build of {build.template}:\n"
        f"{control.stdout}{control.stderr}")


@pytest.mark.parametrize("cidrs", ['["0.0.0.0/0"]', '["10.0.0.0/8", "::/0"]', "[]"])
def test_packer_refuses_ssh_from_anywhere(packer: Installed, staged: dict[str, Path],
                                          cidrs: str) -> None:
    build = BUILDS[0]
    result = _validate(packer, staged[build.template], build,
                       {**build.variables, "ssh_source_cidrs": cidrs})
    assert result.returncode != 0 and "must name the runner's own addresses" in (
        result.stdout + result.stderr), result.stdout + result.stderr


def test_the_aws_golden_build_validates_with_a_runner_address(
        packer: Installed, staged: dict[str, Path]) -> None:
    if not packer.needs_plugin_file:
        pytest.skip("Packer < 1.7 stages the emulator's source only; kiln refuses amazon-ebs "
                    "on AWS with it")
    build = Build("golden.pkr.hcl", "amazon-ebs.golden",
                  {"source_ami": AMI, "input_hash": INPUT_HASH,
                   "ssh_source_cidrs": '["203.0.113.7/32"]'}, "source_ami", "")
    result = _validate(packer, staged[build.template], build, build.variables)
    assert result.returncode == 0, result.stdout + result.stderr
