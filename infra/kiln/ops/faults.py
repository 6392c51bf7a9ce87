"""Checkpoints where the test suite injects crashes, pauses and barriers.

Operations call :func:`checkpoint` between their steps. With ``KILN_FAULT`` unset (always,
outside tests) it does nothing. ``KILN_FAULT`` holds ``;``-separated directives:

- ``crash@<name>``: the process kills itself with SIGKILL at that checkpoint;
- ``pause@<name>=<seconds>``: sleep there (hold a lock longer);
- ``wait@<name>=<path>``: create ``<path>.<pid>.ready``, then wait (at most 60 s) until
  ``path`` exists — so a test can start many processes and release them together.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

ENV = "KILN_FAULT"


def checkpoint(name: str) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    for directive in spec.split(";"):
        action, _, rest = directive.partition("@")
        where, _, arg = rest.partition("=")
        if where != name:
            continue
        if action == "crash":
            os.kill(os.getpid(), signal.SIGKILL)
        elif action == "pause":
            time.sleep(float(arg))
        elif action == "wait":
            Path(f"{arg}.{os.getpid()}.ready").touch()
            deadline = time.monotonic() + 60
            while not Path(arg).exists() and time.monotonic() < deadline:
                time.sleep(0.005)
