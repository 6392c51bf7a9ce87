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
