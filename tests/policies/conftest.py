"""The pack's rules package on the path, and one policy server per session for the
protocol tests (started exactly as the engine starts it)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "policies" / "immutable"
sys.path.insert(0, str(PACK))

from kiln.audit import packconfig  # noqa: E402
from kiln.audit.analyzer import Analyzer  # noqa: E402
from tests.policies import fixtures as fx  # noqa: E402


@pytest.fixture(scope="session")
def pack_dir() -> Path:
    return PACK


@pytest.fixture(scope="session")
def analyzer() -> Iterator[Any]:
    """The pack under test config: every rule mandatory, test keys trusted."""
    server = Analyzer(PACK, project="kiln", stack="test", config={"aws:region": fx.REGION})
    with server:
        server.connect()
        infos = packconfig.policies(server.info())
        server.configure(packconfig.reconcile(infos, {"all": "mandatory", **fx.CONFIG},
                                              "test config"))
        server.policy_infos = infos  # type: ignore[attr-defined]
        yield server
