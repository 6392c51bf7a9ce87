"""``kiln audit``: a stack's resources → the immutable policy pack → auditor reports.

Resources come from a mock run of the real program or from a ``pulumi stack export`` file
(:mod:`kiln.audit.stacks`); both are evaluated by starting the pack exactly as the Pulumi
engine does and speaking its gRPC protocol (:mod:`kiln.audit.analyzer`). Reports: JSON,
SARIF 2.1.0, JUnit XML and one HTML page.
"""
