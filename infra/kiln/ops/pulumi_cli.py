"""The only user of ``pulumi.automation``: run `pulumi up` for a stack with the policy pack.

Needs the Pulumi CLI on PATH. Without it, operations leave the reviewed stack-file diff and
print :func:`up_command` — the exact command to run where the CLI is.
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Callable
from pathlib import Path

from kiln.errors import OperationError
from kiln.project.layout import PACK_DIR


class PulumiError(OperationError):
    """`pulumi up` failed (message is one line)."""


def cli_available() -> bool:
    return shutil.which("pulumi") is not None


def _pack_config(root: Path, stack: str) -> Path:
    return root / PACK_DIR / "config" / f"{stack}.json"


def up_command(root: Path, stack: str) -> str:
    """The `pulumi up` an operator or CI runs for ``stack``, from the project root."""
    parts = ["pulumi", "up", "--stack", stack, "--yes", "--policy-pack", str(PACK_DIR)]
    if _pack_config(root, stack).exists():
        parts += ["--policy-pack-config", str(_pack_config(root, stack).relative_to(root))]
    return shlex.join(parts)


def up(root: Path, stack: str, on_output: Callable[[str], object] | None = None) -> dict:
    """Run `pulumi up` for ``stack`` through the Automation API; return its outputs."""
    # The Automation API (~0.4 s) loads only when the Pulumi CLI is here to run.
    from pulumi import automation  # noqa: PLC0415

    config = _pack_config(root, stack)
    try:
        # A first deploy meets a backend without the stack yet: create it, as
        # `pulumi stack init` would, with the backend's default secrets provider.
        selected = automation.create_or_select_stack(stack_name=stack, work_dir=str(root))
        result = selected.up(on_output=on_output, policy_packs=[str(root / PACK_DIR)],
                             policy_pack_configs=[str(config)] if config.exists() else None)
    except automation.errors.CommandError as error:
        last = [line for line in str(error).splitlines() if line.strip()]
        raise PulumiError(f"pulumi up --stack {stack} failed: "
                          f"{last[-1].strip() if last else 'see its output'}") from None
    return {name: out.value for name, out in result.outputs.items()}
