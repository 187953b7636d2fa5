"""The command line: the one layer that sees every other (core workflows and collectors).

``netwarden`` (:mod:`netwarden.cli.app`) is the Typer app; ``python -m netwarden.cli``
runs it too. Nothing below this package imports it.
"""
