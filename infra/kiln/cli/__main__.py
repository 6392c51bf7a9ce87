"""``python -m kiln.cli``: the ``kiln`` command."""

from kiln.cli.launch import main

main()
