"""Whole-network validation: the rules that no single model can check on its own.

Each check yields :class:`Problem` objects naming the file, line and key to fix.
``check_inventory`` runs them all and never stops at the first finding.
``inventory_warnings`` runs the checks whose findings are worth fixing but do not
make an inventory invalid (``inventory check`` prints them and still exits 0).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from ipaddress import IPv4Address, IPv4Network

from netwarden.inventory.models import (
    EXTERNAL_ZONE,
    Device,
    FlowEndpoint,
    Function,
    Interface,
    InterfaceMode,
    Inventory,
    SiteRole,
    SiteSelector,
    Source,
)
from netwarden.inventory.problems import Problem

Check = Callable[[Inventory], Iterator[Problem]]

MGMT_ZONE = "mgmt"
PARTNERS_ZONE = "partners"


def _p(src: Source, key: str, message: str) -> Problem:
    return Problem(file=src.file, line=src.line, key=key, message=message)


def check_sites(inv: Inventory) -> Iterator[Problem]:
    """Exactly one HQ; zones known; HQ-only zones only at HQ; a management zone everywhere."""
    hqs = [s for s in inv.sites.values() if s.role is SiteRole.HQ]
    if len(hqs) != 1:
        names = ", ".join(s.name for s in hqs) or "none"
        src = hqs[1].src if len(hqs) > 1 else Source(file=inv.path)
        yield _p(src, "site.role", f"exactly one site must have role hq (found: {names})")
    for site in inv.sites.values():
        for zname, zs in site.zones.items():
            zone = inv.zones.get(zname)
            if zone is None:
                yield _p(
                    zs.src,
                    f"site.zones.{zname}",
                    f"unknown zone {zname!r}; known zones: {', '.join(inv.zones)}",
                )
            elif zone.external:
                yield _p(
                    zs.src,
                    f"site.zones.{zname}",
                    f"zone {zname!r} is external and has no subnet at a site",
                )
            elif zone.hq_only and site.role is not SiteRole.HQ:
                yield _p(
                    zs.src,
                    f"site.zones.{zname}",
                    f"zone {zname!r} exists only at HQ, not at {site.name}",
                )
        if MGMT_ZONE not in site.zones:
            yield _p(site.src, "site.zones", f"site {site.name} has no {MGMT_ZONE!r} zone")


def check_vlans(inv: Inventory) -> Iterator[Problem]:
    """No two zones of one site share a VLAN ID."""
    for site in inv.sites.values():
        by_vlan: dict[int, str] = {}
        for zname, zs in site.zones.items():
            if zs.vlan in by_vlan:
                yield _p(
                    zs.src,
                    f"site.zones.{zname}.vlan",
                    f"VLAN {zs.vlan} of site {site.name} is already used by zone {by_vlan[zs.vlan]!r}",
                )
            else:
                by_vlan[zs.vlan] = zname


def check_overlapping_subnets(inv: Inventory) -> Iterator[Problem]:
    """No two subnets anywhere (zones and WAN links) overlap."""
    nets: list[tuple[IPv4Network, str, Source, str]] = []
    for site in inv.sites.values():
        for zname, zs in site.zones.items():
            nets.append((zs.subnet, f"{site.name}/{zname}", zs.src, f"site.zones.{zname}.subnet"))
        nets.append((site.wan.address.network, f"{site.name}/wan", site.src, "site.wan.address"))
    nets.sort(key=lambda n: (int(n[0].network_address), -n[0].prefixlen))
    # Sweep: keep the widest open network; anything starting inside it overlaps it.
    open_net: tuple[IPv4Network, str, Source, str] | None = None
    for item in nets:
        net, label, src, key = item
        if open_net is not None and net.network_address <= open_net[0].broadcast_address:
            yield _p(src, key, f"subnet {net} ({label}) overlaps {open_net[0]} ({open_net[1]})")
            if net.broadcast_address > open_net[0].broadcast_address:
                open_net = item
        else:
            open_net = item


def check_addresses(inv: Inventory) -> Iterator[Problem]:
    """Management addresses in the site's mgmt subnet; interface addresses in their zone; no duplicates."""
    owners: dict[IPv4Address, str] = {}
    gateways: dict[IPv4Address, str] = {}
    for s in inv.sites.values():
        for zname, zs in s.zones.items():
            gateways[zs.gateway] = f"{s.name}/{zname} gateway"
    for dev in inv.devices.values():
        site = inv.sites.get(dev.site)
        if site is None:
            yield _p(
                dev.src,
                dev.name,
                f"site {dev.site!r} has no site definition (group_vars/site_{dev.site}.yml)",
            )
            continue
        mgmt = site.zones.get(MGMT_ZONE)
        if mgmt is not None and dev.mgmt_address not in mgmt.subnet:
            yield _p(
                dev.where("mgmt_address"),
                "mgmt_address",
                f"{dev.mgmt_address} of {dev.name} is outside {site.name}'s management subnet {mgmt.subnet}",
            )
        for i, iface in enumerate(dev.interfaces):
            yield from _check_interface(inv, dev, i, iface)
        for where, addr in dev.addresses():
            is_router = dev.function is Function.FIREWALL or any(
                i.mode is InterfaceMode.SVI and i.address is not None and i.address.ip == addr
                for i in dev.interfaces
            )
            if addr in gateways and not is_router:
                yield _p(
                    _addr_src(dev, where),
                    where,
                    f"{addr} of {dev.name} is the {gateways[addr]} address",
                )
            if addr in owners and owners[addr] != dev.name:
                yield _p(
                    _addr_src(dev, where),
                    where,
                    f"address {addr} of {dev.name} is already used by {owners[addr]}",
                )
            owners.setdefault(addr, dev.name)


