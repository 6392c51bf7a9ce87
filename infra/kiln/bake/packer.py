"""Run Packer through packer-py: find it, know its version, stage the files, build.

A bake builds one source of its template, named with ``-only`` (packer-py writes
``only=…`` as ``-only=…``). packer-py 0.3 builds the command line (``-machine-readable``,
``-var k=v``) but passes no environment, working directory or output stream;
:class:`_Executable` adds those and keeps packer-py's argument handling. The installed
Packer's version is cached by the binary's identity, so a cache hit decides without
starting Packer at all.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packerpy import PackerExecutable

from kiln.bake import machine
from kiln.errors import BakeError, BuildError
from kiln.project.files import atomic_write

log = logging.getLogger(__name__)

PLUGINS_SINCE = (1, 7)
VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")
# A build's ``source "<type>.<label>" {`` block and its ``name = "…"`` (before any nested block).
BUILD_SOURCE = re.compile(r'(?m)^\s*source\s+"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)"\s*\{([^{}]*)')
BUILD_NAME = re.compile(r'(?m)^\s*name\s*=\s*"([A-Za-z0-9_-]+)"')


@dataclass(frozen=True)
class Packer:
    path: str
    version: str

    @property
    def needs_plugin_file(self) -> bool:
        """Packer ≥ 1.7 installs plugins from ``required_plugins``; 1.6 rejects the block."""
        return version_tuple(self.version)[:2] >= PLUGINS_SINCE


def version_tuple(version: str) -> tuple[int, int, int]:
    found = VERSION.search(version)
    if not found:
        raise BakeError(f"cannot read a Packer version from {version!r}")
    major, minor, patch = (int(part) for part in found.groups())
    return major, minor, patch


def _cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kiln" / "packer-version.json"


class _Executable(PackerExecutable):
    """packer-py's executable with an explicit environment and line-by-line output."""

    def __init__(self, path: str, env: Mapping[str, str],
                 on_line: Callable[[str], None] | None = None) -> None:
        super().__init__(executable_path=path, machine_readable=True)
        self._env = dict(env)
        self._on_line = on_line

    def execute_cmd(self, packer_cmd: str, template: str | None = None,
                    **kwargs: Any) -> tuple[int, bytes, bytes]:
        args = [self.configuration[PackerExecutable.PATH], packer_cmd, "-machine-readable",
                *self._explode_args(**kwargs)]
        if template:
            args.append(template)
        log.debug("running %s", " ".join(args))
        # stderr joins stdout: Packer writes machine-readable lines to stdout and anything
        # else (crashes, plugin noise) to stderr, and both matter when a build fails.
        with subprocess.Popen(args, env=self._env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL) as proc:
            assert proc.stdout is not None
            lines = []
            for raw in proc.stdout:
                lines.append(raw)
                if self._on_line is not None:
                    self._on_line(raw.decode("utf-8", errors="replace").rstrip("\n"))
            code = proc.wait()
        return code, b"".join(lines), b""


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Packer's environment: ours, no update checks, no PKR_VAR_* (variables go by -var
    so that all of them are in the input hash)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PKR_VAR_")}
    env["CHECKPOINT_DISABLE"] = "1"
    env.update(extra or {})
    return env


def check_environment() -> None:
    stray = sorted(k for k in os.environ if k.startswith("PKR_VAR_"))
    if stray:
        raise BakeError(f"{stray[0]} is set; pass variables with --var so they are part of "
                        "the input hash (unset it)")


def find() -> Packer:
    """The ``packer`` on PATH and its version (from the cache when the binary is unchanged)."""
    path = shutil.which("packer")
    if path is None:
        raise BakeError("packer not found on PATH; install Packer ≥ 1.6.6 (Debian: "
                        "apt-get install packer)")
    try:
        stat = Path(path).stat()
    except OSError as error:
        raise BakeError(f"{path}: cannot stat ({error.strerror})") from None
    identity = {"path": str(Path(path).resolve()), "size": stat.st_size,
                "mtime_ns": stat.st_mtime_ns}
    cache = _cache_file()
    try:
        cached = json.loads(cache.read_text())
        if cached.get("identity") == identity and cached.get("version"):
            return Packer(path, str(cached["version"]))
    except (OSError, ValueError):
        pass
    code, out, _ = _Executable(path, environment()).version()
    parsed = machine.parse(out.decode("utf-8", errors="replace"))
    if code != 0 or not parsed.version:
        raise BakeError(f"{path} version failed: {machine.error_line(parsed, code)}")
    version_tuple(parsed.version)
    try:
        atomic_write(cache, json.dumps({"identity": identity, "version": parsed.version}))
    except OSError as error:  # a read-only home only costs a `packer version` next time
        log.debug("cannot cache the Packer version: %s", error)
    return Packer(path, parsed.version)


