"""What a first real `pulumi up` meets: a stack not created yet, and an ESC environment."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pulumi import automation
from typer.testing import CliRunner

from kiln.cli.app import app
from kiln.ops import pulumi_cli
from kiln.project import stackfiles

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


class _Workspace:
    """The Automation API's view of a project with no stacks yet (a fresh backend)."""

    def __init__(self) -> None:
        self.stacks: set[str] = set()
        self.ups: list[dict[str, Any]] = []

    def select_stack(self, stack_name: str, work_dir: str, **_: Any) -> Any:
        if stack_name not in self.stacks:
            raise automation.errors.StackNotFoundError(
                automation.errors.CommandResult("", f"no stack named '{stack_name}' found", 255))
        return self._stack(stack_name)

    def create_or_select_stack(self, stack_name: str, work_dir: str, **_: Any) -> Any:
        self.stacks.add(stack_name)
        return self._stack(stack_name)

    def _stack(self, name: str) -> Any:
        def up(**kwargs: Any) -> Any:
            self.ups.append({"stack": name, **kwargs})
            return SimpleNamespace(outputs={"albDns": SimpleNamespace(value="x.elb")})
        return SimpleNamespace(up=up)


@pytest.fixture
def workspace(monkeypatch: pytest.MonkeyPatch) -> _Workspace:
    fake = _Workspace()
    monkeypatch.setattr(automation, "select_stack", fake.select_stack)
    monkeypatch.setattr(automation, "create_or_select_stack", fake.create_or_select_stack)
    return fake


def test_up_creates_a_stack_the_backend_does_not_have_yet(workspace: _Workspace,
                                                          project_copy: Path) -> None:
    outputs = pulumi_cli.up(project_copy, "dev")
    assert outputs == {"albDns": "x.elb"}
    assert workspace.stacks == {"dev"}
    assert workspace.ups[0]["policy_packs"] == [str(project_copy / "policies" / "immutable")]


def test_up_selects_an_existing_stack(workspace: _Workspace, project_copy: Path) -> None:
    workspace.stacks.add("prod")
    pulumi_cli.up(project_copy, "prod")
    assert [u["stack"] for u in workspace.ups] == ["prod"]


def _with_environment(root: Path, stack: str, block: str) -> None:
    path = root / "stacks" / f"Pulumi.{stack}.yaml"
    path.write_text(path.read_text() + block)


@pytest.mark.parametrize("block", ["environment:\n  - kiln/dev\n",
                                   "environment:\n  imports:\n    - kiln/dev\n",
                                   "environment: kiln/dev\n"])
def test_reading_config_refuses_an_esc_environment(project_copy: Path, block: str) -> None:
    _with_environment(project_copy, "dev", block)
    project = stackfiles.load_project(project_copy)
    with pytest.raises(stackfiles.StackFileError) as raised:
        stackfiles.read_config(project, "dev")
    message = str(raised.value)
    assert "\n" not in message
    assert "Pulumi.dev.yaml" in message and "kiln/dev" in message and "environment" in message


def test_an_empty_environment_changes_nothing(project_copy: Path) -> None:
    project = stackfiles.load_project(project_copy)
    before = stackfiles.read_config(project, "dev")
    _with_environment(project_copy, "dev", "environment: []\n")
    assert stackfiles.read_config(project, "dev") == before


@pytest.mark.parametrize("verb", ["plan", "audit"])
def test_plan_and_audit_refuse_in_one_line(project_copy: Path, verb: str,
                                           tmp_path: Path) -> None:
    (project_copy / "policies").symlink_to(ROOT / "policies")
    _with_environment(project_copy, "staging", "environment:\n  - kiln/staging\n")
    args = [verb, "staging"] + (["--out", str(tmp_path / "reports")] if verb == "audit" else [])
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "kiln/staging" in lines[0], result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "reports").exists()
