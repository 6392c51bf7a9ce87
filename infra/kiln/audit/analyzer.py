"""Talk to a policy pack over the engine's gRPC Analyzer protocol.

:class:`Analyzer` starts the pack as the engine does (:mod:`kiln.audit.process`), reads the
port it prints (127.0.0.1), speaks the Analyzer service, then stops the process by its PID.
"""

from __future__ import annotations

import functools
import logging
import os
import selectors
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import Any

import grpc
from google.protobuf import empty_pb2, struct_pb2

from kiln.audit import process
from kiln.audit.sources import AuditError, AuditResource, Provider

log = logging.getLogger(__name__)

START_TIMEOUT = 60.0
CALL_TIMEOUT = 60.0
# Requests kept in flight: pipelining hides the round trip (the pack's server has a small
# thread pool) without queueing thousands of calls at once.
WINDOW = 64
MAX_MESSAGE = 400 * 1024 * 1024
LEVELS = {"advisory": 0, "mandatory": 1, "disabled": 2, "remediate": 3}  # EnforcementLevel


class _Protocol:
    """The engine's Analyzer protocol, as the Pulumi SDK ships it (``pulumi.runtime.proto``).

    Loaded on first use: only ``kiln audit --analyzer`` speaks the protocol, and importing
    it loads the whole SDK (~0.4 s) that the in-process audit never needs.
    """

    @functools.cached_property
    def pb2(self) -> Any:
        from pulumi.runtime.proto import analyzer_pb2  # noqa: PLC0415 (see above)

        return analyzer_pb2

    @functools.cached_property
    def grpc(self) -> Any:
        from pulumi.runtime.proto import analyzer_pb2_grpc  # noqa: PLC0415 (see above)

        return analyzer_pb2_grpc


protocol = _Protocol()


def _struct(value: Mapping[str, Any]) -> Any:
    message = struct_pb2.Struct()
    message.update(value)
    return message


