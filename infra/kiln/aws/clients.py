"""AWS clients with bounded, standard-mode retries, one per service and region.

botocore reads ``AWS_ENDPOINT_URL`` itself, so the same code talks to AWS or to a local
emulator. Throttling is retried with backoff inside each call; an operation never
continues past a call that finally failed. botocore is used without boto3: kiln needs
only clients, and boto3's import costs a rollback a few hundred milliseconds.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import botocore.session
from botocore.config import Config

MAX_ATTEMPTS = 8
CONFIG = Config(retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
                connect_timeout=5, read_timeout=30)


@lru_cache(maxsize=1)
def _session() -> botocore.session.Session:
    session = botocore.session.get_session()
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
    # The endpoint is part of the key: tests point AWS_ENDPOINT_URL at a new emulator.
    return _client(service, region, os.environ.get("AWS_ENDPOINT_URL"))


def reset() -> None:
    """Forget cached clients, e.g. after registering event hooks on the session."""
    _client.cache_clear()
