"""The AWS regions that exist, as the installed botocore knows them (offline).

Read from botocore's own data file (``botocore/data/partitions.json``, every partition)
without importing botocore: the model stays free of AWS code, and a typo such as
``eu-west-9`` is refused when the stack file is read instead of failing later at AWS.
"""

from __future__ import annotations

import importlib.util
import json
from functools import lru_cache
from pathlib import Path

from kiln.model.fields import SettingsError, suggest


@lru_cache(maxsize=1)
def known() -> frozenset[str]:
    """Every region of every partition; empty when botocore's data cannot be found."""
    spec = importlib.util.find_spec("botocore")
    for location in (spec.submodule_search_locations or []) if spec else []:
        try:
            data = json.loads((Path(location) / "data" / "partitions.json").read_bytes())
            return frozenset(region for partition in data["partitions"]
                             for region in partition.get("regions", {})
                             if not region.endswith("-global"))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return frozenset()


def check(region: str, where: str) -> str:
    """``region`` when it is a region botocore knows (any region when it knows none)."""
    regions = known()
    if regions and region not in regions:
        hint = suggest(region, sorted(regions))
        if not hint.startswith("did you"):
            hint = "expected a region such as eu-west-1 or us-east-1"
        raise SettingsError(where, f"{region!r} is not an AWS region; {hint}")
    return region
