"""kiln's immutable-infrastructure rules, importable without the policy server.

Importing the package registers every rule (:data:`RULES`, dispatched by type token through
:func:`rules_for`); :mod:`kiln_immutable.pack` turns them into pulumi-policy policies.
"""

from . import channels, compute, images, lifecycle, network, scaling, stack
from .rulebook import DISPATCH, RULES, Resource, Rule, Stack, StackResource, evaluate, rules_for

__all__ = ["DISPATCH", "RULES", "Resource", "Rule", "Stack", "StackResource", "channels",
           "compute", "evaluate", "images", "lifecycle", "network", "rules_for", "scaling",
           "stack"]
