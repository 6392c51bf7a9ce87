"""One operation per stack at a time.

The file backend takes a non-blocking ``flock`` on ``ledger/locks/<stack>.lock`` and writes
who holds it; the kernel drops the lock when the holder exits, even on SIGKILL, so a crashed
operation never leaves a stack locked. The DynamoDB backend (``kiln.aws.locks``) serves
many CI runners. A loser fails at once with who holds the lock and since when.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from kiln.errors import KilnError
from kiln.release.ledger import default_actor, now


class StackBusyError(KilnError, RuntimeError):
    exit_code = 3

    """Another operation holds the stack's lock (message is one line)."""

    def __init__(self, stack: str, holder: str, since: str, operation: str) -> None:
        super().__init__(f"stack {stack!r} busy: {operation or 'an operation'} held by "
                         f"{holder or 'another process'} since {since or 'a moment ago'}")


class StackLock(Protocol):
    def hold(self, stack: str, operation: str) -> AbstractContextManager[None]: ...


class FileLocks:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @contextmanager
    def hold(self, stack: str, operation: str) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{stack}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                info = _read_holder(fd)
                for _ in range(50):  # the winner writes who it is just after locking
                    if info:
                        break
                    time.sleep(0.01)
                    info = _read_holder(fd)
                raise StackBusyError(stack, info.get("holder", ""), info.get("since", ""),
                                info.get("operation", "")) from None
            holder = {"holder": f"{default_actor()} (pid {os.getpid()})", "since": now(),
                      "operation": operation}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(holder).encode(), 0)
            try:
                yield
            finally:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def _read_holder(fd: int) -> dict[str, str]:
    try:
        data = os.pread(fd, 4096, 0)
        info = json.loads(data) if data else {}
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}
