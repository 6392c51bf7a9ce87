"""Audit a stack: from a mock run of its program, or from a ``pulumi stack export`` file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kiln.audit import run, sources
from kiln.audit.sources import AuditError
from kiln.model import settings as settings_mod
from kiln.project import stackfiles

if TYPE_CHECKING:
    from kiln.audit.report import Report

FORMATS = ("json", "sarif", "junit", "html")


def parse_formats(text: str) -> list[str]:
    """``"json,sarif"`` → ``["json", "sarif"]``; unknown names are a one-line error."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    for name in names:
        if name not in FORMATS:
            raise AuditError(f"unknown report format {name!r}; choose from "
                             f"{', '.join(FORMATS)}")
    return list(dict.fromkeys(names))


def audit_stack(stack: str, *, environment: str | None = None,
                waivers: Path | None = None) -> Report:
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
                        config=engine_config, waivers=waivers)


def audit_export(path: Path, stack: str, *, environment: str | None = None,
                 waivers: Path | None = None) -> Report:
    """Audit a ``pulumi stack export`` file of ``stack`` (no cloud access needed)."""
    project = stackfiles.load_project()
    # The export is read while the pack boots (the analyzer is started first).
    return run.evaluate(lambda: sources.from_export(path, stack),
                        pack=run.pack_dir(project.root), environment=environment or stack,
                        project=project.name, stack=stack, config={}, waivers=waivers)
