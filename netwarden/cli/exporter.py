"""``netwarden exporter serve|access`` (the device and access exporters), ``monitoring config``.

The exporter answers ``/probe?target=<device>&module=<health|config|compliance>`` for
the devices of the inventory, logging in with the inventory's credentials (vault
included); see :mod:`collectors.exporter`. ``monitoring config`` writes Prometheus's
configuration for it (and node_exporter, the auditor) from the same inventory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from netwarden.cli.auditor import parse_hostport
from netwarden.cli.common import (
    InventoryOpt,
    KnownHostsOpt,
    LimitOpt,
    VaultOpt,
    _fail,
    _load,
    console,
    err_console,
)
from netwarden.errors import NetwardenError
from netwarden.signals import serve_until_stopped

exporter_app = typer.Typer(
    help="Exporters for Prometheus: devices (multi-target /probe) and access (syslog)."
)
monitoring_app = typer.Typer(help="Prometheus configuration from the inventory.")


@exporter_app.command("serve")
def serve(  # noqa: PLR0917  (one typer command: its options)
    inventory: InventoryOpt,
    vault_password_file: VaultOpt = None,
    listen: Annotated[
        str,
        typer.Option(
            "--listen", help="HOST:PORT to serve on (:PORT is loopback; 0.0.0.0:PORT all)."
        ),
    ] = "127.0.0.1:9430",
    web_config: Annotated[
        Path | None,
        typer.Option(
            "--web-config",
            help="TLS and basic auth (Prometheus exporter-toolkit web configuration file).",
        ),
    ] = None,
    known_hosts: KnownHostsOpt = None,
    backup_repo: Annotated[
        Path | None,
        typer.Option("--backup-repo", help="Backup repository (config module: age, drift)."),
    ] = Path("var/backups"),
    reports: Annotated[
        Path | None,
        typer.Option("--reports", help="Audit report folder (compliance module)."),
    ] = Path("out/compliance"),
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, max=256, help="Probes running at once.")
    ] = 8,
    default_timeout: Annotated[
        float,
        typer.Option(
            "--default-timeout",
            min=0.5,
            help="Seconds a probe may take without Prometheus's scrape-timeout header.",
        ),
    ] = 10.0,
    timeout_margin: Annotated[
        float,
        typer.Option("--timeout-margin", min=0.0, help="Seconds kept from the scrape timeout."),
    ] = 0.5,
    session_idle: Annotated[
        float,
        typer.Option(
            "--session-idle",
            min=0.0,
            help="Seconds a device session is kept open for the next probe of the device "
            "(0: a fresh session per probe).",
        ),
    ] = 60.0,
    session_max_age: Annotated[
        float,
        typer.Option(
            "--session-max-age",
            min=1.0,
            help="Seconds after which a kept session is closed whatever its use "
            "(rotated credentials and host keys are picked up).",
        ),
    ] = 1800.0,
    max_sessions: Annotated[
        int,
        typer.Option(
            "--max-sessions", min=1, max=100000, help="Device sessions kept open at most."
        ),
    ] = 1024,
) -> None:
    """Serve the device exporter until SIGINT/SIGTERM."""
    from collectors.exporter.http import (  # noqa: PLC0415  (prometheus_client, NAPALM)
        Budget,
        build_server,
        inventory_secrets,
    )
    from collectors.exporter.probe import Prober, ProbeSettings  # noqa: PLC0415
    from collectors.exporter.sessions import CacheLimits  # noqa: PLC0415
    from collectors.webconfig import WebConfig, load_web_config  # noqa: PLC0415
    from netwarden.devices import default_known_hosts  # noqa: PLC0415

    try:
        host, port = parse_hostport(listen)
        web = load_web_config(web_config) if web_config is not None else WebConfig()
    except (ValueError, NetwardenError) as exc:
        raise _fail(str(exc)) from exc
    inv = _load(inventory, vault_password_file)
    settings = ProbeSettings(
        known_hosts=known_hosts or default_known_hosts(inventory),
        backup_repo=backup_repo,
        reports=reports,
        concurrency=concurrency,
        sessions=CacheLimits(idle=session_idle, max_age=session_max_age, max_sessions=max_sessions),
    )
    prober = Prober(inv, settings, secrets=inventory_secrets(inv))
    budget = Budget(default_timeout=default_timeout, margin=timeout_margin)
    try:
        server = build_server(prober, host, port, web_config=web, budget=budget)
    except OSError as exc:
        prober.close()
        raise _fail(f"--listen {listen}: {exc.strerror or exc}") from exc
    server.start()
    # One line on stderr that scripts (and the tests) wait for: where it listens.
    err_console.print(
        f"exporter listening on {server.url.removesuffix(server.path)}", highlight=False
    )
    serve_until_stopped(server.close, prober.close)


@exporter_app.command("access")
def access(  # noqa: PLR0917  (one typer command: its options)
    inventory: InventoryOpt,
    vault_password_file: VaultOpt = None,
    listen_syslog: Annotated[
        str,
        typer.Option(
            "--listen-syslog", help="HOST:PORT to receive syslog on (UDP and TCP, same port)."
        ),
    ] = "127.0.0.1:5514",
    listen: Annotated[
        str, typer.Option("--listen", help="HOST:PORT to serve /metrics and /events on.")
    ] = "127.0.0.1:9432",
    web_config: Annotated[
        Path | None,
        typer.Option(
            "--web-config",
            help="TLS and basic auth (Prometheus exporter-toolkit web configuration file).",
        ),
    ] = None,
    events_log: Annotated[
        Path | None,
        typer.Option("--events-log", help="Append each access event to this JSON-lines file."),
    ] = None,
    automation_user: Annotated[
        list[str] | None,
        typer.Option(
            "--automation-user",
            help="A user counted as automation (besides the inventory's connection users).",
        ),
    ] = None,
    relay: Annotated[
        list[str] | None,
        typer.Option(
            "--relay",
            help="Inventory name of a log host that forwards other devices' syslog: its "
            "messages are named by their hostname (an inventory device). Repeatable.",
        ),
    ] = None,
    max_message: Annotated[
        int, typer.Option("--max-message", min=480, max=65000, help="Bytes a message may have.")
    ] = 8192,
    max_connections: Annotated[
        int, typer.Option("--max-connections", min=1, max=4096, help="TCP syslog connections.")
    ] = 64,
) -> None:
    """Serve the access exporter (syslog in, access counters out) until SIGINT/SIGTERM."""
    from collectors.access.ledger import AccessLedger, LedgerSettings  # noqa: PLC0415
    from collectors.access.receiver import ReceiverLimits, SyslogReceiver  # noqa: PLC0415
    from collectors.access.serve import build_server as build_access  # noqa: PLC0415
    from collectors.webconfig import WebConfig, load_web_config  # noqa: PLC0415

    try:
        host, port = parse_hostport(listen)
        syslog_host, syslog_port = parse_hostport(listen_syslog)
        web = load_web_config(web_config) if web_config is not None else WebConfig()
    except (ValueError, NetwardenError) as exc:
        raise _fail(str(exc)) from exc
    inv = _load(inventory, vault_password_file)
    settings = LedgerSettings(
        events_log=events_log,
        automation_users=frozenset(automation_user or ()),
        relays=frozenset(relay or ()),
    )
    try:
        ledger = AccessLedger(inv, settings)
    except ValueError as exc:
        raise _fail(f"--{exc}") from exc
    limits = ReceiverLimits(max_message=max_message, max_connections=max_connections)
    try:
        receiver = SyslogReceiver(ledger, syslog_host, syslog_port, limits)
    except OSError as exc:
        raise _fail(f"--listen-syslog {listen_syslog}: {exc.strerror or exc}") from exc
    try:
        server = build_access(
            ledger, host, port, syslog=f"{receiver.host}:{receiver.port}", web_config=web
        )
    except OSError as exc:
        receiver.close()
        raise _fail(f"--listen {listen}: {exc.strerror or exc}") from exc
    receiver.start()
    server.start()
    # The lines scripts (and the tests) wait for: where it listens.
    err_console.print(f"syslog receiver on {receiver.host}:{receiver.port}", highlight=False)
    err_console.print(
        f"access exporter listening on {server.url.removesuffix(server.path)}", highlight=False
    )
    serve_until_stopped(server.close, receiver.close)


@monitoring_app.command("config")
def monitoring_config(  # noqa: PLR0917  (one typer command: its options)
    inventory: InventoryOpt,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write into.")],
    vault_password_file: VaultOpt = None,
    limit: LimitOpt = None,
    exporter: Annotated[
        str, typer.Option("--exporter", help="The device exporter's HOST:PORT.")
    ] = "127.0.0.1:9430",
    scrape_interval: Annotated[
        float, typer.Option("--scrape-interval", min=1.0, help="Seconds between scrapes.")
    ] = 30.0,
    scrape_timeout: Annotated[
        float,
        typer.Option("--scrape-timeout", min=0.5, help="Seconds a scrape may take (<= interval)."),
    ] = 20.0,
    config_interval: Annotated[
        float, typer.Option("--config-interval", min=1.0, help="Seconds between config probes.")
    ] = 300.0,
    exporter_scheme: Annotated[
        str, typer.Option("--exporter-scheme", help="http, or https for an exporter with TLS.")
    ] = "http",
    exporter_ca_file: Annotated[
        str | None,
        typer.Option("--exporter-ca-file", help="CA file Prometheus checks the exporter with."),
    ] = None,
    exporter_user: Annotated[
        str | None,
        typer.Option("--exporter-user", help="Basic-auth user Prometheus sends the exporter."),
    ] = None,
    exporter_password_file: Annotated[
        str | None,
        typer.Option(
            "--exporter-password-file",
            help="File with that user's password, as Prometheus reads it (never inlined).",
        ),
    ] = None,
    access_exporter: Annotated[
        str | None,
        typer.Option(
            "--access-exporter", help="The access exporter's HOST:PORT (a netwarden_access job)."
        ),
    ] = None,
    alertmanager: Annotated[
        str | None,
        typer.Option(
            "--alertmanager",
            help="The Alertmanager's HOST:PORT the rules' alerts go to (omitted: no alerting).",
        ),
    ] = None,
    layout: Annotated[
        str,
        typer.Option(
            "--layout",
            help="single: one Prometheus for everything; federated: one per site "
            "(site-<name>/) and HQ's federating them (hq/).",
        ),
    ] = "single",
    site_prometheus: Annotated[
        list[str] | None,
        typer.Option(
            "--site-prometheus",
            help="SITE=HOST:PORT: where a site's Prometheus listens (federated layout; "
            "default: its server providing prometheus-federate, port 9090). Repeatable.",
        ),
    ] = None,
) -> None:
    """Write prometheus.yml and its file_sd target files for the inventory's devices."""
    from collectors.exporter.promconfig import (  # noqa: PLC0415
        MonitoringSettings,
        write_federated_config,
        write_monitoring_config,
    )
    from netwarden.inventory.select import check_limit, select  # noqa: PLC0415

    if scrape_timeout > scrape_interval:
        raise _fail(
            f"--scrape-timeout {scrape_timeout:g} is longer than --scrape-interval "
            f"{scrape_interval:g} (Prometheus refuses that)"
        )
    if layout not in {"single", "federated"}:
        raise _fail(f"--layout {layout}: expected single or federated")
    if exporter_scheme not in {"http", "https"}:
        raise _fail(f"--exporter-scheme {exporter_scheme}: expected http or https")
    if (exporter_user is None) != (exporter_password_file is None):
        raise _fail("--exporter-user and --exporter-password-file go together")
    inv = _load(inventory, vault_password_file)
    try:
        check_limit(limit, inv)
        parse_hostport(exporter)
        if access_exporter is not None:
            parse_hostport(access_exporter)
        if alertmanager is not None:
            parse_hostport(alertmanager)
        overrides = _site_overrides(site_prometheus or [], sorted(inv.sites))
    except (ValueError, NetwardenError) as exc:
        raise _fail(str(exc)) from exc
    devices = select(inv, limit)
    settings = MonitoringSettings(
        exporter=exporter,
        scrape_interval=scrape_interval,
        scrape_timeout=scrape_timeout,
        config_interval=max(config_interval, scrape_interval),
        scheme=exporter_scheme,
        ca_file=exporter_ca_file,
        basic_auth_user=exporter_user,
        password_file=exporter_password_file,
        access_exporter=access_exporter,
        alertmanager=alertmanager,
    )
    try:
        if layout == "federated":
            written = write_federated_config(inv, devices, settings, out, overrides)
        else:
            written = write_monitoring_config(inv, devices, settings, out)
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    except OSError as exc:
        raise _fail(f"--out {out}: {exc.strerror or exc}") from exc
    for path in written:
        console.print(str(path), highlight=False, markup=False)


def _site_overrides(items: list[str], sites: list[str]) -> dict[str, str]:
    """``--site-prometheus SITE=HOST:PORT`` values by site.

    Raises:
        ValueError: not SITE=HOST:PORT, or not a site of the inventory.
    """
    out: dict[str, str] = {}
    for item in items:
        site, sep, address = item.partition("=")
        if not sep or site not in sites:
            raise ValueError(
                f"--site-prometheus {item}: expected SITE=HOST:PORT with a site of the "
                f"inventory ({', '.join(sites)})"
            )
        parse_hostport(address)
        out[site] = address
    return out


def register(app: typer.Typer) -> None:
    """Add ``netwarden exporter`` and ``netwarden monitoring`` to ``app``."""
    app.add_typer(exporter_app, name="exporter")
    app.add_typer(monitoring_app, name="monitoring")
