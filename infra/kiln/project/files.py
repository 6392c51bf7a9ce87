"""The one way kiln writes a file: to a temporary file beside it, flushed to disk, then
renamed over it — so a crash never leaves half a file and readers see old or new bytes."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, data: str | bytes, *, mode: int | None = None,
                 make_parents: bool = True) -> None:
    """Replace ``path`` with ``data`` (text is UTF-8) by write-fsync-rename.

    The file keeps the permission bits of the file it replaces; a new one gets ``mode``, or
    the umask's default (mkstemp's 0600 would hide records and reports from their readers).
    """
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
