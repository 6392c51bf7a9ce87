"""The pack's entry point, run by the engine (``python -u -m pulumi.policy <engine> .``).

Building the PolicyPack starts the analyzer server, prints its port and blocks. An invalid
or expired waiver stops it here, so the run fails.
"""

from kiln_immutable.pack import DEFAULT_ENFORCEMENT, PACK_NAME, build_policies
from pulumi_policy import PolicyPack

PolicyPack(PACK_NAME, build_policies(), DEFAULT_ENFORCEMENT)
