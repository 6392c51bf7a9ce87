"""What every operation needs: the project, its ledger and stack locks, the commit."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from kiln.aws.ledger_table import TableLocks
from kiln.project import layout, stackfiles
from kiln.project.locks import FileLocks, StackLock
from kiln.records.ledgers import open_ledger
from kiln.release.ledger import Ledger


@dataclass(frozen=True)
class Context:
    project: stackfiles.Project
    ledger: Ledger
    locks: StackLock
    commit: str | None


def git_commit(root: Path) -> str | None:
    """HEAD of the project's repository, with ``+dirty`` when the tree has changes."""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], check=True,
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                "--untracked-files=no"], check=True, capture_output=True,
                               text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}+dirty" if dirty else head


def open_context(project: stackfiles.Project | None = None) -> Context:
    project = project or stackfiles.load_project()
    locks: StackLock
    if layout.ledger_table():
        locks = TableLocks(str(layout.ledger_table()))
    else:
        locks = FileLocks(layout.ledger_path(project.root).parent / "locks")
    return Context(project, open_ledger(project.root), locks, git_commit(project.root))
