"""Packer's ``-machine-readable`` output and manifest file, parsed.

Each output line is ``timestamp,target,type,data…``; commas inside data are written as
``%!(PACKER_COMMA)`` and newlines as a literal ``\\n``. Errors arrive as ``ui,error``
lines (HCL diagnostics, build failures) and as ``<target>,error`` lines at the end; both
are reduced here to the one line kiln prints.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiln.errors import BuildError

COMMA = "%!(PACKER_COMMA)"
PUSHED = re.compile(r"(?P<tag>[A-Za-z0-9_][A-Za-z0-9._-]*): digest: "
                    r"(?P<digest>sha256:[0-9a-f]{64})")
LOCATION = re.compile(r"^\s*on (?P<file>\S+) line (?P<line>\d+)")
NOISE = re.compile(r"^\s*(status code: \d+|request id:|see\s*$|https?://|\(source code not "
                   r"available\))")


def unescape(text: str) -> str:
    return text.replace(COMMA, ",").replace("\\n", "\n").replace("\\t", "\t")


@dataclass
class Artifact:
    target: str
    builder_id: str = ""
    id: str = ""


@dataclass
class PackerOutput:
    """What one Packer run said, by kind of line."""

    artifacts: list[Artifact] = field(default_factory=list)
    ui_errors: list[str] = field(default_factory=list)
    build_errors: list[tuple[str, str]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    pushed: dict[str, str] = field(default_factory=dict)
    version: str = ""
    other: list[str] = field(default_factory=list)

    def artifact_ids(self, target: str) -> list[str]:
        """Distinct artifact ids of ``target`` in order (post-processors repeat them)."""
        seen: list[str] = []
        for artifact in self.artifacts:
            if artifact.target == target and artifact.id and artifact.id not in seen:
                seen.append(artifact.id)
        return seen


def parse(text: str) -> PackerOutput:
    """Parse ``-machine-readable`` output; lines that are not machine-readable go to ``other``."""
    out = PackerOutput()
    pending: dict[tuple[str, str], Artifact] = {}
    for line in text.splitlines():
        parts = line.split(",", 3)
        if len(parts) < 3 or not parts[0].isdigit():
            if line.strip():
                out.other.append(line)
            continue
        target, kind, rest = parts[1], parts[2], parts[3] if len(parts) > 3 else ""
        if kind == "ui":
            level, _, message = rest.partition(",")
            if level == "error":
                out.ui_errors.append(unescape(message))
            else:
                out.messages.append(unescape(message))
                for match in PUSHED.finditer(unescape(message)):
                    out.pushed[match["tag"]] = match["digest"]
        elif kind == "artifact":
            _artifact_line(out, pending, target, rest.split(",", 2))
        elif kind == "error":
            out.build_errors.append((target, unescape(rest)))
        elif kind == "version" and rest:
            out.version = rest
    return out


def _artifact_line(out: PackerOutput, pending: dict[tuple[str, str], Artifact], target: str,
                   data: list[str]) -> None:
    """``<target>,artifact,<index>,<key>,<value>``: fields of one artifact until ``end``."""
    if len(data) < 2:
        return
    index, key = data[0], data[1]
    value = unescape(data[2]) if len(data) > 2 else ""
    artifact = pending.setdefault((target, index), Artifact(target))
    if key == "builder-id":
        artifact.builder_id = value
    elif key == "id":
        artifact.id = value
    elif key == "end":
        out.artifacts.append(pending.pop((target, index)))


def _diagnostic(message: str) -> str:
    """``Error: X\\n\\n  on f line N:…\\n\\nDetail.`` → ``X (f line N): Detail``."""
    lines = [line.rstrip() for line in message.strip().splitlines()]
    summary = lines[0].removeprefix("Error: ").strip() if lines else "failed"
    where = ""
    detail: list[str] = []
    for line in lines[1:]:
        found = LOCATION.match(line)
        if found:
            where = f" ({found['file']} line {found['line']})"
        elif line.strip() and not re.match(r"^\s*\d+:", line) and not NOISE.match(line):
            detail.append(line.strip().removeprefix("* "))
    text = f"{summary}{where}"
    if detail:
        sentence = " ".join(detail)
        sentence = sentence.split("; see")[0].rstrip(" .;,")
        text += f": {sentence}"
    return text


def _strip_prefix(message: str) -> str:
    # "==> amazon-ebs.golden: Error querying AMI: …" → "amazon-ebs.golden: Error querying AMI: …"
    first = [line for line in message.splitlines() if line.strip()
             and not NOISE.match(line)]
    text = " ".join(line.strip() for line in first)
    return re.sub(r"^(==>|-->)\s*", "", text).strip()


def error_line(output: PackerOutput, returncode: int) -> str:
    """The one line kiln prints for a failed Packer run."""
    if output.build_errors:
        target, message = output.build_errors[0]
        return f"packer: {target}: {_strip_prefix(message)}"
    for message in output.ui_errors:
        if message.strip().startswith("Error:"):
            return f"packer: {_diagnostic(message)}"
    for message in output.ui_errors:
        text = _strip_prefix(message)
        if text:
            return f"packer: {text}"
    tail = [line.strip() for line in output.other if line.strip()]
    if tail:
        return f"packer: {tail[-1]}"
    return f"packer: exited with status {returncode} and no error message"


def read_manifest(path: Path, run_uuid: str | None = None) -> dict[str, Any]:
    """The manifest post-processor's entry of the last run (or of ``run_uuid``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BuildError(f"packer wrote no manifest at {path} (does the template keep its "
                        "manifest post-processor?)") from None
    except ValueError:
        raise BuildError(f"{path}: the Packer manifest is not JSON") from None
    uuid = run_uuid or data.get("last_run_uuid")
    builds = [b for b in data.get("builds", []) if b.get("packer_run_uuid") == uuid]
    if not builds:
        raise BuildError(f"{path}: no build of run {uuid} in the Packer manifest")
    return dict(builds[-1])