def _addr_src(dev: Device, where: str) -> Source:
    """The line of an address: the interface's own entry, or the device's key."""
    m = re.match(r"interfaces\[(\d+)\]", where)
    if m and dev.interfaces[int(m[1])].src.file:
        return dev.interfaces[int(m[1])].src
    return dev.where(where)


def _check_interface(inv: Inventory, dev: Device, i: int, iface: Interface) -> Iterator[Problem]:
    key = f"interfaces[{i}]"
    src = iface.src if iface.src.file else dev.src
    site = inv.sites[dev.site]
    if iface.zone is not None:
        zs = site.zones.get(iface.zone)
        if zs is None:
            yield _p(src, f"{key}.zone", f"zone {iface.zone!r} has no subnet at site {site.name}")
        elif iface.address is not None and iface.address.ip not in zs.subnet:
            yield _p(
                src,
                f"{key}.address",
                f"{iface.address} is outside zone {iface.zone}'s subnet {zs.subnet}",
            )
    elif iface.mode in (InterfaceMode.ACCESS, InterfaceMode.SVI):
        yield _p(src, f"{key}.zone", f"a {iface.mode} interface needs a zone")
    if iface.peer is not None and iface.peer not in inv.devices:
        yield _p(src, f"{key}.peer", f"peer {iface.peer!r} is not a device of the inventory")


def check_flow_policy(inv: Inventory) -> Iterator[Problem]:
    """Rules name known zones, services and site selectors; ids are unique."""
    seen: set[str] = set()
    for i, rule in enumerate(inv.flow_policy.rules):
        key = f"flow_policy.rules[{i}]"
        src = rule.src if rule.src.file else inv.flow_policy.src
        if rule.id in seen:
            yield _p(src, f"{key}.id", f"duplicate rule id {rule.id!r}")
        seen.add(rule.id)
        for side, ep in (("from", rule.src_), ("to", rule.dst)):
            yield from _check_endpoint(inv, ep, src, f"{key}.{side}")
        for j, svc in enumerate(rule.services):
            if svc not in inv.services:
                yield _p(
                    src,
                    f"{key}.services[{j}]",
                    f"unknown service {svc!r}; define it under services:",
                )


def _check_endpoint(inv: Inventory, ep: FlowEndpoint, src: Source, key: str) -> Iterator[Problem]:
    if ep.zone not in inv.zones:
        yield _p(
            src, f"{key}.zone", f"unknown zone {ep.zone!r}; known zones: {', '.join(inv.zones)}"
        )
    if ep.zone == EXTERNAL_ZONE:
        if ep.site is not None:
            yield _p(src, f"{key}.site", f"the {EXTERNAL_ZONE} zone takes no site")
        return
    selectors = {s.value for s in SiteSelector}
    if ep.site is not None and ep.site not in selectors and ep.site not in inv.sites:
        yield _p(
            src,
            f"{key}.site",
            f"unknown site selector {ep.site!r}; expected one of {', '.join(sorted(selectors))} or a site name",
        )


def check_policy_hosts(inv: Inventory) -> Iterator[Problem]:
    """Servers named by the policy exist and provide the service they are named for."""
    pol = inv.policy
    refs: list[tuple[str, tuple[str, ...], str | None]] = [
        ("policy.dns.servers", pol.dns.servers, "dns"),
        ("policy.ntp.servers", pol.ntp.servers, "ntp"),
        ("policy.syslog.servers", pol.syslog.servers, "syslog"),
        ("policy.aaa.tacacs_servers", pol.aaa.tacacs_servers, "tacacs"),
        ("policy.snmpv3.managers", pol.snmpv3.managers, None),
    ]
    for key, hosts, service in refs:
        for j, host in enumerate(hosts):
            dev = inv.devices.get(host)
            if dev is None:
                yield _p(pol.src, f"{key}[{j}]", f"{host!r} is not a host of the inventory")
            elif service is not None and service not in dev.provides:
                yield _p(
                    pol.src,
                    f"{key}[{j}]",
                    f"{host} does not provide {service!r} (it provides: {list(dev.provides)})",
                )


def check_services(inv: Inventory) -> Iterator[Problem]:
    """Services a device provides are in the catalogue (or are well-known roles)."""
    for dev in inv.devices.values():
        for j, svc in enumerate(dev.provides):
            if svc not in inv.services:
                yield _p(
                    dev.where("provides"),
                    f"provides[{j}]",
                    f"unknown service {svc!r}; define it under services:",
                )


