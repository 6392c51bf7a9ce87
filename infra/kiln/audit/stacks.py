"""Audit stacks: from a mock run of the program, or from ``pulumi stack export`` files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiln.audit import run, sources
from kiln.audit.report import Report
from kiln.audit.sources import AuditError
from kiln.model import settings as settings_mod
from kiln.project import stackfiles
from kiln.project.files import atomic_write

if TYPE_CHECKING:
    from kiln.project.stackfiles import Project

FORMATS = ("json", "sarif", "junit", "html")
SUMMARY_SCHEMA = "kiln.audit-summary/v1"


def parse_formats(text: str) -> list[str]:
    """``"json,sarif"`` → ``["json", "sarif"]``; unknown names are a one-line error."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    for name in names:
        if name not in FORMATS:
            raise AuditError(f"unknown report format {name!r}; choose from "
                             f"{', '.join(FORMATS)}")
    return list(dict.fromkeys(names))


def audit_stack(stack: str, *, environment: str | None = None,
                waivers: Path | None = None, analyzer: bool = False) -> Report:
    """Audit what ``stack``'s file deploys, from a mock run of the program."""
    # The Pulumi SDK (~0.4 s) loads only to run the program, never for an export.
    from kiln.preview import capture  # noqa: PLC0415

    project = stackfiles.load_project()
    config = stackfiles.read_config(project, stack)
    settings_mod.parse(config, stack)  # bad config fails before the pack starts
    engine_config = capture.engine_config(config)

    def source() -> sources.Source:
        return sources.from_capture(capture.run_program(project.main, project.name, stack,
                                                        config), engine_config)

    return run.evaluate(source, pack=run.pack_dir(project.root),
                        environment=environment or stack, project=project.name, stack=stack,
                        config=engine_config, waivers=waivers, analyzer=analyzer)


def export_files(paths: Sequence[Path]) -> list[Path]:
    """The export files named: files as given, directories as their ``*.json`` files."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.glob("*.json") if p.is_file())
            if not inside:
                raise AuditError(f"{path}: the directory holds no *.json export")
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            raise AuditError(f"{path}: file not found")
    return list(dict.fromkeys(found))


def audit_export(path: Path, stack: str | None, *, environment: str | None = None,
                 waivers: Path | None = None, analyzer: bool = False,
                 project: Project | None = None) -> Report:
    """Audit a ``pulumi stack export`` file (no cloud access needed); ``stack`` None means
    the stack its URNs name."""
    project = project or stackfiles.load_project()
    source = sources.from_export(path, stack)
    return run.evaluate(lambda: source, pack=run.pack_dir(project.root),
                        environment=environment or source.stack, project=project.name,
                        stack=source.stack, config={}, waivers=waivers, analyzer=analyzer)


def audit_exports(paths: Sequence[Path], stack: str | None = None, *,
                  environment: str | None = None, waivers: Path | None = None,
                  analyzer: bool = False) -> list[Report]:
    """Audit every export named (files or directories): one report per export.

    Every export is read and checked before any is reported on, so a bad file stops the run
    with nothing written. Two exports of the same stack are refused: their reports would
    overwrite each other.
    """
    files = export_files(paths)
    project = stackfiles.load_project()
    reports = [audit_export(f, stack, environment=environment, waivers=waivers,
                            analyzer=analyzer, project=project) for f in files]
    seen: dict[str, str] = {}
    for report in reports:
        if report.stack in seen:
            raise AuditError(f"{report.origin}: stack {report.stack!r} is also in "
                             f"{seen[report.stack]}; give one export per stack")
        seen[report.stack] = report.origin
    return reports


def summary(reports: Sequence[Report]) -> dict[str, Any]:
    """One line per stack: counts and exit status; the run's status is the worst."""
    return {"schema": SUMMARY_SCHEMA,
            "exitCode": max((r.exit_code for r in reports), default=0),
            "stacks": [{"stack": r.stack, "environment": r.environment, "source": r.origin,
                        "exitCode": r.exit_code, **r.counts()} for r in reports]}


def write_summary(reports: Sequence[Report], out_dir: Path) -> Path:
    """``audit-summary.json`` in ``out_dir``."""
    path = out_dir / "audit-summary.json"
    atomic_write(path, json.dumps(summary(reports), indent=2, sort_keys=True) + "\n")
    return path
