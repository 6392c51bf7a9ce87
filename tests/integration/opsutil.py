"""Helpers for operation tests: run kiln as a process, count AWS calls, read state."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kiln.aws import clients, traffic
from kiln.model.stack import StackSettings
from kiln.release.ledger import FileLedger

KILN = str(Path(sys.executable).parent / "kiln")
MUTATING_PREFIXES = ("Create", "Modify", "Put", "Update", "Delete", "Register", "Deregister",
                     "Set", "Attach", "Detach", "Start", "Stop", "Terminate", "Run", "Add",
                     "Remove", "Authorize", "Revoke", "Associate", "Disassociate", "Copy",
                     "Import", "Tag", "Untag", "Execute", "Complete", "Enter", "Exit",
                     "Suspend", "Resume")


def run_kiln(*args: str, fault: str | None = None, timeout: float = 120,
             env: dict[str, str] | None = None, cwd: Path | None = None
             ) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, **(env or {})}
    environ.pop("KILN_FAULT", None)
    if fault:
        environ["KILN_FAULT"] = fault
    return subprocess.run([KILN, *args], capture_output=True, text=True, timeout=timeout,
                          env=environ, check=False, cwd=cwd)


@contextmanager
def session_hook(event: str, handler: Any) -> Iterator[None]:
    """Register a botocore event handler on kiln's session for the block."""
    session = clients._session()
    session.register(event, handler)
    clients.reset()  # clients copy the session's hooks when created
    try:
        yield
    finally:
        session.unregister(event, handler)
        clients.reset()


@contextmanager
def aws_calls() -> Iterator[list[str]]:
    """Record every AWS operation name called through kiln's clients in this process."""
    seen: list[str] = []

    def record(model: Any, **_: Any) -> None:
        seen.append(model.name)

    with session_hook("before-call", record):
        yield seen


def mutating(calls: list[str]) -> list[str]:
    return [c for c in calls if c.startswith(MUTATING_PREFIXES)]


def listener_weights(settings: StackSettings) -> dict[str, int]:
    deployment = traffic.discover(settings.region, settings.service.name, settings.stack)
    return traffic.weights(deployment)


def ledger(root: Path) -> FileLedger:
    return FileLedger(root / "ledger" / "kiln.jsonl")


def asg_of(region: str, colour: str) -> dict[str, Any]:
    """The ASG tagged with ``colour``."""
    autoscaling = clients.client("autoscaling", region)
    for group in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]:
        if any(t["Key"] == "kiln:colour" and t["Value"] == colour for t in group["Tags"]):
            return dict(group)
    raise AssertionError(f"no ASG for colour {colour}")


def stop_instances(region: str, colour: str, keep: int = 0) -> None:
    """Stop all but ``keep`` of a colour's instances (their targets turn unhealthy)."""
    ids = [i["InstanceId"] for i in asg_of(region, colour)["Instances"]][keep:]
    clients.client("ec2", region).stop_instances(InstanceIds=ids)