def check_waivers(inv: Inventory) -> Iterator[Problem]:
    """A waiver's scope names a known device or site."""
    for i, w in enumerate(inv.compliance.waivers):
        key = f"compliance.waivers[{i}].scope"
        if w.scope.device is not None and w.scope.device not in inv.devices:
            yield _p(w.src, f"{key}.device", f"unknown device {w.scope.device!r}")
        if w.scope.site is not None and w.scope.site not in inv.sites:
            yield _p(w.src, f"{key}.site", f"unknown site {w.scope.site!r}")


def check_sites_have_devices(inv: Inventory) -> Iterator[Problem]:
    """Every site has a firewall (the zones need their gateway)."""
    by_site: dict[str, list[Device]] = defaultdict(list)
    for dev in inv.devices.values():
        by_site[dev.site].append(dev)
    for site in inv.sites.values():
        if not any(d.function is Function.FIREWALL for d in by_site[site.name]):
            yield _p(
                site.src, "site", f"site {site.name} has no firewall (a host in group firewalls)"
            )


def check_partners(inv: Inventory) -> Iterator[Problem]:
    """A partner ends at a known site with a partners zone; its addresses are its own.

    Its WAN link, tunnel and networks overlap no zone subnet or WAN link of the
    organisation and nothing of another partner.
    """
    org: list[tuple[IPv4Network, str]] = []
    for site in inv.sites.values():
        org.extend((zs.subnet, f"{site.name}/{zname}") for zname, zs in site.zones.items())
        org.append((site.wan.address.network, f"{site.name}/wan"))
    claimed: list[tuple[IPv4Network, str]] = []
    for name, partner in inv.partners.items():
        key = f"partners.{name}"
        where = inv.sites.get(partner.site)
        if where is None:
            yield _p(
                partner.src,
                f"{key}.site",
                f"unknown site {partner.site!r}; known sites: {', '.join(inv.sites)}",
            )
        elif PARTNERS_ZONE not in where.zones:
            yield _p(
                partner.src,
                f"{key}.site",
                f"site {where.name} has no {PARTNERS_ZONE!r} zone to terminate partner {name}",
            )
        mine = [
            ("public_address", partner.public_address.network),
            ("tunnel", partner.tunnel),
            *((f"networks[{i}]", net) for i, net in enumerate(partner.networks)),
        ]
        for sub, net in mine:
            for other, label in (*org, *claimed):
                if net.overlaps(other):
                    yield _p(partner.src, f"{key}.{sub}", f"{net} overlaps {other} ({label})")
                    break
        claimed.extend((net, f"partner {name} {sub}") for sub, net in mine)


CHECKS: tuple[Check, ...] = (
    check_sites,
    check_vlans,
    check_overlapping_subnets,
    check_addresses,
    check_flow_policy,
    check_policy_hosts,
    check_services,
    check_waivers,
    check_sites_have_devices,
    check_partners,
)


def check_inventory(inv: Inventory) -> list[Problem]:
    """Run every check; return all problems (empty when the inventory is clean)."""
    return [p for check in CHECKS for p in check(inv)]


def check_links_both_ends(inv: Inventory) -> Iterator[Problem]:
    """A cable between two devices that describe their cabling is declared at both ends.

    An interface's ``peer`` names the device at the other end of its cable. When that
    device is a switch, or declares ``peer`` on any of its own interfaces, it must
    declare this cable back: as many of its interfaces name this device as this
    device has interfaces naming it. Hosts and firewalls whose interfaces say nothing
    of cabling (zones, addresses) are exempt: their cables are described from the
    switch side. Each interface beyond the count of the far end is reported, at the
    line of its ``peer``.
    """
    for dev in inv.devices.values():
        for i, iface in enumerate(dev.interfaces):
            peer = inv.devices.get(iface.peer or "")
            if peer is None or peer.name == dev.name or not _describes_cabling(peer):
                continue
            here = [x.name for x in dev.interfaces if x.peer == peer.name]
            back = [x.name for x in peer.interfaces if x.peer == dev.name]
            if here.index(iface.name) < len(back):
                continue
            src = iface.src if iface.src.file else dev.src
            found = (
                f"its interfaces with peer: {dev.name} ({', '.join(back)}) are fewer"
                if back
                else f"no interface of {peer.name} has peer: {dev.name}"
            )
            yield _p(
                src,
                f"interfaces[{i}].peer",
                f"the cable from {dev.name} {iface.name} to {peer.name} is declared on this side "
                f"only: {found}; expected the port of {peer.name} at the other end to say "
                f"peer: {dev.name} (in {peer.src.file or 'its host_vars'})",
            )


def _describes_cabling(dev: Device) -> bool:
    return dev.function is Function.SWITCH or any(x.peer for x in dev.interfaces)


WARNINGS: tuple[Check, ...] = (check_links_both_ends,)


def inventory_warnings(inv: Inventory) -> list[Problem]:
    """Findings that do not make the inventory invalid (``inventory check`` exits 0 on them)."""
    return [p for check in WARNINGS for p in check(inv)]
