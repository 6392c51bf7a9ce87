"""Throttling on a fraction of AWS calls: operations still complete, never half-done."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from kiln.ops import context, rollback
from kiln.project import stackfiles

from ..scenario import stand_up
from .opsutil import aws_calls, ledger, listener_weights, mutating, session_hook

pytestmark = pytest.mark.integration

STACK = "staging"
QUERY_THROTTLE = (b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
                  b"<Message>Rate exceeded</Message></Error><RequestId>t</RequestId>"
                  b"</ErrorResponse>")


JSON_THROTTLE = b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


@contextmanager
def throttle_every(nth: int) -> Iterator[list[str]]:
    """Answer every ``nth`` HTTP request with 400 Throttling before it reaches the server.

    Hooked at ``before-send``, inside botocore's retry loop: what a throttled API does.
    """
    counter = itertools.count(1)
    throttled: list[str] = []

    def maybe_throttle(request: Any, **_: Any) -> AWSResponse | None:
        if next(counter) % nth:
            return None
        throttled.append(request.url)
        if "X-Amz-Target" in request.headers:  # JSON protocol (e.g. the tagging API)
            return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.1"},
                               _Raw(JSON_THROTTLE))
        return AWSResponse(request.url, 400, {"Content-Type": "text/xml"},
                           _Raw(QUERY_THROTTLE))

    with session_hook("before-send", maybe_throttle):
        yield throttled


@pytest.fixture
def deployed(aws, project_copy):
    project = stackfiles.load_project(project_copy)
    stackfiles.update_config(project, STACK, {"kiln:standby": "hot"})
    return stand_up(project_copy, STACK)


def test_rollback_completes_under_throttling(deployed):
    before = stackfiles.load_settings(deployed.project, STACK)
    with throttle_every(2) as throttled, aws_calls() as calls:
        result = rollback.rollback(context.open_context(deployed.project), STACK)
    assert len(throttled) >= 3, "expected some calls to be throttled"
    assert mutating(calls) == ["ModifyListener"]
    assert result.target == before.idle
    after = stackfiles.load_settings(deployed.project, STACK)
    assert after.live == before.idle
    assert listener_weights(after) == {before.idle: 100, before.live: 0}
    assert ledger(deployed.root).verify() == 2
