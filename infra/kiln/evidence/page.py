"""The bundle's ``index.html``: the release's timeline, what was checked, what is inside.

One self-contained page (no scripts, no external assets) an auditor opens first. Each step
shows the state it had when the bundle was made; ``kiln evidence verify`` re-checks all of
it offline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#1d232a;max-width:70rem}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.15rem;margin:2rem 0 .5rem}
.meta{color:#57606a}table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #d8dee4;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}code{font-size:12px;word-break:break-all}
.state{font-weight:600;border-radius:4px;padding:0 .4rem}
.ok{background:#dafbe1;color:#116329}.bad{background:#ffebe9;color:#a40e26}
.note{background:#fff8c5;color:#6f4e00}
"""


def _state(ok: bool | None, text: str) -> str:
    css = "note" if ok is None else ("ok" if ok else "bad")
    return f'<span class="state {css}">{escape(text)}</span>'


def _row(*cells: str) -> str:
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _step_state(step: Mapping[str, Any], ledger_ok: bool) -> str:
    chain = "entry sealed, chain intact" if ledger_ok else "entry sealed; chain BROKEN"
    if step["phase"] == "intent":
        return _state(None, "intent only: not proof it ran")
    if step["action"] == "sign":
        return _state(ledger_ok, "signature verified; " + chain)
    return _state(ledger_ok, chain)


def render(summary: Mapping[str, Any], ledger: Mapping[str, Any],
           members: Sequence[str]) -> str:
    """The page for ``summary`` (timeline.json's content) and the ledger's state."""
    release = str(summary["release"])
    ledger_ok = bool(ledger.get("ok"))
    steps = "".join(_row(escape(str(s["at"])), f"<b>{escape(str(s['label']))}</b>",
                         escape(str(s["actor"])), f"<code>{escape(str(s['seq']))}</code>",
                         _step_state(s, ledger_ok))
                    for s in summary["timeline"])
    family = "".join(_row(escape(f["role"]), escape(f"{f['name']} ({f['kind']})"),
                          "<br>".join(f"<code>{escape(i)}</code> {escape(loc)}"
                                      for i, loc in f["images"]),
                          escape(str(f["builtAt"])), f"<code>{escape(str(f['commit']))}</code>",
                          _state(True, "record signed by " + str(summary["signer"])))
                     for f in summary["family"])
    stacks = ", ".join(escape(s) for s in summary["stacks"]) or "none yet"
    ledger_line = (_state(True, f"ledger verified: {ledger.get('entries')} entries, chain "
                                "intact") if ledger_ok
                   else _state(False, f"ledger did NOT verify: {ledger.get('error')}"))
    listing = "".join(f"<li><a href=\"{escape(m)}\"><code>{escape(m)}</code></a></li>"
                      for m in members)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kiln evidence {escape(release)}</title>
<style>{STYLE}</style></head><body>
<h1>Evidence for release <code id="release">{escape(release)}</code></h1>
<p class="meta">Bundled {escape(str(summary['createdAt']))}, signed by key
<b>{escape(str(summary['signer']))}</b>. Check it offline with
<code>kiln evidence verify &lt;this archive&gt; --key &lt;trusted key&gt;</code>.</p>
<p id="ledger">{ledger_line}</p>
<p id="stacks">Served on: <b>{stacks}</b></p>
<h2>Timeline</h2>
<table id="timeline"><thead><tr><th>when</th><th>what</th><th>who</th><th>ledger seq</th>
<th>state when bundled</th></tr></thead><tbody>{steps}</tbody></table>
<h2>Artifacts</h2>
<table id="artifacts"><thead><tr><th>role</th><th>artifact</th><th>images</th><th>built</th>
<th>commit</th><th>state</th></tr></thead><tbody>{family}</tbody></table>
<h2>Contents</h2><ul id="contents">{listing}</ul>
</body></html>
"""
