"""``kiln audit``: a stack's resources → the immutable policy pack → auditor reports.

Resources come from a mock run of the real program (:func:`audit_stack`) or from a
``pulumi stack export`` file (:func:`audit_export`); both are evaluated by starting the pack
exactly as the Pulumi engine does and speaking its gRPC protocol
(:mod:`kiln.audit.analyzer`). Reports: JSON, SARIF 2.1.0, JUnit XML and one HTML page.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: kiln.launch imports this package first,
if TYPE_CHECKING:      # and typing costs it ~15 ms before the pack can start
    from pathlib import Path
    from typing import Any

    from kiln.audit.report import Report
    from kiln.audit.sources import AuditError

FORMATS = ("json", "sarif", "junit", "html")

__all__ = ["FORMATS", "AuditError", "Report", "audit_export", "audit_stack", "parse_formats"]


def __getattr__(name: str) -> Any:
    # Imported on first use: `kiln audit` starts the pack before loading them.
    if name == "Report":
        from kiln.audit.report import Report

        return Report
    if name == "AuditError":
        from kiln.audit.sources import AuditError

        return AuditError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def parse_formats(text: str) -> list[str]:
    """``"json,sarif"`` → ``["json", "sarif"]``; unknown names are a one-line error."""
    from kiln.audit.sources import AuditError

    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    for name in names:
        if name not in FORMATS:
            raise AuditError(f"unknown report format {name!r}; choose from "
                             f"{', '.join(FORMATS)}")
    return list(dict.fromkeys(names))


def audit_stack(stack: str, *, environment: str | None = None,
                waivers: Path | None = None) -> Report:
    """Audit what ``stack``'s file deploys, from a mock run of the program."""
    from kiln import capture, stackfiles
    from kiln import settings as settings_mod
    from kiln.audit import run, sources

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
    from kiln import stackfiles
    from kiln.audit import run, sources

    project = stackfiles.load_project()
    # The export is read while the pack boots (the analyzer is started first).
    return run.evaluate(lambda: sources.from_export(path, stack),
                        pack=run.pack_dir(project.root), environment=environment or stack,
                        project=project.name, stack=stack, config={}, waivers=waivers)
