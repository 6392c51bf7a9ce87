"""kiln: immutable infrastructure on AWS — signed images, blue/green fleets, evidence."""

__version__ = "0.1.0"
