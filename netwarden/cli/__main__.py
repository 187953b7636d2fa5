"""``python -m netwarden.cli``: the ``netwarden`` command."""

from netwarden.cli.app import main

main()
