"""Waivers: a reviewed, expiring exception to one rule for matching resources of one stack.

``waivers.yaml`` beside the pack (or the file named by ``KILN_WAIVERS``)::

    waivers:
      - rule: kiln-ec2-launchtemplate-imdsv2-required
        resource: web-blue-lt          # glob over the resource's name or its full URN
        stack: dev                     # glob over the stack name
        justification: legacy agent needs IMDSv1 until the 2.4 image
        approver: jane.doe@example.com
        expires: 2026-12-31            # last day the waiver applies (UTC)

A malformed file, an unknown rule id or an expired waiver raises :class:`WaiverError` when
the pack starts, so the whole run fails rather than silently un-waiving (or over-waiving).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

FIELDS = ("rule", "resource", "stack", "justification", "approver", "expires")
ENV_PATH = "KILN_WAIVERS"
DEFAULT_PATH = Path(__file__).resolve().parents[1] / "waivers.yaml"


class WaiverError(ValueError):
    """The waiver file is unreadable, malformed or holds an expired waiver (one line)."""


@dataclass(frozen=True)
class Waiver:
    index: int
    rule: str
    resource: str
    stack: str
    justification: str
    approver: str
    expires: dt.date

    def matches(self, rule: str, stack: str, urn: str, name: str) -> bool:
        if rule != self.rule or not fnmatch.fnmatchcase(stack, self.stack):
            return False
        return fnmatch.fnmatchcase(name, self.resource) or \
            fnmatch.fnmatchcase(urn, self.resource)

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "rule": self.rule, "resource": self.resource,
                "stack": self.stack, "justification": self.justification,
                "approver": self.approver, "expires": self.expires.isoformat()}


def path() -> Path:
    """The waiver file in force: ``$KILN_WAIVERS`` or ``waivers.yaml`` beside the pack."""
    override = os.environ.get(ENV_PATH)
    return Path(override) if override else DEFAULT_PATH


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise WaiverError(f"{where}.expires: {value!r} is not a date (YYYY-MM-DD)") from None


def parse(data: Any, known_rules: Iterable[str], today: dt.date, source: str
          ) -> list[Waiver]:
    """Validate the loaded YAML; every problem is one line naming the waiver and the field."""
    if data is None:
        return []
    if not isinstance(data, Mapping) or set(data) - {"waivers"}:
        raise WaiverError(f"{source}: expected a mapping with one key, 'waivers'")
    entries = data.get("waivers")
    entries = [] if entries is None else entries
    if not isinstance(entries, list):
        raise WaiverError(f"{source}: 'waivers' must be a list")
    known = set(known_rules)
    waivers = []
    for index, entry in enumerate(entries):
        where = f"{source}: waivers[{index}]"
        if not isinstance(entry, Mapping):
            raise WaiverError(f"{where} is not a mapping of {', '.join(FIELDS)}")
        unknown = sorted(set(entry) - set(FIELDS))
        if unknown:
            raise WaiverError(f"{where}: unknown field {unknown[0]!r}; fields are "
                              f"{', '.join(FIELDS)}")
        for name in FIELDS:
            value = entry.get(name)
            if name != "expires" and (not isinstance(value, str) or not value.strip()):
                raise WaiverError(f"{where}.{name} is missing or empty")
        if entry["rule"] not in known:
            raise WaiverError(f"{where}.rule: {entry['rule']!r} is not a rule of this pack")
        if "expires" not in entry:
            raise WaiverError(f"{where}.expires is missing; every waiver expires")
        expires = _date(entry["expires"], where)
        if expires < today:
            raise WaiverError(f"{where} ({entry['rule']} on {entry['resource']}) expired on "
                              f"{expires.isoformat()}; renew it or fix the finding")
        waivers.append(Waiver(index, entry["rule"], entry["resource"], entry["stack"],
                              entry["justification"].strip(), entry["approver"].strip(),
                              expires))
    return waivers


def load(known_rules: Iterable[str], today: dt.date | None = None,
         file: Path | None = None) -> list[Waiver]:
    """Read and validate the waiver file; a missing default file means no waivers."""
    file = file or path()
    today = today or dt.datetime.now(dt.UTC).date()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        if file == DEFAULT_PATH:
            return []
        raise WaiverError(f"{file}: file not found") from None
    except OSError as error:
        raise WaiverError(f"{file}: cannot read ({error.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise WaiverError(f"{file}:{line} is not valid YAML") from None
    return parse(data, known_rules, today, file.name)


def find(waivers: Iterable[Waiver], rule: str, stack: str, urn: str, name: str
         ) -> Waiver | None:
    """The first waiver covering this rule and resource in this stack."""
    return next((w for w in waivers if w.matches(rule, stack, urn, name)), None)
