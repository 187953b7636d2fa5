"""``netwarden lab ...``: the lab, simulated devices for rehearsal, training and tests.

Registered on the main app by :func:`register` (``netwarden lab sim``). The
simulator itself is :mod:`netwarden.lab.sim`; it is imported by the command that
starts it, not by ``netwarden --help``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from netwarden.cli.common import _fail, console
from netwarden.errors import NetwardenError

lab_app = typer.Typer(
    help="The lab: simulated devices for rehearsal, training and tests.", no_args_is_help=True
)


@lab_app.command("sim")
def lab_sim(
    inventory: Annotated[
        Path | None,
        typer.Option("--inventory", "-i", help="Simulate this inventory's ios devices."),
    ] = None,
    devices: Annotated[
        int | None,
        typer.Option(
            "--devices",
            "-n",
            min=5,
            max=1000,
            help="Or the N switches of a generated inventory (HQ + field offices).",
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Where to write the lab inventory.")
    ] = Path("lab"),
    time_scale: Annotated[
        float,
        typer.Option("--time-scale", min=1.0, help="Device clock speed (60: a minute per second)."),
    ] = 1.0,
    address: Annotated[
        str, typer.Option("--address", help="A 127.0.0.0/8 address to listen on.")
    ] = "127.0.0.1",
) -> None:
    """Start simulated IOS devices and write a lab inventory + known_hosts; serve until Ctrl-C/SIGTERM."""
    from netwarden.lab.sim.fleet import SimFleet, run_sim  # noqa: PLC0415

    if (inventory is None) == (devices is None):
        raise _fail("give exactly one of --inventory and --devices")

    def ready(fleet: SimFleet, known_hosts: Path) -> None:
        table = Table(title=f"{len(fleet.devices)} simulated devices (Ctrl-C to stop)")
        for col in ("device", "address", "port", "model"):
            table.add_column(col)
        for name, dev in sorted(fleet.devices.items()):
            spec = dev.spec
            table.add_row(name, spec.address, str(dev.bound_port), spec.model)
        console.print(table)
        console.print(
            f"lab inventory: {out}  (use -i {out}); known hosts: {known_hosts}", soft_wrap=True
        )

    try:
        code = run_sim(
            inventory=inventory,
            devices=devices,
            out=out,
            time_scale=time_scale,
            address=address,
            ready=ready,
        )
    except (NetwardenError, ValueError, OSError) as exc:
        raise _fail(str(exc)) from exc
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add ``netwarden lab`` and its commands to ``app``."""
    app.add_typer(lab_app, name="lab")
