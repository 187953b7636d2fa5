"""The ``netwarden`` command: ``netwarden <noun> <verb>`` or ``netwarden <verb>``.

This module holds the app, its global options (``-v``), the ``inventory`` and
``render`` commands and :func:`main`; the other commands are registered on the app
from their own modules: ``plan|apply|backup|drift`` (:mod:`~netwarden.cli.fleet`),
``lab`` (:mod:`~netwarden.cli.lab`), ``matrix`` (:mod:`~netwarden.cli.matrix`), ``audit`` (:mod:`~netwarden.cli.audit`) and
``auditor`` (:mod:`~netwarden.cli.auditor`).

Exit codes: 0 ok, 1 findings or failures, 2 usage or bad input.

The other modules are imported when their command runs (or for ``--help``, which
lists them all), not at start-up: the auditor does not pay for Grafana's SDK, Jinja,
the fleet's or the lab's modules (:class:`LazyGroup`).
"""

from __future__ import annotations

import gc
import importlib
import json
import logging
import os
from pathlib import Path
from typing import Annotated

import typer
import typer.main
from typer._click import Command, Context  # typer vendors Click: its types, for LazyGroup
from typer.core import TyperGroup

from netwarden import __version__
from netwarden.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    InventoryOpt,
    JsonOpt,
    LimitOpt,
    VaultOpt,
    _fail,
    _load,
    notice,
    select_for,
)
from netwarden.errors import NetwardenError
from netwarden.inventory.models import Function, Inventory
from netwarden.privatefile import write_private

logger = logging.getLogger(__name__)

# numpy's OpenBLAS starts a thread per core when numpy is imported, and they spin for a
# while: ~50 ms of start-up and of CPU on the auditor's path, for linear algebra no
# netwarden command does. One thread unless the user set otherwise (decision 96). Set
# here, before any command module imports numpy (tests/unit/test_cli_startup.py).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

LAZY_COMMANDS: dict[str, str] = {
    "plan": "netwarden.cli.fleet",
    "apply": "netwarden.cli.fleet",
    "backup": "netwarden.cli.fleet",
    "drift": "netwarden.cli.fleet",
    "matrix": "netwarden.cli.matrix",
    "lab": "netwarden.cli.lab",
    "audit": "netwarden.cli.audit",
    "auditor": "netwarden.cli.auditor",
    "exporter": "netwarden.cli.exporter",
    "monitoring": "netwarden.cli.exporter",
    "dashboards": "netwarden.cli.dashboards",
}
"""Commands defined in other modules (each has ``register(app)``), in ``--help`` order
after the ones of this module: a module is imported only when one of its commands is
looked up."""

HELP_ORDER = (
    "version",
    "render",
    "plan",
    "apply",
    "backup",
    "drift",
    "matrix",
    "inventory",
    "lab",
    "audit",
    "auditor",
    "exporter",
    "monitoring",
    "dashboards",
)
"""The order of ``netwarden --help`` (this module's commands among the lazy ones)."""


