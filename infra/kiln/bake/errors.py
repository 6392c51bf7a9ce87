"""Errors of the bake and verify commands (messages are one line).

Exit codes follow :mod:`kiln.errors`: 2 for bad input — an unknown image, a bad
``--var``, a record or signature that does not verify — and 1 when a build step failed
(Packer, the registry).
"""

from __future__ import annotations

from kiln.errors import KilnError, OperationError


class BakeError(KilnError, ValueError):
    """A bake cannot start; nothing was built or recorded."""


class BuildError(OperationError, BakeError):
    """Packer or the registry failed during a bake; nothing was recorded."""


class VerifyError(KilnError, ValueError):
    """A record, signature or image does not verify; the message says why."""
