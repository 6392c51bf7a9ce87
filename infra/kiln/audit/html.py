"""One self-contained HTML page a person can read: verdict, severity and control summaries,
and the findings table. No scripts, no external assets — it opens from a mail attachment.
"""

from __future__ import annotations

from collections import Counter
from html import escape

from kiln.audit.report import SEVERITY_ORDER, Finding, Report

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1d232a}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.15rem;margin:2rem 0 .5rem}
.meta{color:#57606a}.verdict{padding:.75rem 1rem;border-radius:6px;font-weight:600;margin:1rem 0}
.pass{background:#dafbe1;color:#116329}.fail{background:#ffebe9;color:#a40e26}
.cards{display:flex;gap:.75rem;flex-wrap:wrap}.card{border:1px solid #d0d7de;border-radius:6px;
padding:.5rem 1rem;min-width:7rem}.card b{display:block;font-size:1.4rem}
table{border-collapse:collapse;width:100%;margin-top:.5rem}
th,td{border-bottom:1px solid #d8dee4;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}code{font-size:12px;word-break:break-all}
.sev{font-weight:600;border-radius:4px;padding:0 .35rem;color:#fff}
.critical{background:#8b0000}.high{background:#cf222e}.medium{background:#bf8700}
.low{background:#57606a}.waived{color:#57606a;text-decoration:line-through}
"""


def _severity(name: str) -> str:
    return f'<span class="sev {escape(name)}">{escape(name or "-")}</span>'


def _finding_row(finding: Finding) -> str:
    if finding.waived and finding.waiver:
        w = finding.waiver
        status = (f"waived by {escape(str(w.get('approver')))} until "
                  f"{escape(str(w.get('expires')))}: {escape(str(w.get('justification')))}")
    else:
        status = "open"
    cls = "finding waived" if finding.waived else "finding"
    return (f'<tr class="{cls}" data-rule="{escape(finding.rule)}">'
            f"<td>{_severity(finding.severity)}</td><td>{escape(finding.enforcement)}</td>"
            f"<td><code>{escape(finding.rule)}</code></td>"
            f"<td>{escape(finding.name)}<br><code>{escape(finding.type)}</code></td>"
            f"<td>{escape(finding.message)}</td><td>{status}</td></tr>")


def _controls(report: Report) -> str:
    status: dict[str, Counter[str]] = {}
    for check in report.checks:
        status.setdefault(check.rule, Counter())[check.status] += 1
    rows = []
    for framework in report.frameworks:
        for control, title in framework.controls.items():
            rules = [r for r, mapped in framework.rules.items() if control in mapped]
            total: Counter[str] = Counter()
            for rule in rules:
                total.update(status.get(rule, Counter()))
            rows.append(f"<tr><td>{escape(framework.name)} {escape(framework.version)}</td>"
                        f"<td><b>{escape(control)}</b> {escape(title)}</td>"
                        f"<td>{len(rules)}</td><td>{total['passed']}</td>"
                        f"<td>{total['failed']}</td><td>{total['waived']}</td></tr>")
    return ("<table id=controls><tr><th>framework</th><th>control</th><th>rules</th>"
            "<th>passed</th><th>failed</th><th>waived</th></tr>" + "".join(rows) + "</table>")


def render(report: Report) -> str:
    counts = report.counts()
    verdict = ("pass", f"PASS — no mandatory violations ({counts['advisory']} advisory)") \
        if report.exit_code == 0 else \
        ("fail", f"FAIL — {counts['mandatory']} mandatory violation(s) block this stack")
    cards = "".join(f'<div class="card">{_severity(s)}<b>{counts["bySeverity"][s]}</b>open '
                    f"findings</div>" for s in SEVERITY_ORDER)
    cards += "".join(f'<div class="card">{name}<b>{counts[key]}</b>checks</div>'
                     for key, name in (("passed", "passed"), ("failed", "failed"),
                                       ("waived", "waived")))
    findings = "".join(_finding_row(f) for f in report.findings) or \
        '<tr><td colspan=6>No findings: every rule passed.</td></tr>'
    rules = "".join(
        f"<tr><td><code>{escape(r.name)}</code></td><td>{_severity(r.severity)}</td>"
        f"<td>{escape(report.levels.get(r.name, r.level))}</td><td>{escape(r.description)}"
        f"</td><td>{escape(r.remediation)}</td></tr>" for r in report.rules)
    title = f"kiln audit — {report.project} / {report.stack}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{STYLE}</style></head>
<body>
<h1>{escape(title)}</h1>
<div class="meta">environment <b>{escape(report.environment)}</b> · policy pack
{escape(report.pack.get("name", ""))} {escape(report.pack.get("version", ""))} ·
source {escape(report.origin)} · {counts["resources"]} resources, {counts["checks"]} checks ·
generated {escape(report.generated)}</div>
<div class="verdict {verdict[0]}" id="verdict">{escape(verdict[1])}</div>
<h2>By severity</h2><div class="cards" id="severity">{cards}</div>
<h2>Findings ({len(report.findings)})</h2>
<table id="findings"><tr><th>severity</th><th>enforcement</th><th>rule</th><th>resource</th>
<th>message</th><th>status</th></tr>{findings}</table>
<h2>By control</h2>{_controls(report)}
<h2>Rules ({len(report.rules)})</h2>
<table id="rules"><tr><th>rule</th><th>severity</th><th>enforcement</th><th>checks</th>
<th>remediation</th></tr>{rules}</table>
</body></html>
"""
