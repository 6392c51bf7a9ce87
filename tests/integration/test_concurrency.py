"""Many processes at once on one stack: one operation wins, the ledger never forks."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from kiln.aws.ledger_table import TableLedger, ensure_table
from kiln.project import stackfiles
from kiln.release.ledger import FileLedger

from ..scenario import stand_up
from .opsutil import KILN, ledger, listener_weights

pytestmark = pytest.mark.integration

STACK = "staging"
TABLE = "kiln-ledger"
WORKERS = 8


@pytest.fixture
def deployed(aws, project_copy):
    project = stackfiles.load_project(project_copy)
    stackfiles.update_config(project, STACK, {"kiln:standby": "hot"})
    return stand_up(project_copy, STACK)


def backend_env(backend: str) -> dict[str, str]:
    if backend == "table":
        ensure_table(TABLE)
        return {"KILN_LEDGER_TABLE": TABLE}
    return {}


def start_together(commands: list[list[str]], env: dict[str, str], tmp_path,
                   checkpoint: str, hold: float = 0.0) -> list[subprocess.CompletedProcess]:
    """Start every command, wait until all reached ``checkpoint``, then release them."""

    go = tmp_path / "go"
    fault = f"wait@{checkpoint}={go}" + (f";pause@{hold_at(checkpoint)}={hold}" if hold else "")
    environ = {**os.environ, **env, "KILN_FAULT": fault}
    procs = [subprocess.Popen(c, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for c in commands]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("go.*.ready"))) < len(procs):
        assert time.monotonic() < deadline, "workers did not reach the barrier"
        assert all(p.poll() is None for p in procs), "a worker exited before the barrier"
        time.sleep(0.05)
    go.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


def hold_at(checkpoint: str) -> str:
    """Where the winner pauses, holding the lock: the step after it takes the lock."""
    return checkpoint.rsplit(":", 1)[0] + ":locked"


@pytest.mark.parametrize("backend", ["file", "table"])
def test_concurrent_rollbacks_one_wins(deployed, backend, tmp_path):
    env = backend_env(backend)
    before = stackfiles.load_settings(deployed.project, STACK)
    results = start_together([[KILN, "rollback", STACK]] * WORKERS, env, tmp_path,
                             "rollback:start", hold=3.0)
    winners = [r for r in results if r.returncode == 0]
    losers = [r for r in results if r.returncode != 0]
    assert len(winners) == 1, [r.stderr for r in results]
    for loser in losers:
        assert loser.returncode == 3
        lines = loser.stderr.strip().splitlines()
        assert len(lines) == 1 and f"stack '{STACK}' busy: rollback held by" in lines[0]
    after = stackfiles.load_settings(deployed.project, STACK)
    assert after.live == before.idle
    assert listener_weights(after) == {before.idle: 100, before.live: 0}
    chain = TableLedger(TABLE) if backend == "table" else ledger(deployed.root)
    assert [e.action for e in chain.entries()] == ["rollback", "rollback"]
    assert chain.verify() == 2


APPEND = """
import sys
from pathlib import Path
from kiln.aws.ledger_table import TableLedger
from kiln.release.ledger import FileLedger
chain = TableLedger(sys.argv[2]) if sys.argv[1] == "table" else FileLedger(Path(sys.argv[2]))
for i in range(5):
    chain.append("audit", stack="dev", subject={"n": i}, commit=None, details={"w": sys.argv[3]})
"""


@pytest.mark.parametrize("backend", ["file", "table"])
def test_concurrent_appends_never_fork(aws, backend, tmp_path):
    target = TABLE if backend == "table" else str(tmp_path / "ledger.jsonl")
    if backend == "table":
        ensure_table(TABLE)
    procs = [subprocess.Popen([sys.executable, "-c", APPEND, backend, target, str(w)])
             for w in range(WORKERS)]
    assert [p.wait(timeout=120) for p in procs] == [0] * WORKERS

    chain = TableLedger(TABLE) if backend == "table" else FileLedger(tmp_path / "ledger.jsonl")
    entries = list(chain.entries())
    assert len(entries) == 5 * WORKERS
    assert [e.seq for e in entries] == list(range(5 * WORKERS))
    assert chain.verify() == 5 * WORKERS
