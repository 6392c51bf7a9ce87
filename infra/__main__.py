"""Pulumi entry point: parse the stack's settings, build the service, export outputs."""

import os
import sys

# Pulumi runs this file directly; make the `kiln` package beside it importable.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kiln.program.build import build, load_settings

build(load_settings())
