"""The ``netwarden`` command's entry point (``[project.scripts]``, and ``python -m
netwarden.cli``): the cyclic garbage collector is paused before the command line's
modules are imported (see :func:`netwarden.cli.app.main`: start-up makes objects that
live as long as the process; collecting over them while importing is wasted). The
installed command and ``python -m netwarden.cli`` start the same way.
"""

import gc

gc.disable()


def main() -> None:
    """Run the ``netwarden`` command (:func:`netwarden.cli.app.main`)."""
    from netwarden.cli import common  # noqa: PLC0415  (after the pause)
    from netwarden.cli.app import main as app_main  # noqa: PLC0415

    common.OWN_PROCESS = True  # a command may end the process itself (common.exit_process)
    app_main()
