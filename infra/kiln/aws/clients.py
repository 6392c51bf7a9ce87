"""boto3 clients with bounded, standard-mode retries.

botocore reads ``AWS_ENDPOINT_URL`` itself, so the same code talks to AWS or to a local
emulator. Throttling is retried with backoff inside each call; an operation never
continues past a call that finally failed.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

MAX_ATTEMPTS = 8


@lru_cache(maxsize=64)
def _session() -> boto3.session.Session:
    return boto3.session.Session()


def client(service: str, region: str | None = None) -> Any:
    """A client for ``service`` in ``region`` (default: the environment's region)."""
    config = Config(retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
                    connect_timeout=5, read_timeout=30)
    return _session().client(service, region_name=region, config=config)
