"""Run the policy pack the way the Pulumi engine runs it, and talk to it over gRPC.

The engine starts a Python pack as ``python -u -m pulumi.policy <engine address> <pack dir>``
from the pack's directory, with the stack in ``PULUMI_STACK``/``PULUMI_PROJECT`` and its
config in ``PULUMI_CONFIG``; the pack prints the port it listens on (127.0.0.1) and serves the
Analyzer service. :class:`Analyzer` does the same, then stops the process by its PID.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from kiln.audit.sources import AuditError, AuditResource, Provider

if TYPE_CHECKING:
    import grpc

log = logging.getLogger(__name__)

START_TIMEOUT = 60.0
CALL_TIMEOUT = 60.0
# Requests kept in flight: pipelining hides the round trip (the pack's server has a small
# thread pool) without queueing thousands of calls at once.
WINDOW = 64
MAX_MESSAGE = 400 * 1024 * 1024
LEVELS = {"advisory": 0, "mandatory": 1, "disabled": 2, "remediate": 3}  # EnforcementLevel


def _struct(value: Mapping[str, Any]) -> Any:
    from google.protobuf import struct_pb2

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
    """A running policy pack. Use as a context manager; the process is stopped on exit.

    Starting the process needs nothing but the standard library, so callers start it first
    and let it boot while they import gRPC and build what it will evaluate.
    """

    def __init__(self, pack_dir: Path, *, project: str, stack: str, config: Mapping[str, str],
                 waivers: Path | None = None, python: str | None = None) -> None:
        self.pack_dir = pack_dir
        env = {**os.environ, "PULUMI_PROJECT": project, "PULUMI_STACK": stack,
               "PULUMI_ORGANIZATION": "organization", "PULUMI_DRY_RUN": "true",
               "PULUMI_CONFIG": json.dumps(dict(config), sort_keys=True)}
        if waivers is not None:
            env["KILN_WAIVERS"] = str(waivers.resolve())
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        command = [python or sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0",
                   str(pack_dir.resolve())]
        self.started = time.perf_counter()
        self.process = subprocess.Popen(command, cwd=pack_dir, env=env, stdout=subprocess.PIPE,
                                        stderr=self._stderr, stdin=subprocess.DEVNULL)
        self.pid = self.process.pid
        self.port = 0
        self.channel: grpc.Channel | None = None  # set by connect()
        self.stub: Any = None

    def connect(self, timeout: float = START_TIMEOUT) -> None:
        """Wait for the pack to print its port, then open the gRPC channel."""
        import grpc
        from pulumi.runtime.proto import analyzer_pb2_grpc

        self.port = self._read_port(timeout)
        options = [("grpc.max_receive_message_length", MAX_MESSAGE),
                   ("grpc.max_send_message_length", MAX_MESSAGE)]
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}", options=options)
        try:
            grpc.channel_ready_future(self.channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise AuditError(f"the policy pack on port {self.port} did not answer") from None
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)

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
        self._stderr.seek(0)
        return _last_error(self._stderr.read().decode("utf-8", "replace"))

    def info(self) -> Any:
        from google.protobuf import empty_pb2

        return self.stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=CALL_TIMEOUT)

    def configure(self, config: Mapping[str, tuple[str, Mapping[str, Any]]]) -> None:
        """Send each policy's enforcement level and properties, as the engine does."""
        from pulumi.runtime.proto import analyzer_pb2

        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, (level, properties) in config.items():
            request.policyConfig[name].CopyFrom(analyzer_pb2.PolicyConfig(
                enforcementLevel=LEVELS[level],  # type: ignore[arg-type]
                properties=_struct(properties)))
        self.stub.Configure(request, timeout=CALL_TIMEOUT)

    def analyze(self, resources: Iterable[AuditResource]) -> Iterator[tuple[AuditResource, Any]]:
        """``Analyze`` each resource (its inputs); yields responses in order."""
        for res, response in self.evaluate(prepare(resources, None)):
            assert res is not None
            yield res, response

    def analyze_stack(self, resources: Iterable[AuditResource]) -> Any:
        """``AnalyzeStack`` once over every resource (their outputs)."""
        return self.stub.AnalyzeStack(prepare((), resources).stack, timeout=CALL_TIMEOUT)

    def evaluate(self, prepared: Prepared) -> Iterator[tuple[AuditResource | None, Any]]:
        """``Analyze`` each prepared resource, then ``AnalyzeStack`` when one is prepared.

        Yields ``(resource, response)`` per Analyze call in order, then ``(None, response)``
        for the stack. The stack call is sent as soon as the last Analyze call is, so the
        pack works on it while the last answers come back.
        """
        pending: list[tuple[AuditResource, Any]] = []
        for res, request in prepared.analyze:
            pending.append((res, self.stub.Analyze.future(request, timeout=CALL_TIMEOUT)))
            if len(pending) >= WINDOW:
                done, future = pending.pop(0)
                yield done, future.result()
        whole = None if prepared.stack is None \
            else self.stub.AnalyzeStack.future(prepared.stack, timeout=CALL_TIMEOUT)
        for done, future in pending:
            yield done, future.result()
        if whole is not None:
            yield None, whole.result()

    def stop(self) -> None:
        """Close the channel and stop the pack process (by its PID)."""
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._stderr.close()

    def __enter__(self) -> Analyzer:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()


@dataclass(frozen=True)
class Prepared:
    """The requests of one evaluation, built before the pack is ready to answer them."""

    analyze: list[tuple[AuditResource, Any]]
    stack: Any  # AnalyzeStackRequest, or None for Analyze calls only


def prepare(analyzed: Iterable[AuditResource], stack: Iterable[AuditResource] | None,
            ) -> Prepared:
    """One ``AnalyzeRequest`` per resource of ``analyzed`` (its inputs) and, unless ``stack``
    is None, the ``AnalyzeStackRequest`` over ``stack`` (their outputs)."""
    from pulumi.runtime.proto import analyzer_pb2

    providers: dict[str, Any] = {}
    requests = [(res, analyzer_pb2.AnalyzeRequest(
        urn=res.urn, type=res.type, name=res.name, properties=_struct(res.inputs),
        options=_options(res), provider=_cached_provider(providers, res.provider)))
        for res in analyzed]
    if stack is None:
        return Prepared(requests, None)
    whole = analyzer_pb2.AnalyzeStackRequest()
    for res in stack:
        entry = whole.resources.add(
            urn=res.urn, type=res.type, name=res.name, properties=_struct(res.outputs),
            options=_options(res), parent=res.parent, dependencies=list(res.dependencies))
        if res.provider is not None:
            entry.provider.CopyFrom(_cached_provider(providers, res.provider))
        for key, urns in res.property_dependencies.items():
            if urns:
                entry.propertyDependencies[key].urns.extend(urns)
    return Prepared(requests, whole)


def _options(res: AuditResource) -> Any:
    from pulumi.runtime.proto import analyzer_pb2

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
    from pulumi.runtime.proto import analyzer_pb2

    return analyzer_pb2.AnalyzerProviderResource(
        urn=provider.urn, type=provider.type, name=provider.name,
        properties=_struct(provider.props))
