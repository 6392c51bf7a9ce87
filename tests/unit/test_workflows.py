"""The CI workflows users copy: linted by actionlint and zizmor, and wired the way docs/ci.md
says (pinned actions, OIDC, one concurrency group per stack, approvals, SARIF per stack)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
GITHUB = ROOT / ".github"
BIN = Path(sys.executable).parent
WORKFLOWS = {p.stem: YAML(typ="safe").load(p.read_text()) for p in
             sorted((GITHUB / "workflows").glob("*.yml"))}
ACTIONS = {p.parent.name: YAML(typ="safe").load(p.read_text()) for p in
           sorted((GITHUB / "actions").glob("*/action.yml"))}
PINNED = re.compile(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}")
STACKS = ("dev", "staging", "prod")


def _tool(name: str) -> str:
    path = BIN / name if (BIN / name).exists() else shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (pip install it from requirements-dev.txt)")
    return str(path)


def _actionlint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_tool("actionlint"), "-no-color"], cwd=root, capture_output=True,
                          text=True, timeout=120, check=False)


def _zizmor(github: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_tool("zizmor"), "--offline", "--no-progress", "--config",
                           str(github / "zizmor.yml"), str(github)], capture_output=True,
                          text=True, timeout=120, check=False)


def test_actionlint_finds_nothing() -> None:
    result = _actionlint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing() -> None:
    result = _zizmor(GITHUB)
    assert result.returncode == 0, result.stdout + result.stderr


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(GITHUB, tmp_path / ".github")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    return tmp_path


def test_the_linters_fail_a_workflow_that_injects_a_pull_request_title(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = root / ".github" / "workflows" / "pull-request.yml"
    text = path.read_text()
    assert '.venv/bin/kiln plan "$STACK"' in text
    path.write_text(text.replace('.venv/bin/kiln plan "$STACK"',
                                 '.venv/bin/kiln plan "${{ github.event.pull_request.title }}"'))
    assert _zizmor(root / ".github").returncode != 0


def test_the_linters_fail_an_unpinned_third_party_action(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = root / ".github" / "workflows" / "rollback.yml"
    assert re.search(r"configure-aws-credentials@[0-9a-f]{40}", path.read_text())
    path.write_text(re.sub(r"configure-aws-credentials@[0-9a-f]{40}",
                           "configure-aws-credentials@v5", path.read_text()))
    assert _zizmor(root / ".github").returncode != 0


def test_the_linters_fail_an_unknown_runner_label(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = root / ".github" / "workflows" / "pipeline.yml"
    path.write_text(path.read_text().replace("kiln-bake]", "kiln-baker]"))
    assert "kiln-baker" in _actionlint(root).stdout


def _steps() -> list[tuple[str, dict[str, Any]]]:
    found = [(f"{name}/{job_id}", step) for name, flow in WORKFLOWS.items()
             for job_id, job in flow["jobs"].items() for step in job["steps"]]
    return found + [(f"action {name}", step) for name, action in ACTIONS.items()
                    for step in action["runs"]["steps"]]


def test_every_action_is_pinned_to_a_commit() -> None:
    for where, step in _steps():
        uses = step.get("uses", "./")
        assert uses.startswith("./") or PINNED.fullmatch(uses), f"{where}: {uses}"


def test_every_step_runs_kiln_or_pulumi() -> None:
    allowed = (".venv/bin/kiln ", "pulumi ", "make venv", "bash .ci/run", "gh pr comment ",
               ".github/actions/commit-back/commit-back.sh")
    for where, step in _steps():
        if "run" not in step:
            continue
        commands = [line.strip() for line in step["run"].splitlines()
                    if line.strip() and not re.fullmatch(r"[{}]|echo .*|}.*", line.strip())]
        assert commands and all(c.startswith(allowed) for c in commands), f"{where}: {commands}"


def test_the_pulumi_cli_is_the_minimum_the_project_requires() -> None:
    project = YAML(typ="safe").load((ROOT / "Pulumi.yaml").read_text())
    minimum = project["requiredPulumiVersion"].removeprefix(">=")
    versions = [step["with"]["pulumi-version"] for _, step in _steps()
                if step.get("uses", "").startswith("pulumi/actions@")]
    assert versions and {str(v) for v in versions} == {minimum}
    assert minimum in (ROOT / "docs" / "ci.md").read_text()
    assert minimum in (ROOT / "docs" / "first-deploy.md").read_text()


def test_aws_access_is_by_oidc_only() -> None:
    text = "".join(p.read_text() for p in GITHUB.rglob("*.yml"))
    assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text
    for flow in WORKFLOWS.values():
        assert flow["permissions"] == {}
        for job_id, job in flow["jobs"].items():
            assumes = any("configure-aws-credentials" in s.get("uses", "") for s in job["steps"])
            assert assumes == (job["permissions"].get("id-token") == "write"), job_id
            for step in job["steps"]:
                if "configure-aws-credentials" in step.get("uses", ""):
                    assert set(step["with"]) == {"role-to-assume", "aws-region"}


def test_the_pipeline_promotes_through_approvals_one_stack_at_a_time() -> None:
    jobs = WORKFLOWS["pipeline"]["jobs"]
    assert WORKFLOWS["pipeline"]["on"] == {"push": {"branches": ["main"]}}
    assert [jobs[j]["needs"] for j in ("bake", *STACKS)] == ["test", "bake", "dev", "staging"]
    assert "kiln-bake" in jobs["bake"]["runs-on"] and "self-hosted" in jobs["bake"]["runs-on"]
    for stack in STACKS:
        job = jobs[stack]
        assert job["environment"] == stack
        assert job["concurrency"] == {"group": f"kiln-stack-{stack}", "cancel-in-progress": False}
        runs = " ".join(s.get("run", "") for s in job["steps"])
        assert "--stage-only" in runs and f"kiln traffic {stack} 100" in runs
        assert f"kiln evidence {stack} --out" in runs
        uses = [s.get("uses", "") for s in job["steps"]]
        assert any(u.startswith("actions/upload-artifact@") for u in uses)
        assert "./.github/actions/commit-back" in uses
    def commands(job: str) -> str:
        return " ".join(s.get("run", "") for s in jobs[job]["steps"])
    assert "kiln deploy dev" in commands("dev")
    assert "kiln promote dev staging" in commands("staging")
    assert "kiln promote staging prod" in commands("prod")


def test_sarif_is_uploaded_with_one_category_per_stack() -> None:
    for name in ("pipeline", "pull-request"):
        categories = [step["with"]["category"] for _, step in _steps()
                      if step.get("uses", "").startswith("github/codeql-action/upload-sarif@")
                      and _.startswith(f"{name}/")]
        expected = ["kiln-${{ matrix.stack }}"] if name == "pull-request" else \
            [f"kiln-{s}" for s in STACKS]
        assert categories == expected


def test_rollback_is_manual_and_shares_the_stack_group() -> None:
    flow = WORKFLOWS["rollback"]
    stack = flow["on"]["workflow_dispatch"]["inputs"]["stack"]
    assert stack["type"] == "choice" and stack["options"] == list(STACKS)
    job = flow["jobs"]["rollback"]
    assert job["concurrency"]["group"] == "kiln-stack-${{ inputs.stack }}"
    assert job["environment"] == "${{ inputs.stack }}"
    assert any('kiln rollback "$STACK"' in s.get("run", "") for s in job["steps"])


def test_pull_requests_plan_and_audit_every_stack_without_cloud_access() -> None:
    job = WORKFLOWS["pull-request"]["jobs"]["plan"]
    assert job["strategy"]["matrix"]["stack"] == list(STACKS)
    assert "id-token" not in job["permissions"] and "contents" in job["permissions"]
    runs = " ".join(s.get("run", "") for s in job["steps"])
    assert 'kiln plan "$STACK"' in runs and 'kiln audit "$STACK"' in runs
    assert "gh pr comment" in runs


def test_write_back_never_retriggers_the_pipeline() -> None:
    script = (GITHUB / "actions" / "commit-back" / "commit-back.sh").read_text()
    assert "[skip ci]" in script and "--force" not in script
    for where, step in _steps():
        if step.get("uses") == "./.github/actions/commit-back":
            assert step["with"]["token"] == "${{ github.token }}", where


def test_docs_explain_every_variable_and_the_bake_label() -> None:
    text = "".join(p.read_text() for p in (GITHUB / "workflows").glob("*.yml"))
    doc = (ROOT / "docs" / "ci.md").read_text()
    for variable in sorted(set(re.findall(r"vars\.(\w+)", text))):
        assert f"`{variable}`" in doc, variable
    for job in ("test", "bake", "dev", "staging", "prod", "rollback", "pull request"):
        assert job in doc
    assert "kiln-bake" in doc
