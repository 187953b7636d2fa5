"""``python -m netwarden.cli``: the ``netwarden`` command (:mod:`netwarden.cli.start`)."""

from netwarden.cli.start import main

main()
