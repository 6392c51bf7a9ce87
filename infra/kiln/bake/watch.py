"""What a running bake says: every Packer line kept in a log file under ``.kiln/logs/``,
and each of Packer's messages passed on as an event the CLI shows (live on a terminal,
one plain line each in CI, Packer's own text with ``--verbose``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from kiln.bake import machine

LOGS_DIR = Path(".kiln") / "logs"
PHASE = re.compile(r"^==>\s*(?P<target>[^:\s]+):\s*(?P<text>.+)$")


@dataclass(frozen=True)
class Event:
    """One message of Packer: ``phase`` for its ``==> target: step`` lines."""

    text: str  # Packer's message, unescaped (may span lines)
    elapsed: float  # seconds since Packer started
    phase: bool
    error: bool = False

    @property
    def line(self) -> str:
        """The message on one line, without Packer's ``==>`` marker."""
        first = " ".join(part.strip() for part in self.text.splitlines() if part.strip())
        return re.sub(r"^(==>|-->)\s*", "", first)


def events(line: str, elapsed: float) -> list[Event]:
    """The events of one ``-machine-readable`` line (none for data lines)."""
    parsed = machine.parse(line)
    found = [Event(m, elapsed, bool(PHASE.match(m.strip()))) for m in parsed.messages
             if m.strip()]
    found += [Event(m, elapsed, False, error=True) for m in parsed.ui_errors if m.strip()]
    return found


def log_path(root: Path, name: str, now: float | None = None) -> Path:
    """Where the log of a bake of ``name`` started at ``now`` goes (one file per run)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now if now is not None else time.time()))
    return root / LOGS_DIR / f"bake-{name}-{stamp}.log"


class PackerLog:
    """A bake's log file: every line Packer printed, as it printed it, flushed per line so
    a killed bake still leaves what Packer said."""

    def __init__(self, path: Path, on_event: Callable[[Event], None] | None = None) -> None:
        self.path = path
        self._on_event = on_event
        self._started = time.monotonic()
        self._file: IO[str] | None = None

    def __enter__(self) -> PackerLog:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def write(self, line: str) -> None:
        """Keep ``line`` and pass its events on."""
        if self._file is not None:
            self._file.write(line + "\n")
            self._file.flush()
        if self._on_event is not None:
            for event in events(line, time.monotonic() - self._started):
                self._on_event(event)
