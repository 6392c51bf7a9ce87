"""The Analyzer protocol's generated modules, loaded without importing the Pulumi SDK.

The generated ``analyzer_pb2`` and ``analyzer_pb2_grpc`` live in ``pulumi.runtime.proto``,
and importing anything under ``pulumi`` first runs the SDK's ``__init__``: asyncio, the
automation API, OpenTelemetry and every other protocol (about 0.3 s, on the audit's critical
path while the pack boots). The generated files themselves need only protobuf and gRPC, so
they are loaded from the installed SDK's directory under a private package name.

Their descriptors go into protobuf's default pool, where the SDK registers the same files, so
message classes are shared with the SDK whichever is imported first. When the SDK is already
imported, or its files are not where they were, the SDK's own modules are used.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from functools import cache
from pathlib import Path
from typing import Any

PACKAGE = "kiln.audit._pulumi_proto"
SDK_PACKAGE = "pulumi.runtime.proto"


def _package() -> str:
    """The package to import the generated modules from."""
    if PACKAGE in sys.modules:
        return PACKAGE
    if "pulumi" in sys.modules:
        return SDK_PACKAGE
    spec = importlib.util.find_spec("pulumi")  # finds the package without running it
    locations = list(spec.submodule_search_locations or []) if spec else []
    proto = [Path(p) / "runtime" / "proto" for p in locations]
    if not any((p / "analyzer_pb2.py").is_file() for p in proto):
        return SDK_PACKAGE
    package = types.ModuleType(PACKAGE, "pulumi.runtime.proto's generated files")
    package.__path__ = [str(p) for p in proto]
    package.__package__ = PACKAGE
    sys.modules[PACKAGE] = package
    return PACKAGE


@cache
def analyzer_pb2() -> Any:
    return importlib.import_module(f"{_package()}.analyzer_pb2")


@cache
def analyzer_pb2_grpc() -> Any:
    return importlib.import_module(f"{_package()}.analyzer_pb2_grpc")