class LazyGroup(TyperGroup):
    """The root command group: other modules' commands are imported on first look-up.

    Importing every command module at start was a large share of the auditor's time
    before its first packet (Grafana's SDK for ``dashboards``, Jinja and Ansible for the
    fleet, the lab, scapy). Click asks a group for a command by name
    (:meth:`get_command`) and for the names to list (:meth:`list_commands`): the
    first imports the one module that defines the command (its ``register(app)``
    on a scratch Typer app); help lists every name, so it imports them all, and so
    does an unknown name (the "did you mean" suggestion sees every command).
    """

    def list_commands(self, ctx: Context) -> list[str]:  # noqa: ARG002  (Click's signature)
        known = [n for n in HELP_ORDER if n in self.commands or n in LAZY_COMMANDS]
        return known + [n for n in self.commands if n not in HELP_ORDER]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:  # noqa: ARG002
        if cmd_name not in self.commands and cmd_name in LAZY_COMMANDS:
            self.commands.update(_load_commands(LAZY_COMMANDS[cmd_name]))
        return self.commands.get(cmd_name)

    def resolve_command(
        self, ctx: Context, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        if args and args[0] not in self.commands and args[0] not in LAZY_COMMANDS:
            for module in dict.fromkeys(LAZY_COMMANDS.values()):
                self.commands.update(_load_commands(module))
        return super().resolve_command(ctx, args)


def _load_commands(module: str) -> dict[str, Command]:
    """The Click commands that ``module``'s ``register(app)`` adds to a Typer app."""
    scratch = typer.Typer()
    importlib.import_module(module).register(scratch)
    return dict(typer.main.get_group(scratch).commands)


app = typer.Typer(
    cls=LazyGroup,
    name="netwarden",
    help="Infrastructure automation and network security monitoring for the secretariat's network.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
inventory_app = typer.Typer(
    help="Read, validate, show and generate the inventory.", no_args_is_help=True
)
app.add_typer(inventory_app, name="inventory")

FUNCTION_HEADINGS = {
    Function.SWITCH: "sw",
    Function.FIREWALL: "fw",
    Function.SERVER: "srv",
    Function.SENSOR: "sensor",
}


KEEPS_GC_PAUSED = frozenset({"auditor"})
"""Commands that resume the cyclic garbage collector themselves, once started (see :func:`main`)."""


@app.callback()
def _main(
    ctx: typer.Context,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More logging (-vv for debug).")
    ] = 0,
) -> None:
    if ctx.invoked_subcommand not in KEEPS_GC_PAUSED:
        gc.enable()  # paused by main() for the start-up; this command's work begins
    from netwarden.ios.sanitize import RedactingFormatter  # noqa: PLC0415

    level = logging.WARNING - 10 * min(verbose, 2)
    handler = logging.StreamHandler()  # log lines can quote device output: redacted, escaped
    handler.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
    if verbose < 2:
        # paramiko logs every client that hangs up abruptly as an ERROR; that is normal traffic.
        logging.getLogger("paramiko").setLevel(logging.CRITICAL)


@app.command()
def version() -> None:
    """Print netwarden's version."""
    from netwarden.cli.readable import console  # noqa: PLC0415  (Rich: when printing)

    console.print(__version__)


@inventory_app.command("check")
def inventory_check(
    inventory: InventoryOpt, vault_password_file: VaultOpt = None, as_json: JsonOpt = False
) -> None:
    """Validate the inventory and report every problem at once (exit 2 if any).

    Warnings (a cable declared at one end only) are printed too; they do not fail the check.
    """
    from netwarden.inventory import read_inventory  # noqa: PLC0415
    from netwarden.inventory.checks import inventory_warnings  # noqa: PLC0415

    try:
        inv, problems = read_inventory(inventory, vault_password_file)
    except NetwardenError as exc:
        raise _fail(str(exc)) from exc
    warnings = inventory_warnings(inv) if inv is not None else []
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "inventory": str(inventory),
                    "ok": not problems,
                    "problems": [p.model_dump() for p in problems],
                    "warnings": [w.model_dump() for w in warnings],
                    "devices": len(inv.devices) if inv else 0,
                    "sites": len(inv.sites) if inv else 0,
                },
                indent=2,
            )
        )
        raise typer.Exit(EXIT_USAGE if problems else EXIT_OK)
    from netwarden.cli.readable import console, err_console  # noqa: PLC0415

    for warning in warnings:
        notice("warning:", "yellow", str(warning))
    if problems:
        for p in problems:
            console.print(str(p), highlight=False, markup=False, soft_wrap=True)
        err_console.print(f"[bold red]{len(problems)} problem(s)[/] in {inventory}")
    else:
        assert inv is not None  # noqa: S101  (no problems implies a model)
        warned = f", {len(warnings)} warning(s)" if warnings else ""
        console.print(
            f"[green]ok[/]: {inventory}: {len(inv.sites)} sites, {len(inv.devices)} devices, "
            f"{len(inv.zones)} zones, {len(inv.flow_policy.rules)} flow rules{warned}"
        )
    raise typer.Exit(EXIT_USAGE if problems else EXIT_OK)


