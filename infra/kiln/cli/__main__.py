"""``python -m kiln.cli``: the ``kiln`` command."""

from kiln.cli.app import main

main()
