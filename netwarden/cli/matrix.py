"""``netwarden matrix``: the connection matrix, the flow policy beside the live firewalls.

For every (zone@site, zone@site, service) of the policy: allowed or denied by the
policy (what the firewalls are rendered from), allowed or denied by the ruleset the
firewalls on the path run now (``nft -j list ruleset`` over their sessions, or
``--rulesets DIR`` of ``<firewall>.json`` files), and whether they differ
(:mod:`netwarden.compliance.livematrix`, whose limits every output states). Formats:
``text`` (a line per row, then the summary), ``json`` (the report model),
``markdown`` (a table). Exit codes: 0 no mismatch, 1 a mismatch or a firewall that
could not be read, 2 usage.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from netwarden.cli.common import (
    InventoryOpt,
    KnownHostsOpt,
    LimitOpt,
    TimeoutOpt,
    TofuOpt,
    VaultOpt,
    _fail,
    _load,
    concurrency_option,
    err_console,
    exit_for,
    notice,
)
from netwarden.cli.session import progress, session_options
from netwarden.errors import NetwardenError
from netwarden.textsafe import printable

if TYPE_CHECKING:
    from netwarden.compliance.livematrix import MatrixReport, Row
    from netwarden.devices import SessionOptions
    from netwarden.inventory.models import Device, Inventory


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"


def _is_nft_firewall(device: Device) -> bool:
    return device.function.value == "firewall" and device.model == "nftables"


def matrix(
    inventory: InventoryOpt,
    *,
    vault_password_file: VaultOpt = None,
    limit: LimitOpt = None,
    rulesets: Annotated[
        Path | None,
        typer.Option(
            "--rulesets",
            help="Offline: a folder of <firewall>.json (nft -j list ruleset) instead of "
            "reading the firewalls.",
        ),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="text, json or markdown.")] = (
        Format.TEXT
    ),
    mismatches_only: Annotated[
        bool, typer.Option("--mismatches-only", help="Only the rows that differ.")
    ] = False,
    known_hosts: KnownHostsOpt = None,
    trust_on_first_use: TofuOpt = False,
    timeout: TimeoutOpt = 30.0,
    concurrency: Annotated[int, concurrency_option("Firewalls read at once.")] = 8,
) -> None:
    """Policy vs live firewalls for every (zone, zone, service); exit 1 on a mismatch.

    --limit chooses the firewalls (by name, site or group); the rows are the flows
    whose every firewall is chosen: within their sites, to and from the internet, and
    between two chosen sites.
    """
    inv = _load(inventory, vault_password_file)
    firewalls = _firewalls(inv, limit)
    try:
        if rulesets is not None:
            report = _offline(inv, firewalls, rulesets)
        else:
            report = _live(
                inv,
                firewalls,
                session_options(inventory, known_hosts, trust_on_first_use, timeout),
                concurrency,
            )
    except NetwardenError as exc:
        raise _fail(str(exc)) from exc
    _notes(report)
    rows = report.mismatches if mismatches_only else list(report.rows)
    if fmt is Format.JSON:
        shown = report.model_copy(update={"rows": tuple(rows)}) if mismatches_only else report
        typer.echo(shown.model_dump_json(indent=2))
    elif fmt is Format.MARKDOWN:
        typer.echo(markdown(report, rows))
    else:
        typer.echo(text(report, rows))
    raise exit_for(not report.ok)


def _firewalls(inv: Inventory, limit: str | None) -> list[Device]:
    """The nftables firewalls ``--limit`` selects (all without one); none is a usage error."""
    from netwarden.inventory.select import check_limit, select  # noqa: PLC0415

    try:
        check_limit(limit, inv)
    except NetwardenError as exc:
        raise _fail(str(exc)) from exc
    firewalls = [d for d in select(inv, limit) if _is_nft_firewall(d)]
    if not firewalls:
        chosen = f"--limit {limit!r} selects" if limit else "the inventory has"
        raise _fail(f"matrix: {chosen} no nftables firewall")
    absent = [d.name for d in firewalls if d.connection is not None and d.connection.lab_absent]
    if absent and len(absent) == len(firewalls):
        raise _fail(
            f"matrix: every firewall selected is absent from this lab ({', '.join(absent)}): "
            "netwarden lab sim simulates switches; netwarden lab up runs the firewalls"
        )
    if absent:
        notice(
            "note:", "yellow", f"left out the firewalls absent from this lab: {', '.join(absent)}"
        )
    return [d for d in firewalls if d.name not in absent]


def _offline(inv: Inventory, firewalls: list[Device], folder: Path) -> MatrixReport:
    from netwarden.compliance.livematrix import build_report  # noqa: PLC0415

    if not folder.is_dir():
        raise _fail(f"--rulesets {folder}: not a directory of <firewall>.json files")
    texts: dict[str, tuple[str | None, str]] = {}
    for fw in firewalls:
        path = folder / f"{fw.name}.json"
        try:
            texts[fw.name] = (path.read_text(encoding="utf-8"), "")
        except OSError as exc:
            texts[fw.name] = (None, f"{path}: {exc.strerror}")
    return build_report(
        inv, firewalls, texts, f"folder {folder}", lambda n: str(folder / f"{n}.json")
    )


def _live(
    inv: Inventory, firewalls: list[Device], options: SessionOptions, concurrency: int
) -> MatrixReport:
    from netwarden.compliance.livematrix import build_report, read_live  # noqa: PLC0415

    with progress(err_console, "matrix", len(firewalls)) as advance:
        texts = read_live(firewalls, options, concurrency=concurrency, on_done=advance)
    return build_report(
        inv,
        firewalls,
        texts,
        f"live: {len(firewalls)} firewall(s) over SSH",
        lambda n: f"live/{n}/nft -j list ruleset",
    )


def _notes(report: MatrixReport) -> None:
    for fw in report.firewalls:
        if fw.error:
            notice("error:", "bold red", f"{fw.name}: not read: {fw.error}")
        elif fw.unsupported_rules:
            notice(
                "warning:",
                "yellow",
                f"{fw.name}: {fw.unsupported_rules} rule(s) with expressions the evaluator does "
                "not know (they never match)",
            )


def _cells(row: Row) -> tuple[str, ...]:
    return (
        printable(row.src, multiline=False),
        printable(row.dst, multiline=False),
        printable(row.service, multiline=False),
        row.policy,
        row.live,
        "MISMATCH " + ",".join(row.differing) if row.mismatch else "",
    )


def summary(report: MatrixReport) -> str:
    """``matrix: N rows, M mismatches, K firewalls not read`` (and the evaluator's limits)."""
    return (
        f"matrix: {len(report.rows)} rows (zone, zone, service), {len(report.mismatches)} "
        f"mismatch(es), {len(report.unread)} firewall(s) not read; source: {report.source}\n"
        f"evaluator limits: {report.limits}"
    )


def text(report: MatrixReport, rows: list[Row]) -> str:
    head = ("from", "to", "service", "policy", "live", "mismatch")
    table = [head, *(_cells(r) for r in rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]
    for row in (r for r in rows if r.mismatch):
        lines.append(
            f"mismatch: {printable(row.src)} -> {printable(row.dst)} {printable(row.service)}: "
            f"policy {row.policy} ({', '.join(row.policy_rules)}), live {row.live} "
            f"({'; '.join(printable(x) for x in row.live_rules[:4])})"
        )
    return "\n".join([*lines, summary(report)])


def markdown(report: MatrixReport, rows: list[Row]) -> str:
    def esc(value: str) -> str:
        return printable(value, multiline=False).replace("|", "\\|")

    out = [
        "# Connection matrix: policy vs live firewalls",
        "",
        f"Inventory `{esc(report.inventory)}`; source: {esc(report.source)}.",
        "",
        "| from | to | service | policy | live | mismatch | live rule |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        src, dst, service, policy, live, mismatch = (esc(c) for c in _cells(row))
        rule = esc(row.live_rules[0]) if row.live_rules else ""
        out.append(f"| {src} | {dst} | {service} | {policy} | {live} | {mismatch} | {rule} |")
    out += ["", *(f"> {esc(line)}" for line in summary(report).splitlines())]
    return "\n".join(out)


def register(app: typer.Typer) -> None:
    """Add ``matrix`` to ``app``."""
    app.command()(matrix)
