"""The lab's running parts, one function per kind: Linux hosts, simulated switches, VPNs.

``build.py`` starts them through these functions only. Each calls its module
(``servers``, ``switches``, ``vpn``: the contract is in ``docs/lab.md`` and
``record.py``) and turns what it returns into a :class:`Started`. While a module is
absent the function logs ``<part> not started: netwarden.lab.ns.<module> missing``
and starts nothing: the namespaces, links, routes and firewalls are complete
without them.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from netwarden.lab.ns.labinventory import SwitchLogin
from netwarden.lab.ns.record import Recorder
from netwarden.lab.ns.topology import LabPlan

if TYPE_CHECKING:
    from netwarden.lab.tacplus.policy import TacacsSecrets

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Started:
    """A part that runs: its processes and the SSH host keys it answers with."""

    part: str
    pids: tuple[int, ...]
    known_hosts: tuple[str, ...] = ()
    login: SwitchLogin | None = None
    site: str | None = None
    handle: Any = field(default=None, repr=False, compare=False)


def _module(name: str, part: str) -> ModuleType | None:
    full = f"netwarden.lab.ns.{name}"
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name != full:
            raise
        logger.warning("%s not started: %s missing", part, full)
        return None


def _lines(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(line for line in value.splitlines() if line.strip())
    if isinstance(value, Iterable):
        return tuple(str(line) for line in value)
    return ()


def start_hosts(
    plan: LabPlan,
    work: Path,
    automation_pubkey: str,
    record: Recorder,
    tacacs: TacacsSecrets | None = None,
) -> list[Started]:
    """sshd and the inventory's services on every server, sensor and firewall.

    ``tacacs``: the TACACS+ key and users, for the servers that provide ``tacacs``.
    """
    servers = _module("servers", "servers")
    if servers is None or not plan.hosts:
        return []
    started = []
    for host in plan.hosts:
        spec = servers.ServerSpec(
            name=host.name,
            netns=host.netns,
            addresses=host.addresses,
            services=host.services,
            site_networks=host.site_networks,
            ntp_upstreams=host.ntp_upstreams,
            log_host=host.log_host,
            dns_records=plan.dns_records,
            dns_servers=host.dns_servers,
            domain=plan.domain,
            tacacs=tacacs if "tacacs" in host.services else None,
        )
        result = servers.start_server(spec, work, automation_pubkey, record)
        started.append(
            Started(
                part=f"{host.kind.value} {host.name}",
                pids=(int(result.pid),),
                known_hosts=_lines(result.known_hosts),
                site=host.site,
                handle=result,
            )
        )
    return started


def wait_hosts(started: Iterable[Started], timeout: float) -> None:
    """Until every started host answers (sshd and its services)."""
    servers = _module("servers", "servers")
    if servers is None:
        return
    for part in started:
        servers.wait_ready(part.handle, timeout)


def start_switches(plan: LabPlan, inventory: Path, work: Path, record: Recorder) -> list[Started]:
    """One IOS simulator per site, in the site's fabric, each switch on its address:22."""
    switches = _module("switches", "switches")
    if switches is None:
        return []
    started = []
    for site in plan.switch_sites:
        if not site.switches:
            continue
        result = switches.start_site_switches(
            netns=site.netns, inventory=inventory, site=site.site, lab_dir=work, record=record
        )
        creds = result.credentials
        started.append(
            Started(
                part=f"switches {site.site}",
                pids=(int(result.pid),),
                known_hosts=_lines(result.known_hosts),
                login=SwitchLogin(
                    username=str(creds.username),
                    password=str(creds.password),
                    enable_secret=str(creds.enable_secret),
                ),
                site=site.site,
                handle=result,
            )
        )
    return started


def start_partners(plan: LabPlan, work: Path, record: Recorder) -> list[Started]:
    """Each partner's site-to-site OpenVPN tunnel (server on its site's firewall)."""
    vpn = _module("vpn", "partner VPNs")
    if vpn is None or not plan.partners:
        return []
    started = []
    for partner in plan.partners:
        pids = vpn.start_site_to_site(
            server_ns=partner.server_ns,
            server_addr=partner.server_addr,
            client_ns=partner.client_ns,
            client_addr=partner.client_addr,
            tunnel=partner.tunnel,
            server_routes=partner.server_routes,
            client_routes=partner.client_routes,
            lab_dir=work,
            record=record,
        )
        started.append(Started(part=f"vpn {partner.name}", pids=tuple(int(p) for p in pids)))
    return started
