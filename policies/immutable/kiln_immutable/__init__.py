"""kiln's immutable-infrastructure rules, importable without the policy server.

Importing the package registers every rule (:data:`RULES`, dispatched by type token through
:func:`rules_for`); :mod:`kiln_immutable.pack` turns them into pulumi-policy policies.
"""

from . import (
    channels,
    compute,
    fleets,
    images,
    lifecycle,
    network,
    perimeter,
    scaling,
    shell,
    stack,
    surface,
)
from .rulebook import DISPATCH, RULES, Resource, Rule, Stack, StackResource, evaluate, rules_for

__all__ = ["DISPATCH", "RULES", "Resource", "Rule", "Stack", "StackResource", "channels",
           "compute", "evaluate", "fleets", "images", "lifecycle", "network", "perimeter",
           "rules_for", "scaling", "shell", "stack", "surface"]