def inventory_summary(inv: Inventory) -> dict[str, object]:
    """Sites, devices and zones as plain data (the JSON of ``inventory show``)."""
    return {
        "org": inv.org.model_dump(),
        "sites": [
            {
                "name": s.name,
                "code": s.code,
                "city": s.city,
                "country": s.country,
                "role": s.role.value,
                "timezone": s.timezone,
                "wan": {
                    "kind": s.wan.kind,
                    "address": str(s.wan.address),
                    "bandwidth_mbps": s.wan.bandwidth_mbps,
                },
                "zones": {
                    z: {"vlan": zs.vlan, "subnet": str(zs.subnet), "gateway": str(zs.gateway)}
                    for z, zs in s.zones.items()
                },
                "devices": sorted(d.name for d in inv.devices_at(s.name)),
            }
            for s in inv.sites.values()
        ],
        "devices": [
            {
                "name": d.name,
                "site": d.site,
                "function": d.function.value,
                "platform": d.platform.value,
                "model": d.model,
                "role": d.role,
                "mgmt_address": str(d.mgmt_address),
                "provides": list(d.provides),
            }
            for d in inv.devices.values()
        ],
        "zones": {
            z.name: {"description": z.description, "hq_only": z.hq_only} for z in inv.zones.values()
        },
        "flow_rules": len(inv.flow_policy.rules),
    }


def print_fleet(inv: Inventory, devices: bool = True) -> None:
    """The fleet summary: one row per site, and optionally one per device."""
    from rich.table import Table  # noqa: PLC0415

    from netwarden.cli.readable import console  # noqa: PLC0415

    sites = Table(title=f"{inv.org.name}: {len(inv.sites)} sites, {len(inv.devices)} devices")
    for col in ("site", "role", "city", "timezone", "WAN", "zones"):
        sites.add_column(col, no_wrap=col == "site")
    for f in Function:
        sites.add_column(FUNCTION_HEADINGS[f], justify="right")
    for s in sorted(inv.sites.values(), key=lambda s: (s.role.value != "hq", s.name)):
        devs = inv.devices_at(s.name)
        counts = [str(sum(d.function is f for d in devs)) for f in Function]
        sites.add_row(
            s.name,
            s.role.value,
            f"{s.city} ({s.country})",
            s.timezone,
            f"{s.wan.kind} {s.wan.bandwidth_mbps}M",
            str(len(s.zones)),
            *counts,
        )
    console.print(sites)
    if not devices:
        return
    table = Table(title="Devices")
    for col in ("device", "site", "function", "platform", "model", "management", "provides"):
        table.add_column(col, no_wrap=col in ("device", "management"))
    for d in sorted(inv.devices.values(), key=lambda d: (d.site, d.function.value, d.name)):
        table.add_row(
            d.name,
            d.site,
            d.function.value,
            d.platform.value,
            d.model,
            str(d.mgmt_address),
            ", ".join(d.provides),
        )
    console.print(table)


@inventory_app.command("show")
def inventory_show(
    inventory: InventoryOpt,
    vault_password_file: VaultOpt = None,
    as_json: JsonOpt = False,
    sites_only: Annotated[bool, typer.Option("--sites", help="Only the per-site summary.")] = False,
) -> None:
    """Print sites, devices and zones as tables (or JSON)."""
    inv = _load(inventory, vault_password_file)
    if as_json:
        typer.echo(json.dumps(inventory_summary(inv), indent=2))
        return
    print_fleet(inv, devices=not sites_only)
    if sites_only:
        return
    from rich.table import Table  # noqa: PLC0415

    from netwarden.cli.readable import console  # noqa: PLC0415

    zones = Table(title="Zones")
    zones.add_column("zone")
    zones.add_column("description")
    for z in inv.zones.values():
        zones.add_row(z.name + (" (HQ only)" if z.hq_only else ""), z.description)
    console.print(zones)


