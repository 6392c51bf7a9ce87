"""`kiln demo`: the whole pipeline on the local stand-ins, end to end."""

from __future__ import annotations

import json
import shutil

import pytest

from .opsutil import run_kiln

pytestmark = pytest.mark.integration

NEEDS = ("packer", "dockerd", "docker-registry", "busybox")


@pytest.mark.skipif(any(shutil.which(tool) is None for tool in NEEDS),
                    reason=f"kiln demo needs {', '.join(NEEDS)} (.ci/run installs them)")
def test_demo_runs_the_pipeline(tmp_path, monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "KILN_PROJECT_DIR", "KILN_LEDGER_TABLE"):
        monkeypatch.delenv(name, raising=False)
    result = run_kiln("demo", "--json", timeout=600)
    assert result.returncode == 0, result.stderr
    steps = {}
    for step in json.loads(result.stdout)["steps"]:
        steps.setdefault(step["name"], []).append(step["outcome"])
    assert steps["bake golden"][0].startswith("baked with Packer: ami-")
    assert steps["bake golden again"][0].startswith("cache hit, Packer not run")
    assert "@sha256:" in steps["bake container"][0]
    assert steps["status dev"][0].endswith("drift: none")
    assert all("one ModifyListener call" in o for o in steps["rollback dev"])
    first, second = steps["promote dev → staging"]
    assert first.startswith("refused: history gate") and "was rolled back on dev" in first
    assert not second.startswith("refused")
    assert "encrypted copy" in steps["promote staging → prod"][0]
    for stack in ("dev", "staging", "prod"):
        assert steps[f"audit {stack}"][0].startswith("PASS"), steps[f"audit {stack}"]
    assert "hash chain intact, every entry signed by kiln-demo" in steps["ledger verify"][0]
    assert "agrees at seq" in steps["ledger verify"][0]
    assert steps["rollback dev (again)"][0].endswith("no call")
    assert "served" in steps["traffic dev --canary 50,100"][0]
    assert "verified offline" in steps["evidence bundle (dev)"][0]
    assert not any(o.startswith("refused") for name, outs in steps.items()
                   for o in outs if name != "promote dev → staging")
