"""Start a policy pack's process the way the Pulumi engine starts it.

The engine runs a Python pack as ``python -u -m pulumi.policy <engine address> <pack dir>``
from the pack's directory, with the stack in ``PULUMI_STACK``/``PULUMI_PROJECT`` and its
config in ``PULUMI_CONFIG``; the pack prints the port it listens on. This module needs only
the standard library, so ``kiln audit`` can start the pack before anything else is imported
(:mod:`kiln.cli.launch`); :class:`kiln.audit.analyzer.Analyzer` talks to it.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import time
from collections.abc import Mapping

TYPE_CHECKING = False  # typing is not imported on the way to an early start
if TYPE_CHECKING:
    from typing import IO



def launch(pack_dir: str | os.PathLike[str], *, project: str, stack: str,
           config: Mapping[str, str], waivers: str | os.PathLike[str] | None = None,
           python: str | None = None) -> tuple[str, ...]:
    """Everything that decides how a pack process starts: equal launches, equal packs."""
    return (os.path.realpath(pack_dir), project, stack, _json(config),
            os.path.realpath(waivers) if waivers is not None else "", python or sys.executable)


# json and tempfile are imported only when needed: an early start (kiln.cli.launch) needs
# neither, and their imports (~20 ms) would delay the pack.

def _json(config: Mapping[str, str]) -> str:
    if not config:
        return "{}"
    # The early start (kiln.cli.launch) needs the standard library only, and little of it.
    import json  # noqa: PLC0415

    return json.dumps(dict(config), sort_keys=True)


def _scratch_file() -> IO[bytes]:
    """An anonymous file for the pack's stderr: in memory where the OS offers it."""
    if hasattr(os, "memfd_create"):
        return open(os.memfd_create("kiln-pack-stderr"), "w+b")
    # The early start (kiln.cli.launch) needs the standard library only, and little of it.
    import tempfile  # noqa: PLC0415

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


class _Early:
    """A pack started before the command knew it needed one (:func:`start_early`)."""

    pack: PackProcess | None = None


_early = _Early()


def start_early(pack_dir: str | os.PathLike[str], *, project: str, stack: str,
                config: Mapping[str, str], waivers: str | os.PathLike[str] | None = None,
                ) -> None:
    """Start a pack now for an audit that has yet to be set up; :func:`take` hands it over.
    A pack nobody takes is stopped when the interpreter exits."""
    if _early.pack is not None:
        _early.pack.stop()
    _early.pack = start(pack_dir, project=project, stack=stack, config=config, waivers=waivers)
    atexit.register(_early.pack.stop)


def take(launched: tuple[str, ...]) -> PackProcess | None:
    """The early pack if it was started exactly as ``launched`` says; otherwise None, and
    the early pack, if any, is stopped."""
    pack, _early.pack = _early.pack, None
    if pack is not None and pack.launch != launched:
        pack.stop()
        return None
    return pack
