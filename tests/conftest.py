"""Shared fixtures: the project, its stacks, and a recording mock run of components."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kiln import stackfiles
from kiln.settings import StackSettings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def project() -> stackfiles.Project:
    return stackfiles.load_project(ROOT)


@pytest.fixture(scope="session")
def stack_names(project: stackfiles.Project) -> list[str]:
    return project.stacks()


@pytest.fixture(scope="session")
def dev_settings(project: stackfiles.Project) -> StackSettings:
    return stackfiles.load_settings(project, "dev")


@pytest.fixture
def run_components() -> Callable[..., Any]:
    """Run a callable that builds components under the recording mock monitor."""
    from kiln import capture

    def run(body: Callable[[], Any], stack: str = "test",
            region: str = "eu-west-1") -> capture.Capture:
        return capture.run(body, "kiln", stack, {"aws:region": region})

    return run


@pytest.fixture
def project_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A writable copy of the project (stack files and Pulumi.yaml; the program is shared)."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    shutil.copytree(ROOT / "stacks", root / "stacks")
    (root / "infra").symlink_to(ROOT / "infra")
    monkeypatch.setenv("KILN_PROJECT_DIR", str(root))
    yield root