@inventory_app.command("generate")
def inventory_generate(
    sites: Annotated[int, typer.Option("--sites", "-n", help="Number of field offices (1-200).")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="New directory to write the inventory into.")
    ],
    template: Annotated[
        Path | None, typer.Option("--template", help="Inventory whose organisation policy to copy.")
    ] = None,
) -> None:
    """Write a valid synthetic inventory of HQ plus N field offices (for scale tests and benchmarks)."""
    from netwarden.inventory.generate import generate  # noqa: PLC0415

    try:
        hosts = generate(out, sites, template)
    except NetwardenError as exc:
        raise _fail(str(exc)) from exc
    from netwarden.cli.readable import console  # noqa: PLC0415

    console.print(
        f"wrote {out}: HQ + {sites} field offices, {hosts} devices (vault password in {out}/.vault-password)"
    )


@app.command()
def render(
    inventory: InventoryOpt,
    vault_password_file: VaultOpt = None,
    limit: LimitOpt = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Directory to write <device>.cfg into.")
    ] = Path("out/configs"),
    as_json: JsonOpt = False,
) -> None:
    """Render the intended config of every ios device and nftables firewall (or those matching --limit)."""
    from netwarden.render import fingerprint, renderer_for  # noqa: PLC0415  (Jinja)

    inv = _load(inventory, vault_password_file)
    handled = (lambda d: renderer_for(d) is not None, "ios and nftables firewall")
    devices = select_for("render", inv, limit, handles=handled)  # exits 2: nothing renderable
    configs: dict[str, str] = {}
    names: dict[str, str] = {}
    try:
        for d in devices:
            renderer = renderer_for(d)
            assert renderer is not None  # noqa: S101  (selected by handles)
            configs[d.name] = renderer.render(inv, d)
            names[d.name] = f"{d.name}{renderer.suffix}"
    except NetwardenError as exc:
        raise _fail(str(exc)) from exc
    try:  # the configs hold the keys they push: 0600 files in a 0700 directory
        for name, text in configs.items():
            write_private(out / names[name], text)
    except OSError as exc:
        raise _fail(f"cannot write to {out}: {exc.strerror}", EXIT_FINDINGS) from exc
    rows = [
        {
            "device": name,
            "path": str(out / names[name]),
            "lines": text.count("\n"),
            "sha256": fingerprint(text),
        }
        for name, text in configs.items()
    ]
    if as_json:
        typer.echo(json.dumps({"out": str(out), "configs": rows}, indent=2))
        return
    from rich.table import Table  # noqa: PLC0415

    from netwarden.cli.readable import console  # noqa: PLC0415

    table = Table(title=f"Intended configs in {out}")
    table.add_column("device", no_wrap=True)
    table.add_column("lines", justify="right")
    table.add_column("sha256", no_wrap=True)
    for row in rows:
        table.add_row(str(row["device"]), str(row["lines"]), str(row["sha256"])[:12])
    console.print(table)


def main() -> None:
    """Console-script entry point.

    The cyclic garbage collector is paused from here (``python -m netwarden.cli``: from
    before the first import) until the command starts its work: the root callback
    resumes it, or a command of :data:`KEEPS_GC_PAUSED` once its own start-up is done
    (the auditor: when its engine is built, :class:`~collectors.auditor.engine.Engine`).
    What start-up makes (modules, classes, Click commands, pydantic validators, the
    inventory) lives as long as the process: collecting while it is made finds almost
    nothing (~700 unreachable objects, which the auditor's engine freezes with the rest)
    and cost ~20-40 ms of the auditor's time to its first packet (decision 105).
    """
    gc.disable()
    try:
        app()
    finally:
        gc.enable()  # a caller in the same process (a test) gets its collector back


if __name__ == "__main__":
    main()