def _last_error(text: str) -> str:
    """The one line that says why the pack stopped (the exception line of a traceback)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        head, _, message = line.partition(": ")
        if message and head.split(".")[-1].endswith(("Error", "Exception")):
            return message
    return lines[-1] if lines else "no output"


class Analyzer:
    """A running policy pack. Use as a context manager; the process is stopped on exit."""

    def __init__(self, pack_dir: Path, *, project: str, stack: str, config: Mapping[str, str],
                 waivers: Path | None = None, python: str | None = None) -> None:
        """Start the pack as the engine does."""
        self.pack_dir = pack_dir
        self.pack = process.start(pack_dir, project=project, stack=stack,
                                             config=config, waivers=waivers, python=python)
        self.process = self.pack.popen
        self.pid = self.process.pid
        self.started = self.pack.started
        self.port = 0
        self.channel: grpc.Channel | None = None  # set by connect()
        self.stub: Any = None

    def connect(self, timeout: float = START_TIMEOUT) -> None:
        """Wait for the pack to print its port, then open the gRPC channel."""
        self.port = self._read_port(timeout)
        options = [("grpc.max_receive_message_length", MAX_MESSAGE),
                   ("grpc.max_send_message_length", MAX_MESSAGE)]
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}", options=options)
        try:
            grpc.channel_ready_future(self.channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise AuditError(f"the policy pack on port {self.port} did not answer") from None
        self.stub = protocol.grpc.AnalyzerStub(self.channel)

    def _read_port(self, timeout: float) -> int:
        assert self.process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise AuditError(f"the policy pack did not start within {timeout:.0f} s")
            chunk = os.read(self.process.stdout.fileno(), 64)
            if not chunk:
                self.process.wait(timeout=5)
                raise AuditError(f"the policy pack failed to start: {self._stderr_text()}")
            line += chunk
        selector.close()
        try:
            return int(line.strip())
        except ValueError:
            raise AuditError(f"the policy pack printed {line[:60]!r}, not a port") from None

    def _stderr_text(self) -> str:
        self.pack.stderr.seek(0)
        return _last_error(self.pack.stderr.read().decode("utf-8", "replace"))

    def info(self) -> Any:
        return self.stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=CALL_TIMEOUT)

    def configure(self, config: Mapping[str, tuple[str, Mapping[str, Any]]]) -> None:
        """Send each policy's enforcement level and properties, as the engine does."""
        analyzer_pb2 = protocol.pb2
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, (level, properties) in config.items():
            request.policyConfig[name].CopyFrom(analyzer_pb2.PolicyConfig(
                enforcementLevel=LEVELS[level],
                properties=_struct(properties)))
        self.stub.Configure(request, timeout=CALL_TIMEOUT)

    def analyze(self, resources: Iterable[AuditResource]) -> Iterator[tuple[AuditResource, Any]]:
        """``Analyze`` each resource (its inputs); yields responses in order."""
        for res, response in self.evaluate(Requests(list(resources), None)):
            assert res is not None
            yield res, response

    def analyze_stack(self, resources: Iterable[AuditResource]) -> Any:
        """``AnalyzeStack`` once over every resource (their outputs)."""
        return self.stub.AnalyzeStack(StackRequest(list(resources), {}).finish(),
                                      timeout=CALL_TIMEOUT)

    def evaluate(self, requests: Requests) -> Iterator[tuple[AuditResource | None, Any]]:
        """``Analyze`` each resource, then ``AnalyzeStack`` when ``requests`` has a stack.

        Yields ``(resource, response)`` per Analyze call in order, then ``(None, response)``
        for the stack. Requests not built ahead are built as the calls go (the pack's server
        is the slower side), the stack's entries spread over the Analyze calls. The stack
        call is sent with the last Analyze call, so the pack works on it while the last
        answers come back.
        """
        pending: deque[tuple[AuditResource, Any]] = deque()
        whole = requests.stack()
        share = 0 if whole is None else -(-whole.left // max(len(requests.analyzed), 1))
        for res, request in requests.analyze():
            pending.append((res, self.stub.Analyze.future(request, timeout=CALL_TIMEOUT)))
            if whole is not None:
                whole.add(share)
            if len(pending) >= WINDOW:
                done, future = pending.popleft()
                yield done, future.result()
        stack = None if whole is None else \
            self.stub.AnalyzeStack.future(whole.finish(), timeout=CALL_TIMEOUT)
        for done, future in pending:
            yield done, future.result()
        if stack is not None:
            yield None, stack.result()

    def stop(self) -> None:
        """Close the channel and stop the pack process (by its PID)."""
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        self.pack.stop()

    def __enter__(self) -> Analyzer:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()


class Requests:
    """The requests of one evaluation: one ``AnalyzeRequest`` per resource of ``analyzed``
    (its inputs) and, unless ``stack_resources`` is None, one ``AnalyzeStackRequest`` over
    them (their outputs), built as the calls are made.
    """

    def __init__(self, analyzed: Sequence[AuditResource],
                 stack_resources: Sequence[AuditResource] | None) -> None:
        self.analyzed = analyzed
        self._providers: dict[str, Any] = {}
        self._stack = None if stack_resources is None \
            else StackRequest(stack_resources, self._providers)

    def analyze(self) -> Iterator[tuple[AuditResource, Any]]:
        for res in self.analyzed:
            yield res, self._request(res)

    def stack(self) -> StackRequest | None:
        """The ``AnalyzeStackRequest`` under construction (None without a stack)."""
        return self._stack

    def _request(self, res: AuditResource) -> Any:
        return protocol.pb2.AnalyzeRequest(
            urn=res.urn, type=res.type, name=res.name, properties=_struct(res.inputs),
            options=_options(res), provider=_cached_provider(self._providers, res.provider))


class StackRequest:
    """An ``AnalyzeStackRequest`` built a few resources at a time."""

    def __init__(self, resources: Sequence[AuditResource], providers: dict[str, Any]) -> None:
        self.request = protocol.pb2.AnalyzeStackRequest()
        self.left = len(resources)
        self._todo = iter(resources)
        self._providers = providers

    def add(self, count: int | None = None) -> None:
        """Add the next ``count`` resources (all that are left when None)."""
        for res in self._todo if count is None else islice(self._todo, count):
            self.left -= 1
            entry = self.request.resources.add(
                urn=res.urn, type=res.type, name=res.name, properties=_struct(res.outputs),
                options=_options(res), parent=res.parent, dependencies=list(res.dependencies))
            if res.provider is not None:
                entry.provider.CopyFrom(_cached_provider(self._providers, res.provider))
            for key, urns in res.property_dependencies.items():
                if urns:
                    entry.propertyDependencies[key].urns.extend(urns)

    def finish(self) -> Any:
        self.add()
        return self.request


def _options(res: AuditResource) -> Any:
    analyzer_pb2 = protocol.pb2
    opts = res.options
    timeouts = opts.get("customTimeouts") or {}
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=bool(opts.get("protect")), ignoreChanges=list(opts.get("ignoreChanges") or []),
        deleteBeforeReplace=bool(opts.get("deleteBeforeReplace")),
        deleteBeforeReplaceDefined="deleteBeforeReplace" in opts,
        additionalSecretOutputs=list(opts.get("additionalSecretOutputs") or []),
        aliases=list(opts.get("aliases") or []), parent=res.parent,
        customTimeouts=analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(
            create=_seconds(timeouts.get("create")), update=_seconds(timeouts.get("update")),
            delete=_seconds(timeouts.get("delete"))))


def _seconds(value: Any) -> float:
    """``"15m"``/``"90s"``/``"1h"`` or a number → seconds (0 when unset)."""
    if isinstance(value, int | float):
        return float(value)
    text = str(value or "").strip()
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        return float(text[:-1]) * units[text[-1]] if text and text[-1] in units \
            else float(text or 0)
    except ValueError:
        return 0.0


def _cached_provider(built: dict[str, Any], provider: Provider | None) -> Any:
    """The provider message, built once per provider URN (most resources share one)."""
    if provider is None:
        return None
    if provider.urn not in built:
        built[provider.urn] = _provider(provider)
    return built[provider.urn]


def _provider(provider: Provider | None) -> Any:
    if provider is None:
        return None
    return protocol.pb2.AnalyzerProviderResource(
        urn=provider.urn, type=provider.type, name=provider.name,
        properties=_struct(provider.props))