def stage(files: Mapping[str, bytes], directory: Path) -> Path:
    """Write the hashed file bytes into ``directory`` for Packer; scripts stay executable."""
    for relative, data in files.items():
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        if target.suffix == ".sh" or data.startswith(b"#!"):
            target.chmod(0o755)
    return directory


@dataclass(frozen=True)
class BuildResult:
    output: machine.PackerOutput
    manifest: dict[str, Any]


def _error(staged: Path, shown_as: str, parsed: machine.PackerOutput, code: int) -> BuildError:
    """One line from Packer's output, naming files as ``shown_as/…`` rather than the
    temporary staging directory."""
    return BuildError(machine.error_line(parsed, code).replace(f"{staged}/", f"{shown_as}/"))


def _prepared(packer: Packer, staged: Path, on_line: Callable[[str], None] | None,
              shown_as: str) -> _Executable:
    """An executable for the staged directory, its plugins installed (Packer ≥ 1.7)."""
    env = environment({"PACKER_CACHE_DIR": str(staged / ".packer_cache")})
    executable = _Executable(packer.path, env, on_line)
    if packer.needs_plugin_file:
        code, out, _ = executable.execute_cmd("init", str(staged))
        if code != 0:
            raise _error(staged, shown_as, machine.parse(out.decode("utf-8", "replace")), code)
    return executable


def renamed_builds(staged: Path, listed: set[str]) -> set[str]:
    """Builds that fill in a listed source under another ``name`` (``source
    "amazon-ebs.golden" { name = "app" … }`` builds as amazon-ebs.app), which Packer 1.6's
    ``inspect`` lists under the source's own label."""
    found = set()
    for template in sorted(staged.glob("*.pkr.hcl")):
        text = template.read_text(encoding="utf-8", errors="replace")
        for kind, label, body in BUILD_SOURCE.findall(text):
            name = BUILD_NAME.search(body)
            if name and f"{kind}.{label}" in listed:
                found.add(f"{kind}.{name.group(1)}")
    return found


def validate(packer: Packer, staged: Path, variables: Mapping[str, str], only: str,
             shown_as: str = "images") -> None:
    """``packer validate -only=<source>`` the staged directory, the builder's own checks
    included; a rejection raises one line. Packer accepts an ``-only`` that matches no
    build and then checks nothing, so the source must be among the builds' sources."""
    executable = _prepared(packer, staged, None, shown_as)
    code, out, _ = executable.inspect(str(staged))
    parsed = machine.parse(out.decode("utf-8", errors="replace"))
    if code != 0:
        raise _error(staged, shown_as, parsed, code)
    listed = {line.strip() for message in parsed.messages for line in message.splitlines()}
    if only not in listed | renamed_builds(staged, listed):
        raise BakeError(f"{shown_as}: no build has the source {only}")
    code, out, _ = executable.validate(str(staged), var=dict(variables), only=only)
    parsed = machine.parse(out.decode("utf-8", errors="replace"))
    if code != 0 or parsed.ui_errors:
        raise _error(staged, shown_as, parsed, code)


def build(packer: Packer, staged: Path, variables: Mapping[str, str],
          on_line: Callable[[str], None] | None = None, shown_as: str = "images", *,
          only: str | None = None) -> BuildResult:
    """``packer build`` the staged directory (``-only`` the given source); a failure raises
    one line from Packer's output."""
    executable = _prepared(packer, staged, on_line, shown_as)
    options: dict[str, Any] = {"var": dict(variables), "color": "false"}
    if only:
        options["only"] = only
    code, out, _ = executable.build(str(staged), **options)
    parsed = machine.parse(out.decode("utf-8", errors="replace"))
    if code != 0 or (parsed.ui_errors and not parsed.artifacts):
        raise _error(staged, shown_as, parsed, code)
    if not parsed.artifacts:
        raise BuildError(f"packer: the build finished but made no artifact (does the template "
                         f"have a build block for {only or 'its source'}?)")
    return BuildResult(parsed, machine.read_manifest(staged / "manifest.json"))
