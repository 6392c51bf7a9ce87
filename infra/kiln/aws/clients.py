"""AWS clients with bounded retries and bounded time, one per service and region.

botocore reads ``AWS_ENDPOINT_URL`` itself, so the same code talks to AWS or to a local
emulator. Throttling is retried with backoff inside each call; an operation never
continues past a call that finally failed. botocore is used without boto3: kiln needs
only clients, and boto3's import costs a rollback a few hundred milliseconds.

Time is sized for an incident: an endpoint that accepts connections and never answers
costs one call :data:`DEADLINE` seconds at most (each attempt waits :data:`READ_TIMEOUT`,
and no retry starts that could end past the deadline), and the error says which call
timed out, where, and how long kiln waited — not botocore's default of 8 × 60 s.
:func:`deadline` bounds all the calls of one operation together.
"""

from __future__ import annotations

import os
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from kiln.aws.errors import AwsTimeoutError
from kiln.errors import KilnError
from kiln.model import regions
from kiln.model.fields import SettingsError

MAX_ATTEMPTS = 8
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 5.0
# Every attempt of one API call, backoff included, ends within this many seconds.
DEADLINE = 15.0
CONFIG = Config(retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
                connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT)
_STARTED, _CALL, _LAST = "kiln:started", "kiln:call", "kiln:last"
_NO_ANSWER = (ConnectTimeoutError, ReadTimeoutError, EndpointConnectionError,
              ConnectionClosedError)


class AwsInputError(KilnError, ValueError):
    """The AWS endpoint or region kiln was given is malformed (exit 2, one line)."""


@dataclass(frozen=True)
class _Operation:
    what: str
    started: float
    seconds: float


_OPERATION: ContextVar[_Operation | None] = ContextVar("kiln_aws_operation", default=None)


@contextmanager
def deadline(seconds: float, what: str) -> Iterator[None]:
    """Bound every AWS call of the block by one total deadline: a call that would start,
    or retry, past it fails with :class:`AwsTimeoutError` naming ``what``."""
    token = _OPERATION.set(_Operation(what, time.monotonic(), seconds))
    try:
        yield
    finally:
        _OPERATION.reset(token)


def _check_operation(call: str, attempt_seconds: float) -> None:
    operation = _OPERATION.get()
    if operation is None:
        return
    waited = time.monotonic() - operation.started
    if waited + attempt_seconds > operation.seconds:
        raise AwsTimeoutError(f"{operation.what}: stopped before AWS {call} after "
                              f"{waited:.1f} s; the operation's deadline is "
                              f"{operation.seconds:.0f} s")


def _started(model: Any, context: dict[str, Any], **_: Any) -> None:
    context[_STARTED] = time.monotonic()
    context[_CALL] = f"{model.service_model.service_name} {model.name}"
    _check_operation(context[_CALL], 0.0)


def _retrying(request_dict: dict[str, Any], caught_exception: Exception | None = None,
              response: Any = None, **_: Any) -> None:
    """Remember why the last attempt failed, for the deadline's message."""
    if caught_exception is not None:
        request_dict["context"][_LAST] = type(caught_exception).__name__
    elif response is not None:
        code = response[1].get("Error", {}).get("Code") if response[1] else None
        request_dict["context"][_LAST] = str(code or response[0].status_code)


def _before_attempt(request: Any, **_: Any) -> None:
    """Refuse an attempt that could not finish before the call's deadline."""
    context = getattr(request, "context", None) or {}
    attempt = context.get("retries", {}).get("attempt", 1)
    if _STARTED not in context or attempt <= 1:
        return
    _check_operation(context[_CALL], CONNECT_TIMEOUT + READ_TIMEOUT)
    waited = time.monotonic() - context[_STARTED]
    if waited + CONNECT_TIMEOUT + READ_TIMEOUT > DEADLINE:
        raise AwsTimeoutError(
            f"AWS {context[_CALL]}: gave up on {_endpoint(request.url)} after {waited:.1f} s "
            f"({attempt - 1} attempts, last: {context.get(_LAST, 'no reply')}); kiln gives "
            f"each AWS call {DEADLINE:.0f} s")


def _failed(exception: Exception, context: dict[str, Any], **_: Any) -> None:
    """A call that ended without an answer: say which, where, and how long kiln waited."""
    if not isinstance(exception, _NO_ANSWER) or _STARTED not in context:
        return
    waited = time.monotonic() - context[_STARTED]
    attempts = context.get("retries", {}).get("attempt", 1)
    what = ("could not connect to" if isinstance(exception, (ConnectTimeoutError,
                                                             EndpointConnectionError))
            else "no answer from")
    url = getattr(exception, "kwargs", {}).get("endpoint_url", "")
    raise AwsTimeoutError(
        f"AWS {context[_CALL]}: {what} {_endpoint(url)} in {waited:.1f} s ({attempts} "
        f"attempts; connect timeout {CONNECT_TIMEOUT:.0f} s, read timeout "
        f"{READ_TIMEOUT:.0f} s)") from exception


def _endpoint(url: str) -> str:
    return url.split("?", maxsplit=1)[0].rstrip("/") or "the AWS endpoint"


@lru_cache(maxsize=1)
def _session() -> botocore.session.Session:
    session = botocore.session.get_session()
    session.register("before-call", _started)
    session.register("needs-retry", _retrying)
    session.register("request-created", _before_attempt)
    session.register("after-call-error", _failed)
    log_file = os.environ.get("KILN_AWS_CALL_LOG")
    if log_file:
        # One line per API call (not per retry): what an operation did, for benchmarks
        # and for operators who want to see it.
        def record(model: Any, **_: Any) -> None:
            with open(log_file, "a", encoding="utf-8") as handle:
                handle.write(f"{model.service_model.service_name} {model.name}\n")

        session.register("before-call", record)
    return session


@lru_cache(maxsize=64)
def _client(service: str, region: str | None, endpoint: str | None) -> Any:
    return _session().create_client(service, region_name=region, config=CONFIG)


def client(service: str, region: str | None = None) -> Any:
    """A client for ``service`` in ``region`` (default: the environment's region)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or None
    if endpoint is not None:
        check_endpoint(endpoint)
    for name, value in (("region", region), ("AWS_REGION", os.environ.get("AWS_REGION")),
                        ("AWS_DEFAULT_REGION", os.environ.get("AWS_DEFAULT_REGION"))):
        if value:
            check_region(value, name)
            break
    # The endpoint is part of the key: tests point AWS_ENDPOINT_URL at a new emulator.
    return _client(service, region, endpoint)


def check_endpoint(url: str) -> None:
    """``AWS_ENDPOINT_URL`` must be an http(s) URL with a host (botocore would fail with a
    traceback, or only at the first call)."""
    try:
        parts = urllib.parse.urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) \
            and (parts.port is None or parts.port > 0)
    except ValueError:
        valid = False
    if not valid:
        raise AwsInputError(f"AWS_ENDPOINT_URL: {url!r} is not an http(s) URL with a host "
                            "(e.g. http://127.0.0.1:5000); unset it to use AWS")


def check_region(region: str, source: str) -> None:
    try:
        regions.check(region, source)
    except SettingsError as error:
        raise AwsInputError(str(error)) from None


def reset() -> None:
    """Forget cached clients, e.g. after registering event hooks on the session."""
    _client.cache_clear()
