"""``netwarden lab ...``: the lab, for rehearsal, training and tests.

Registered on the main app by :func:`register`: ``lab sim`` (simulated switches,
rootless) and the namespace lab, ``lab up|status|down|exec`` (root). The simulator
(:mod:`netwarden.lab.sim`) and the namespace lab (:mod:`netwarden.lab.ns`) are
imported by the commands that use them, not by ``netwarden --help``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from netwarden.cli.common import EXIT_FINDINGS, JsonOpt, _fail, console, default_inventory, notice
from netwarden.errors import (
    InventoryError,
    LabBusyError,
    LabNeedsRootError,
    LabNotFoundError,
    LabPlanError,
    NetwardenError,
)

lab_app = typer.Typer(
    help="The lab: simulated devices (rootless) and the whole organisation in network "
    "namespaces (root), for rehearsal, training and tests.",
    no_args_is_help=True,
)
LabDirArg = Annotated[
    Path, typer.Argument(help="The lab directory (lab up --out).", show_default=True)
]


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


def _lab_failure(exc: NetwardenError) -> typer.Exit:
    """Exit 2 for what the user must change (root, a busy lab, the inventory), else 1."""
    usage = isinstance(
        exc, LabNeedsRootError | LabBusyError | LabPlanError | LabNotFoundError | InventoryError
    )
    return _fail(str(exc), code=2 if usage else EXIT_FINDINGS)


def _size(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


@lab_app.command("up")
def lab_up_cmd(
    inventory: Annotated[
        Path | None,
        typer.Option(
            "--inventory",
            "-i",
            help="Build this inventory (default: $NETWARDEN_INVENTORY or ./inventory).",
        ),
    ] = None,
    sites: Annotated[
        int | None,
        typer.Option(
            "--sites", min=1, max=200, help="Or a generated inventory: HQ and N field offices."
        ),
    ] = None,
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="The lab directory (also the lab inventory)."),
    ] = Path("lab"),
    no_sim: Annotated[
        bool, typer.Option("--no-sim", help="Do not start the simulated switches.")
    ] = False,
    sensors: Annotated[
        bool,
        typer.Option(
            "--sensors",
            help="Run the traffic auditor on each sensor's SPAN port (events in "
            "<lab>/.lab/sensors/<sensor>/events.jsonl, metrics on :9101).",
        ),
    ] = False,
) -> None:
    """Build the organisation in network namespaces (root).

    Firewalls, servers, sensors, clients, switches, WAN, internet and partners, from
    the inventory; the lab directory is also the lab inventory. A running lab in
    --out is reported, not rebuilt; a half-built one is removed and built anew.
    """
    from netwarden.lab.ns.build import UpOptions, lab_up  # noqa: PLC0415

    if inventory is not None and sites is not None:
        raise _fail("give at most one of --inventory and --sites")
    options = UpOptions(
        out=out,
        inventory=None if sites is not None else (inventory or default_inventory()),
        sites=sites,
        sim=not no_sim,
        sensors=sensors,
    )
    try:
        result = lab_up(options, progress=lambda msg: notice("lab:", "cyan", msg))
    except KeyboardInterrupt:
        raise _fail("interrupted; the half-built lab was removed", code=130) from None
    except NetwardenError as exc:
        raise _lab_failure(exc) from exc
    what = "lab already running (nothing changed)" if result.already_running else "lab up"
    console.print(f"{what}: {result.lab_dir}", highlight=False, soft_wrap=True)
    table = Table()
    table.add_column("kind")
    table.add_column("nodes", justify="right")
    for kind, count in sorted(result.nodes_by_kind.items()):
        table.add_row(kind, str(count))
    console.print(table)
    fig = result.figures
    console.print(
        f"namespaces {fig.namespaces}, processes {fig.processes}, RSS {_size(fig.rss_bytes)} "
        f"(PSS {_size(fig.pss_bytes)}), {result.seconds:.1f} s",
        highlight=False,
    )
    for missing in result.not_started:
        notice("note:", "yellow", f"not started: {missing}")
    console.print(f"lab inventory: -i {result.lab_dir}", highlight=False, soft_wrap=True)
    if result.work_from:
        console.print(
            f"work from {result.work_from}: netwarden lab exec --lab {result.lab_dir} "
            f"{result.work_from} -- bash",
            highlight=False,
            soft_wrap=True,
        )


@lab_app.command("status")
def lab_status_cmd(lab_dir: LabDirArg = Path("lab"), as_json: JsonOpt = False) -> None:
    """Show the lab in LAB_DIR: nodes, processes, resources (exit 1: not running whole)."""
    from netwarden.lab.ns.build import require_root  # noqa: PLC0415
    from netwarden.lab.ns.status import age, lab_status  # noqa: PLC0415

    try:
        require_root()  # the state is private, other processes' namespaces too
        status = lab_status(lab_dir)
    except NetwardenError as exc:
        raise _fail(str(exc)) from exc
    if as_json:
        typer.echo(status.model_dump_json(indent=2))
    else:
        state = "running" if status.running else f"NOT running ({status.phase})"
        console.print(
            f"lab {status.prefix} in {status.lab_dir}: {state}, from {status.source}, "
            f"up {age(status.created)}",
            highlight=False,
            soft_wrap=True,
        )
        table = Table()
        for col in ("node", "kind", "site", "namespace", "procs", "addresses"):
            table.add_column(col)
        for node in sorted(status.nodes, key=lambda n: (n.site or "", n.kind, n.name)):
            table.add_row(
                node.name,
                node.kind,
                node.site or "",
                node.netns if node.present else f"{node.netns} (missing)",
                str(node.processes),
                " ".join(node.addresses),
            )
        console.print(table)
        fig = status.figures
        console.print(
            f"namespaces {fig.namespaces}, processes {fig.processes}, "
            f"RSS {_size(fig.rss_bytes)} (PSS {_size(fig.pss_bytes)})",
            highlight=False,
        )
        for auditor in status.auditors:
            console.print(
                f"auditor {auditor.sensor} ({auditor.site}): "
                f"{'running' if auditor.running else 'NOT running'}, {auditor.events} events "
                f"in {auditor.events_file}",
                highlight=False,
                soft_wrap=True,
            )
        for dead in status.dead_processes:
            notice("warning:", "yellow", f"process not running: {dead}")
    if not status.running:
        raise typer.Exit(EXIT_FINDINGS)


@lab_app.command("down")
def lab_down_cmd(lab_dir: LabDirArg = Path("lab")) -> None:
    """Remove the lab in LAB_DIR, running or half-built, and the directory."""
    from netwarden.lab.ns.build import require_root  # noqa: PLC0415
    from netwarden.lab.ns.teardown import lab_down  # noqa: PLC0415

    try:
        require_root()
        result = lab_down(lab_dir)
    except NetwardenError as exc:
        raise _lab_failure(exc) from exc
    for problem in result.problems:
        notice("error:", "bold red", problem)
    console.print(
        f"lab down: {result.namespaces} namespaces, {result.processes} processes, "
        f"{result.files} outside files removed",
        highlight=False,
    )
    if result.problems:
        raise typer.Exit(EXIT_FINDINGS)


@lab_app.command(
    "exec", context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True}
)
def lab_exec_cmd(
    node: Annotated[str, typer.Argument(help="A node: jed-mon1, nyc-staff-c1, wan, internet...")],
    command: Annotated[list[str], typer.Argument(help="The command and its arguments.")],
    lab_dir: Annotated[Path, typer.Option("--lab", help="The lab directory.")] = Path("lab"),
) -> None:
    """Run a command in a node's network namespace (root).

    The lab is sealed: only its own namespaces reach its addresses, so work from a
    node, e.g. `netwarden lab exec jed-mon1 -- netwarden plan -i lab`.
    """
    from netwarden.lab.ns.build import require_root  # noqa: PLC0415
    from netwarden.lab.ns.status import exec_argv  # noqa: PLC0415

    try:
        require_root()
        argv = exec_argv(lab_dir, node, command[1:] if command[:1] == ["--"] else command)
    except NetwardenError as exc:  # no root, no lab, no such node: all the caller's to fix
        raise _fail(str(exc)) from exc
    try:
        os.execvp(argv[0], argv)  # noqa: S606 - the engineer's own command, in the lab
    except OSError as exc:
        raise _fail(f"cannot run {argv[0]}: {exc}") from exc


def register(app: typer.Typer) -> None:
    """Add ``netwarden lab`` and its commands to ``app``."""
    app.add_typer(lab_app, name="lab")
