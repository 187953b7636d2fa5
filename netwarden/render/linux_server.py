"""What the ``linux_server`` role renders for one Linux server, derived from the inventory.

The role's templates (sshd, chrony, rsyslog) need a few values the inventory
holds only indirectly: HQ's NTP servers and log server (named by the policy,
resolved to their service addresses), the networks that may use the server's
services (its site's zones; every site's for an HQ server, whose services the
whole organisation uses), and whether the server itself is an NTP server or the
log server. The role's lookup plugin (``roles/linux_server/lookup_plugins``) and
the namespace lab (:mod:`netwarden.lab.ns.plan` computes the same for its
daemons) read them from here, so the lab and the role agree.

Examples:
    >>> ctx = LinuxServerContext("bru-srv1", "bru", False, ("10.10.20.12",), "10.10.20.11",
    ...                          "jed-log1.gs.example.int", ("10.13.10.0/24",), False, False)
    >>> ctx.template_data()["ntp_servers"]
    ['10.10.20.12']
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from netwarden.inventory.models import Device, Inventory, Platform, SiteRole

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LinuxServerContext:
    """One server's derived values (addresses as strings: they go to Jinja as plain data)."""

    name: str
    site: str
    hq: bool
    ntp_servers: tuple[str, ...]  # the policy's NTP servers but this one, in policy order
    log_host: str | None  # the policy's first log server, None on the log server itself
    log_host_name: str | None  # its name in the organisation's domain (what its TLS cert names)
    site_networks: tuple[str, ...]  # who may use this server's services
    serves_ntp: bool  # the inventory says it provides ntp
    is_log_host: bool  # the policy names it as a log server

    def template_data(self) -> dict[str, Any]:
        """Plain JSON data (lists, strings, booleans) for the role's templates."""
        data = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def linux_server_context(inv: Inventory, dev: Device) -> LinuxServerContext:
    """The derived values of the Linux server ``dev`` (module docstring).

    Raises:
        ValueError: ``dev`` is not a Linux device of ``inv``.
    """
    if dev.platform is not Platform.LINUX:
        raise ValueError(
            f"{dev.name}: the linux_server role renders Linux hosts, not platform "
            f"{dev.platform.value!r} (set by {dev.where('platform')})"
        )
    site = inv.sites[dev.site]
    hq = site.role is SiteRole.HQ
    if hq:
        sites = sorted(inv.sites.values(), key=lambda s: (s.role is not SiteRole.HQ, s.name))
        networks = tuple(str(zs.subnet) for s in sites for zs in s.zones.values())
    else:
        networks = tuple(str(zs.subnet) for zs in site.zones.values())
    policy = inv.policy
    ntp = tuple(
        str(inv.resolve(h)) for h in policy.ntp.servers if h in inv.devices and h != dev.name
    )
    logs = [h for h in policy.syslog.servers if h in inv.devices]
    domain = inv.org.domain.strip(".")
    is_log_host = dev.name in policy.syslog.servers
    return LinuxServerContext(
        name=dev.name,
        site=dev.site,
        hq=hq,
        ntp_servers=ntp,
        log_host=None if is_log_host or not logs else str(inv.resolve(logs[0])),
        log_host_name=None if is_log_host or not logs else f"{logs[0]}.{domain}",
        site_networks=networks,
        serves_ntp="ntp" in dev.provides,
        is_log_host=is_log_host,
    )
