"""Start a policy pack's process the way the Pulumi engine starts it.

The engine runs a Python pack as ``python -u -m pulumi.policy <engine address> <pack dir>``
from the pack's directory, with the stack in ``PULUMI_STACK``/``PULUMI_PROJECT`` and its
config in ``PULUMI_CONFIG``; the pack prints the port it listens on.
:class:`kiln.audit.analyzer.Analyzer` talks to it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from typing import IO


def launch(pack_dir: str | os.PathLike[str], *, project: str, stack: str,
           config: Mapping[str, str], waivers: str | os.PathLike[str] | None = None,
           python: str | None = None) -> tuple[str, ...]:
    """Everything that decides how a pack process starts: equal launches, equal packs."""
    return (os.path.realpath(pack_dir), project, stack, _json(config),
            os.path.realpath(waivers) if waivers is not None else "", python or sys.executable)


def _json(config: Mapping[str, str]) -> str:
    return json.dumps(dict(config), sort_keys=True)


def _scratch_file() -> IO[bytes]:
    """An anonymous file for the pack's stderr: in memory where the OS offers it."""
    if hasattr(os, "memfd_create"):
        return open(os.memfd_create("kiln-pack-stderr"), "w+b")
    return tempfile.TemporaryFile()


class PackProcess:
    """A started pack: its process, its captured stderr and when it was started."""

    def __init__(self, launched: tuple[str, ...]) -> None:
        pack_dir, project, stack, config, waivers, python = launched
        self.launch = launched
        env = {**os.environ, "PULUMI_PROJECT": project, "PULUMI_STACK": stack,
               "PULUMI_ORGANIZATION": "organization", "PULUMI_DRY_RUN": "true",
               "PULUMI_CONFIG": config}
        if waivers:
            env["KILN_WAIVERS"] = waivers
        self.stderr = _scratch_file()  # closed in stop()
        self.started = time.perf_counter()
        self.popen = subprocess.Popen(
            [python, "-u", "-m", "pulumi.policy", "127.0.0.1:0", pack_dir], cwd=pack_dir,
            env=env, stdout=subprocess.PIPE, stderr=self.stderr, stdin=subprocess.DEVNULL)

    def stop(self) -> None:
        """Stop the process by its PID (terminate, then kill); safe to call twice."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)
        if self.popen.stdout is not None:
            self.popen.stdout.close()
        self.stderr.close()


def start(pack_dir: str | os.PathLike[str], *, project: str, stack: str,
          config: Mapping[str, str], waivers: str | os.PathLike[str] | None = None,
          python: str | None = None) -> PackProcess:
    return PackProcess(launch(pack_dir, project=project, stack=stack, config=config,
                              waivers=waivers, python=python))
