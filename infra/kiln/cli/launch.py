"""The ``kiln`` command's entry point.

``kiln audit --export FILE --stack STACK`` spends much of its time waiting for the policy
pack, whose process boots for about half a second before it answers. So the pack is started
here, from the raw arguments and with the standard library only, before the CLI and its
libraries are imported, and boots while they load.

This is a head start, not a decision: the audit takes the process over only if it would have
started exactly the same one (:func:`kiln.audit.process.take`), and otherwise stops it and
starts its own. So the arguments and the project's name are read here the cheap way; the CLI
reads them properly and reports what is wrong with them. Every other command goes straight
to the CLI.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from kiln.audit import process
from kiln.project.layout import PACK_DIR, PROJECT_FILE, project_root, top_level_value


def option(argv: Sequence[str], name: str) -> str | None:
    """The value of ``name VALUE`` or ``name=VALUE`` in ``argv`` (the last one given)."""
    value = None
    for index, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == name and index + 1 < len(argv):
            value = argv[index + 1]
        elif arg.startswith(f"{name}="):
            value = arg[len(name) + 1:]
    return value


def project_name(root: str) -> str | None:
    """The top-level ``name:`` of the project's Pulumi.yaml."""
    return top_level_value(os.path.join(root, PROJECT_FILE), "name")


def start_audit_pack(argv: Sequence[str]) -> None:
    """Start the pack for ``audit --export FILE --stack STACK [--waivers FILE]``, if that is
    what ``argv`` (the arguments after ``audit``) asks for."""
    export, stack, waivers = (option(argv, o) for o in ("--export", "--stack", "--waivers"))
    root = project_root()
    if not (export and stack and root and os.path.isfile(export)):
        return
    name = project_name(root)
    pack = os.path.join(root, PACK_DIR)
    if name and os.path.isfile(os.path.join(pack, "PulumiPolicy.yaml")):
        process.start_early(pack, project=name, stack=stack, config={}, waivers=waivers)


def main() -> None:
    if sys.argv[1:2] == ["audit"]:
        start_audit_pack(sys.argv[2:])
    # typer, rich and the verbs load only after the pack has started.
    from kiln.cli.app import main as cli  # noqa: PLC0415

    cli()


if __name__ == "__main__":
    main()
