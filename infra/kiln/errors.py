"""The base of every error kiln reports to a user as one line.

``exit_code`` is the command's exit status: 2 for bad input (a wrong stack name, a
malformed value, a broken file, a forged signature), 1 for an operation refused or failed
(an unhealthy standby colour, an AWS error), 3 when another operation holds the stack.
"""

from __future__ import annotations


class KilnError(Exception):
    exit_code = 2


class OperationError(KilnError):
    exit_code = 1


class BakeError(KilnError, ValueError):
    """A bake cannot start; nothing was built or recorded."""


class BuildError(OperationError, BakeError):
    """Packer or the registry failed during a bake; nothing was recorded."""


class VerifyError(KilnError, ValueError):
    """A record, signature or image does not verify; the message says why."""
