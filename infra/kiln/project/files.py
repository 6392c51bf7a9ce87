"""The one way kiln writes a file: to a temporary file beside it, flushed to disk, then
renamed over it — so a crash never leaves half a file and readers see old or new bytes.
And the one way it reads a text file it is given: bounded in size, strictly UTF-8."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from kiln.errors import KilnError, OperationError

# Stack files, project files, records and signatures are a few KiB; anything this large is
# not one of them, and parsing it would only cost time and memory.
MAX_TEXT_BYTES = 256 * 1024


class ReadError(KilnError, ValueError):
    """An input file is missing, unreadable, too large or not UTF-8 (one line, exit 2)."""


def read_bytes(path: Path, limit: int = MAX_TEXT_BYTES) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise ReadError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ReadError(f"{path}: is a directory, expected a file") from None
    except OSError as error:
        raise ReadError(f"{path}: cannot read ({error.strerror or error})") from None
    if len(data) > limit:
        raise ReadError(f"{path}: larger than {limit // 1024} KiB; not a file kiln writes")
    return data


def decode(data: bytes, where: str | Path) -> str:
    """``data`` as UTF-8 text; otherwise one line naming ``where`` and the byte offset."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ReadError(f"{where}: not UTF-8 text (byte {error.start}: "
                        f"{error.reason}; 0x{data[error.start]:02x})") from None


def read_text(path: Path, limit: int = MAX_TEXT_BYTES) -> str:
    """A bounded, strictly UTF-8 text file: see :func:`read_bytes` and :func:`decode`."""
    return decode(read_bytes(path, limit), path)


class WriteError(OperationError, OSError):
    """A file could not be written: a read-only checkout, a full disk, a directory in the
    way. Still an :class:`OSError` (with the original ``errno`` and ``strerror``), and one
    line naming the file."""

    def __init__(self, path: Path, error: OSError) -> None:
        OSError.__init__(self, error.errno, error.strerror, str(path))
        self.message = f"{path}: cannot write ({error.strerror or error})"

    def __str__(self) -> str:
        return self.message


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, data: str | bytes, *, mode: int | None = None,
                 make_parents: bool = True) -> None:
    """Replace ``path`` with ``data`` (text is UTF-8) by write-fsync-rename.

    The file keeps the permission bits of the file it replaces; a new one gets ``mode``, or
    the umask's default (mkstemp's 0600 would hide records and reports from their readers).
    Any failure is a :class:`WriteError` naming ``path``, and leaves no temporary file.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        if make_parents:
            path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        if mode is None:
            try:
                mode = path.stat().st_mode & 0o777
            except FileNotFoundError:
                mode = 0o666 & ~_umask()
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as error:
        raise WriteError(path, error) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as error:
        Path(tmp).unlink(missing_ok=True)
        raise WriteError(path, error) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
