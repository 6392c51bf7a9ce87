"""AWS failures as one-line errors.

botocore raises many exception types with multi-line messages; kiln's commands print one
line naming the call that failed and AWS's own error code and message.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from kiln.errors import OperationError


class AwsError(OperationError, RuntimeError):
    """An AWS call failed (message is one line: the call, the error code, AWS's words)."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class AwsTimeoutError(AwsError):
    """An AWS call got no answer in time (message: the call, the endpoint, how long)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "Timeout")


@contextmanager
def calling(what: str) -> Iterator[None]:
    """Turn botocore errors raised inside the block into :class:`AwsError` about ``what``."""
    try:
        yield
    except ClientError as error:
        info = error.response.get("Error", {})
        code = str(info.get("Code", "Error"))
        message = " ".join(str(info.get("Message", "")).split())
        raise AwsError(f"{what}: {code}: {message}".rstrip(": "), code) from None
    except BotoCoreError as error:
        raise AwsError(f"{what}: {' '.join(str(error).split())}") from None
