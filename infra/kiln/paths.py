"""Where the project is. Standard library only: the entry point uses it before anything else
is imported (:mod:`kiln.launch`)."""

from __future__ import annotations

import os

PROJECT_FILE = "Pulumi.yaml"


def project_root(start: str | None = None) -> str | None:
    """``KILN_PROJECT_DIR`` when set, else the nearest directory at or above ``start``
    (default: the working directory) holding Pulumi.yaml; None when there is none."""
    env = os.environ.get("KILN_PROJECT_DIR")
    if env:
        return os.path.realpath(env)
    here = os.path.realpath(start or os.getcwd())
    while not os.path.isfile(os.path.join(here, PROJECT_FILE)):
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent
    return here


def top_level_value(path: str | os.PathLike[str], key: str) -> str | None:
    """A plain top-level ``key: value`` of a small YAML file, read line by line (quotes and
    a trailing comment removed); None when the file or the key is missing. For values read
    before, or without, a YAML parser: a project's name, a pack's version."""
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.startswith(f"{key}:"):
                    return line[len(key) + 1:].split(" #")[0].strip().strip("'\"") or None
    except (OSError, UnicodeDecodeError):
        return None
    return None
