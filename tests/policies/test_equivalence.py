"""The two audit paths agree: the rules evaluated in this process and the real pack over the
engine's gRPC protocol give the same findings and checks, on every rule case and on a
generated 5,000-resource export."""

from __future__ import annotations

import json
from dataclasses import astuple
from pathlib import Path

import pytest

from kiln.audit import run, sources
from kiln.audit.report import Report
from tests.policies import auditkit as ak
from tests.policies import fixtures as fx
from tests.policies import generated as gen
from tests.policies.attack_cases import ALL as CASES

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pack(tmp_path_factory) -> Path:
    """The pack with a test environment: every rule mandatory, the test keys trusted."""
    copy = ak.pack_copy(tmp_path_factory.mktemp("pack"))
    (copy / "config" / "test.json").write_text(json.dumps({"all": "mandatory", **fx.CONFIG}))
    return copy


def _both(source: sources.Source, pack: Path) -> tuple[Report, Report]:
    reports = tuple(run.evaluate(lambda: source, pack=pack, environment="test",
                                 project=source.project, stack=source.stack,
                                 config=dict(source.config), analyzer=analyzer)
                    for analyzer in (False, True))
    return reports[0], reports[1]


def _same(ours: Report, theirs: Report) -> None:
    assert [f.to_json() for f in ours.findings] == [f.to_json() for f in theirs.findings]
    assert sorted(map(astuple, ours.checks)) == sorted(map(astuple, theirs.checks))
    assert ours.counts() == theirs.counts()
    assert [r.name for r in ours.rules] == [r.name for r in theirs.rules]
    assert ours.levels == theirs.levels


def test_every_rule_case_gives_the_same_findings(pack):
    source = gen.cases_source()
    ours, theirs = _both(source, pack)
    _same(ours, theirs)
    fired: dict[str, set[str]] = {}
    for finding in ours.findings:
        fired.setdefault(finding.name, set()).add(finding.rule)
    resource_rules = {r.name for r in ours.rules if not r.stack}
    for case in CASES:
        assert fired.get(case.id, set()) & resource_rules == case.expected, case.id


def test_a_generated_export_of_5000_resources_gives_the_same_findings(pack, tmp_path):
    path = gen.write_export(gen.generated_source(5000), tmp_path / "test.json")
    source = sources.from_export(path, gen.STACK)
    ours, theirs = _both(source, pack)
    assert ours.resources == 5000
    assert ours.counts()["findings"] > 100  # SSH, patches, floating versions, mutable tags
    _same(ours, theirs)
