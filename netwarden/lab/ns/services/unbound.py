"""unbound for ``dns``: the organisation's names for the site's networks, nothing else.

Answers the records given (inventory names -> addresses, and their PTRs) and refuses
every other name: no recursion and no forwarding, so no query leaves the lab.
"""

from __future__ import annotations

import logging
import re

from netwarden.lab.ns.services.base import LAB_ETC, Daemon, Listen, ServiceContext, register

logger = logging.getLogger(__name__)

DNS_PORT = 53
_NAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)


def zone_lines(records: tuple[tuple[str, object], ...]) -> list[str]:
    """``local-zone``/``local-data`` lines for ``records`` (name, address).

    Examples:
        >>> from ipaddress import IPv4Address
        >>> zone_lines((("jed-ntp1.gs.example.int", IPv4Address("10.10.20.11")),))[1:]
        ['    local-data: "jed-ntp1.gs.example.int. 3600 IN A 10.10.20.11"', '    local-data-ptr: "10.10.20.11 3600 jed-ntp1.gs.example.int."']
        >>> zone_lines((("bad name", IPv4Address("10.0.0.1")),))
        Traceback (most recent call last):
        ...
        ValueError: DNS record name 'bad name' is not a host name (letters, digits, '-', '.')
    """
    zones: set[str] = set()
    data: list[str] = []
    for name, address in records:
        if not _NAME.match(name):
            raise ValueError(
                f"DNS record name {name!r} is not a host name (letters, digits, '-', '.')"
            )
        fqdn = name.rstrip(".").lower() + "."
        zones.add(fqdn.split(".", 1)[1] if fqdn.count(".") > 1 else fqdn)
        data.append(f'    local-data: "{fqdn} 3600 IN A {address}"')
        data.append(f'    local-data-ptr: "{address} 3600 {fqdn}"')
    return [f'    local-zone: "{zone}" static' for zone in sorted(zones)] + data


@register("dns", daemon="unbound", binary="/usr/sbin/unbound", package="unbound", order=30)
def unbound(ctx: ServiceContext) -> Daemon:
    """``unbound -d`` on udp+tcp/53 of each address and 127.0.0.1."""
    config = f"{LAB_ETC}/unbound.conf"
    interfaces = (*ctx.addresses, "127.0.0.1")
    lines = [
        "# netwarden lab: written by the server's holder at start",
        "server:",
        "    verbosity: 1",
        "    do-daemonize: no",
        "    use-syslog: no",
        '    logfile: ""',
        '    chroot: ""',
        '    username: "unbound"',
        '    directory: "/etc/unbound"',
        '    pidfile: ""',
        "    do-ip6: no",
        f"    port: {DNS_PORT}",
        *(f"    interface: {address}" for address in interfaces),
        "    access-control: 0.0.0.0/0 refuse",
        "    access-control: 127.0.0.0/8 allow",
        *(f"    access-control: {network} allow" for network in ctx.site_networks),
        '    module-config: "iterator"',
        "    hide-identity: yes",
        "    hide-version: yes",
        "    # Nothing leaves the lab: every name the lab does not hold is refused.",
        '    local-zone: "." refuse',
        *zone_lines(ctx.dns_records),
        "remote-control:",
        "    control-enable: no",
    ]
    ctx.write(config, "\n".join(lines) + "\n")
    return Daemon(
        name="unbound",
        argv=("/usr/sbin/unbound", "-d", "-c", config),
        listens=tuple(Listen(p, DNS_PORT, a) for a in ctx.addresses for p in ("udp", "tcp")),
        check=("/usr/sbin/unbound-checkconf", config),
    )
