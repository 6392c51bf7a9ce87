"""The pack's entry point, run by the engine (``python -u -m pulumi.policy <engine> .``).

Building the PolicyPack starts the analyzer server, prints its port and blocks. An invalid
or expired waiver stops it here, so the run fails.
"""

from kiln_immutable.pack import DEFAULT_ENFORCEMENT, PACK_NAME, build_policies
from kiln_immutable.servicer import decode_once
from pulumi_policy import PolicyPack

decode_once()
PolicyPack(PACK_NAME, build_policies(), DEFAULT_ENFORCEMENT)
