"""Human-readable output of the kiln command: plans, audits, tables (rich)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from kiln.cli.base import out
from kiln.release.record import short_digest

# Findings shown on the terminal; the reports always hold every one.
AUDIT_ROWS = 50


def render_audit(report: Any, written: list[Path]) -> None:
    counts = report.counts()
    table = Table(title=f"{report.stack}: findings ({report.environment} enforcement)",
                  title_justify="left")
    for column in ("severity", "enforcement", "rule", "resource", "message"):
        table.add_column(column, overflow="fold")
    for finding in report.findings[:AUDIT_ROWS]:  # sorted: open and most severe first
        table.add_row(finding.severity, "waived" if finding.waived else finding.enforcement,
                      finding.rule, finding.name, finding.message)
    if report.findings:
        out.print(table)
    hidden = len(report.findings) - AUDIT_ROWS
    if hidden > 0:
        out.print(f"… and {hidden} more findings (every one is in the reports)")
    verdict = "FAIL" if report.exit_code else "PASS"
    out.print(f"{verdict}: {counts['mandatory']} mandatory, {counts['advisory']} advisory, "
              f"{counts['suppressed']} waived; {counts['passed']}/{counts['checks']} checks "
              f"passed over {counts['resources']} resources")
    for path in written:
        out.print(f"wrote {path}")


def _describe(keys: dict[str, Any]) -> str:
    parts = []
    for name, value in keys.items():
        if isinstance(value, dict):
            shown = ", ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list):
            shown = ", ".join(str(v) for v in value) or "none"
        else:
            shown = str(value)
        parts.append(f"{name}={shown}")
    return "  ".join(parts)


def render_plan(result: Any) -> None:
    tree = Tree(f"[bold]{result.project}[/bold] · stack [bold]{result.stack}[/bold] · "
                f"{sum(1 for r in result.resources if r.custom)} resources")

    def add(node: Tree, item: Any) -> None:
        label = Text.assemble((item.name, "bold"), "  ", (short_type(item.type), "cyan"))
        if item.keys:
            label.append("\n" + _describe(item.keys), style="dim")
        branch = node.add(label)
        for child in sorted(item.children, key=lambda c: (not c.custom, c.type, c.name)):
            add(branch, child)

    for root in result.roots:
        add(tree, root)
    out.print(tree)
    table = Table(title=f"{result.stack}: colours", title_justify="left")
    for column in ("colour", "live", "weight %", "image", "min/desired/max",
                   "warm pool", "release"):
        table.add_column(column)
    for colour, info in result.colours.items():
        cap = info["capacity"]
        table.add_row(colour, "yes" if info["live"] else "standby", str(info["weight"]),
                      str(info["image"]), f"{cap['min']}/{cap['desired']}/{cap['max']}",
                      str(info["warmPool"] or "-"), short_digest(info["release"]))
    out.print(table)
    url = result.outputs.get("url")
    if url:
        out.print(f"url: {url} (mock DNS name)")


def short_type(token: str) -> str:
    """``aws:ec2/launchTemplate:LaunchTemplate`` → ``aws:ec2:LaunchTemplate`` (as Pulumi shows)."""
    package, module, member = [*token.split(":"), "", ""][:3]
    return f"{package}:{module.split('/')[0]}:{member}" if member else token


def render_status(result: Any) -> None:
    table = Table(title=f"{result.stack} ({result.region}): live {result.live}",
                  title_justify="left")
    for column in ("colour", "weight %", "instances", "in service", "serving",
                   "healthy targets", "desired", "image", "signed by", "record", "revoked"):
        table.add_column(column)
    for colour, info in result.colours.items():
        desired = info.get("desired")
        table.add_row(colour, str(info["weight"]), str(info["instances"]),
                      str(info.get("inService", "-")), str(info.get("serving", "-")),
                      str(info["healthy"]), "-" if desired is None else str(desired),
                      info["image"], info["signedBy"] or "UNSIGNED",
                      short_digest(info["record"]), info.get("revoked") or "no")
    out.print(table)
    for line in result.drift:
        out.print(f"drift: {line}", markup=False)
    if not result.drift:
        out.print("no drift")


def render_ledger(entries: list[Any]) -> None:
    table = Table(title="ledger", title_justify="left")
    for column in ("seq", "at", "action", "stack", "subject", "actor", "commit"):
        table.add_column(column)
    for e in entries:
        subject = e.subject.get("image") or e.subject.get("record") or "-"
        table.add_row(str(e.seq), e.at, e.action, e.stack or "-", str(subject), e.actor,
                      (e.commit or "-")[:12])
    out.print(table)
