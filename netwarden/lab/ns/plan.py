"""From the inventory to the lab's topology: every namespace, link, address and route.

Pure: :func:`plan_lab` reads a validated :class:`~netwarden.inventory.models.Inventory`
and returns a frozen :class:`LabPlan`; nothing is created here (``build.py`` does
it), so the plan is unit-tested without root.

Per site ``S`` (``docs/lab.md`` has the picture):

- ``<p>-S-fab``: the switching fabric, one Linux bridge per zone of the site
  (``br-<zone>``); every other node of the site has a veth whose far end is a port
  of its zone's bridge, named ``<p>s<site>p<n>`` (site and port numbers). The site's
  simulated switches hold their management addresses on ``br-mgmt``.
- ``<p>-S-fw``: the firewall, one interface per routed zone interface of the
  inventory plus its WAN interface (a veth to the WAN namespace); default route via
  the site's ``wan.peer``.
- ``<p>-S-<host>``: each server and sensor; the sensor's capture interface receives
  a copy of every frame entering any bridge port of its site (the SPAN port).
- ``<p>-S-<zone>-c<n>``: two client hosts per client zone (staff, guests, voice),
  addressed from the top of the zone subnet, skipping addresses the inventory uses.

Per lab: ``<p>-wan`` joins the firewalls (it holds each site's ``wan.peer``, routes
each site's zones via its firewall), ``<p>-inet`` is "the internet" (one host,
198.51.100.10, TEST-NET-2) and ``<p>-partner-<name>`` is each partner of the
inventory, reaching its site's firewall over the WAN for the VPN (the tunnel
carries every subnet of the organisation; the firewall lets through what the
flow policy publishes to ``partners``). ``<p>`` is
``nw`` and four hex digits of the lab directory's path (:func:`lab_id_for`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, collapse_addresses

from netwarden.errors import LabPlanError
from netwarden.inventory.models import (
    Device,
    Function,
    InterfaceMode,
    Inventory,
    Site,
    SiteRole,
)
from netwarden.lab.ns.topology import (
    End,
    FirewallPlan,
    HostPlan,
    LabPlan,
    Node,
    NodeKind,
    PartnerPlan,
    Route,
    Rule,
    SwitchSite,
    Veth,
    prefix_for,
)

IFNAME_MAX = 15
CLIENT_ZONES = ("staff", "guests", "voice")
CLIENTS_PER_ZONE = 2
MGMT_ZONE = "mgmt"
PARTNERS_ZONE = "partners"
INTERNET_HOST = IPv4Interface("198.51.100.10/24")
"""The lab's "internet": one host on TEST-NET-2 (RFC 5737), routed nowhere outside the lab."""
INTERNET_GATEWAY = IPv4Address("198.51.100.1")
FIRST_RULE_PRIORITY = 1000
FIRST_TABLE = 100

Attach = Callable[[str, str, str, tuple[IPv4Interface, ...]], None]
"""Attach (namespace, interface name, zone, addresses) to the zone's bridge of the site."""


@dataclass
class _Builder:
    """Mutable scratch space while planning (the plan itself is frozen)."""

    inv: Inventory
    prefix: str
    nodes: list[Node] = field(default_factory=list)
    veths: list[Veth] = field(default_factory=list)
    hosts: list[HostPlan] = field(default_factory=list)
    firewalls: list[FirewallPlan] = field(default_factory=list)
    switch_sites: list[SwitchSite] = field(default_factory=list)
    partners: list[PartnerPlan] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)

    def ns(self, *parts: str) -> str:
        return "-".join((self.prefix, *parts))

    def fabric_port(self, site_idx: int, fabric_ns: str) -> str:
        n = self.ports.get(fabric_ns, 0)
        self.ports[fabric_ns] = n + 1
        return _ifname(f"{self.prefix}s{site_idx}p{n}", fabric_ns)


def _ifname(name: str, where: str) -> str:
    if not 1 <= len(name) <= IFNAME_MAX:
        raise LabPlanError(
            f"{where}: interface name {name!r} is {len(name)} characters; Linux allows 1-{IFNAME_MAX}"
        )
    return name


def bridge_name(zone: str, vlan: int) -> str:
    """``br-<zone>``, or ``br-v<vlan>`` when the zone's name is too long for an interface.

    Examples:
        >>> bridge_name("staff", 30), bridge_name("a-very-long-zone", 70)
        ('br-staff', 'br-v70')
    """
    name = f"br-{zone}"
    return name if len(name) <= IFNAME_MAX else f"br-v{vlan}"


def _sites_in_order(inv: Inventory) -> list[Site]:
    return sorted(inv.sites.values(), key=lambda s: (s.role is not SiteRole.HQ, s.name))


def _used_addresses(inv: Inventory) -> set[IPv4Address]:
    used: set[IPv4Address] = set()
    for site in inv.sites.values():
        used.update(zs.gateway for zs in site.zones.values())
        used.update((site.wan.address.ip, site.wan.peer))
    for dev in inv.devices.values():
        used.update(addr for _, addr in dev.addresses())
    return used


def client_addresses(subnet: IPv4Network, used: set[IPv4Address], count: int) -> list[IPv4Address]:
    """The ``count`` highest usable addresses of ``subnet`` that ``used`` does not hold.

    Examples:
        >>> net = IPv4Network("10.1.1.0/29")
        >>> [str(a) for a in client_addresses(net, {IPv4Address("10.1.1.6")}, 2)]
        ['10.1.1.5', '10.1.1.4']
    """
    out: list[IPv4Address] = []
    candidate = subnet.broadcast_address - 1
    while len(out) < count and candidate > subnet.network_address:
        if candidate not in used:
            out.append(candidate)
        candidate -= 1
    if len(out) < count:
        raise LabPlanError(f"zone subnet {subnet} has no {count} free addresses for lab clients")
    return out


def _zone_of(site: Site, address: IPv4Address) -> str | None:
    return next((z for z, zs in site.zones.items() if address in zs.subnet), None)


def _routes_for_host(
    site: Site, ifaces: list[tuple[str, str, IPv4Interface]]
) -> tuple[tuple[Route, ...], tuple[Rule, ...]]:
    """Default route via the gateway of the first non-mgmt zone (else mgmt); on a multi-homed
    host, source routing for every addressed interface, the default one included, so a reply
    leaves by the interface it came to (a reply from the servers address to a mgmt-zone
    client goes back through the firewall, not straight out of mgmt0: a stateful firewall
    sees both directions)."""
    if not ifaces:
        return (), ()
    default = next((i for i in ifaces if i[1] != MGMT_ZONE), ifaces[0])
    routes = [Route(dst=None, via=site.zones[default[1]].gateway)]
    rules: list[Rule] = []
    sourced = ifaces if len(ifaces) > 1 else []
    for n, (ifname, zone, addr) in enumerate(sourced):
        table = FIRST_TABLE + n
        routes.append(Route(dst=addr.network, dev=ifname, table=table))
        routes.append(Route(dst=None, via=site.zones[zone].gateway, table=table))
        rules.append(Rule(src=addr.ip, table=table, priority=FIRST_RULE_PRIORITY + n))
    return tuple(routes), tuple(rules)


def _plan_site(b: _Builder, idx: int, site: Site, used: set[IPv4Address]) -> None:
    inv = b.inv
    fab_ns = b.ns(site.name, "fab")
    devices = sorted(inv.devices_at(site.name), key=lambda d: d.name)
    bridges = {z: bridge_name(z, zs.vlan) for z, zs in sorted(site.zones.items())}
    spans: list[str] = []

    def attach(node_ns: str, ifname: str, zone: str, addrs: tuple[IPv4Interface, ...]) -> None:
        b.veths.append(
            Veth(
                node=End(node_ns, _ifname(ifname, node_ns), addrs),
                far=End(fab_ns, b.fabric_port(idx, fab_ns), bridge=bridges[zone]),
            )
        )

    firewalls = [d for d in devices if d.function is Function.FIREWALL]
    if len(firewalls) != 1:
        names = ", ".join(d.name for d in firewalls) or "none"
        raise LabPlanError(f"site {site.name}: the lab builds one firewall per site, found {names}")
    _plan_firewall(b, idx, site, firewalls[0], attach)
    for dev in devices:
        if dev.function in (Function.SERVER, Function.SENSOR):
            spans.extend(_plan_host(b, idx, site, dev, attach=attach, fab_ns=fab_ns))
    for zone in CLIENT_ZONES:
        zs = site.zones.get(zone)
        if zs is None:
            continue
        for n, addr in enumerate(client_addresses(zs.subnet, used, CLIENTS_PER_ZONE), start=1):
            used.add(addr)
            name = f"{site.name}-{zone}-c{n}"
            netns = b.ns(site.name, zone, f"c{n}")
            iface = IPv4Interface(f"{addr}/{zs.subnet.prefixlen}")
            attach(netns, "eth0", zone, (iface,))
            b.nodes.append(
                Node(
                    name=name,
                    kind=NodeKind.CLIENT,
                    netns=netns,
                    site=site.name,
                    routes=(Route(dst=None, via=zs.gateway),),
                )
            )
    switches = [d for d in devices if d.function is Function.SWITCH]
    mgmt = site.zones[MGMT_ZONE]  # every site has one (inventory check)
    svis = tuple(
        (bridges[MGMT_ZONE], IPv4Interface(f"{d.mgmt_address}/{mgmt.subnet.prefixlen}"))
        for d in switches
    )
    b.nodes.append(
        Node(
            name=f"{site.name}-fabric",
            kind=NodeKind.FABRIC,
            netns=fab_ns,
            site=site.name,
            bridges=tuple(bridges.values()),
            local_addresses=svis,
            routes=(Route(dst=None, via=mgmt.gateway),) if svis else (),
            spans=tuple(spans),
        )
    )
    b.switch_sites.append(
        SwitchSite(
            site=site.name, netns=fab_ns, switches=tuple((d.name, d.mgmt_address) for d in switches)
        )
    )


def _plan_firewall(b: _Builder, idx: int, site: Site, dev: Device, attach: Attach) -> None:
    netns = b.ns(site.name, "fw")
    zones: list[tuple[str, str]] = []
    wan_seen = False
    for iface in dev.interfaces:
        if iface.mode is InterfaceMode.WAN:
            if iface.address is None or wan_seen:
                continue
            wan_seen = True
            peer = IPv4Interface(f"{site.wan.peer}/{site.wan.address.network.prefixlen}")
            b.veths.append(
                Veth(
                    node=End(netns, _ifname(iface.name, dev.name), (iface.address,)),
                    far=End(b.ns("wan"), _ifname(f"{b.prefix}w{idx}", "wan"), (peer,)),
                )
            )
            zones.append((iface.name, "wan"))
        elif iface.mode is InterfaceMode.ROUTED and iface.zone in site.zones:
            addrs = (iface.address,) if iface.address is not None else ()
            attach(netns, iface.name, iface.zone, addrs)
            zones.append((iface.name, iface.zone))
    if not wan_seen:
        raise LabPlanError(f"{dev.name}: the firewall has no addressed interface of mode wan")
    b.nodes.append(
        Node(
            name=dev.name,
            kind=NodeKind.FIREWALL,
            netns=netns,
            site=site.name,
            device=dev.name,
            forwarding=True,
            strict_rp_filter=True,
            routes=(Route(dst=None, via=site.wan.peer),),
        )
    )
    b.firewalls.append(FirewallPlan(name=dev.name, netns=netns, site=site.name, zones=tuple(zones)))
    b.hosts.append(_host_plan(b.inv, dev, NodeKind.FIREWALL, netns, addresses=(), services=()))


def _plan_host(
    b: _Builder, idx: int, site: Site, dev: Device, *, attach: Attach, fab_ns: str
) -> list[str]:
    """A server or sensor; returns the fabric ends of its capture interfaces (SPAN ports)."""
    kind = NodeKind.SENSOR if dev.function is Function.SENSOR else NodeKind.SERVER
    netns = b.ns(site.name, dev.name)
    ifaces: list[tuple[str, str, IPv4Interface]] = []
    spans: list[str] = []
    for iface in dev.interfaces:
        if iface.mode is InterfaceMode.CAPTURE:
            span = b.fabric_port(idx, fab_ns)
            b.veths.append(
                Veth(
                    node=End(netns, _ifname(iface.name, dev.name), capture=True),
                    far=End(fab_ns, span),
                )
            )
            spans.append(span)
        elif iface.address is not None:
            zone = iface.zone or _zone_of(site, iface.address.ip)
            if zone is None or zone not in site.zones:
                raise LabPlanError(
                    f"{dev.name} {iface.name}: {iface.address} is in no zone of {site.name}"
                )
            attach(netns, iface.name, zone, (iface.address,))
            ifaces.append((iface.name, zone, iface.address))
    if not any(a.ip == dev.mgmt_address for _, _, a in ifaces):
        raise LabPlanError(
            f"{dev.name}: no interface holds its mgmt_address {dev.mgmt_address} "
            "(the lab needs an addressed interface, e.g. mgmt0, for it)"
        )
    routes, rules = _routes_for_host(site, ifaces)
    b.nodes.append(
        Node(
            name=dev.name,
            kind=kind,
            netns=netns,
            site=site.name,
            device=dev.name,
            routes=routes,
            rules=rules,
        )
    )
    b.hosts.append(
        _host_plan(
            b.inv,
            dev,
            kind,
            netns,
            addresses=tuple(a.ip for _, _, a in ifaces),
            services=dev.provides,
        )
    )
    return spans


def _host_plan(
    inv: Inventory,
    dev: Device,
    kind: NodeKind,
    netns: str,
    *,
    addresses: tuple[IPv4Address, ...],
    services: tuple[str, ...],
) -> HostPlan:
    site = inv.sites[dev.site]
    if site.role is SiteRole.HQ:  # central services: every site uses them
        networks = tuple(zs.subnet for s in _sites_in_order(inv) for zs in s.zones.values())
    else:
        networks = tuple(zs.subnet for zs in site.zones.values())
    ntp = tuple(
        inv.resolve(h) for h in inv.policy.ntp.servers if h in inv.devices and h != dev.name
    )
    logs = [inv.resolve(h) for h in inv.policy.syslog.servers if h in inv.devices and h != dev.name]
    dns = tuple(
        inv.resolve(h) for h in inv.policy.dns.servers if h in inv.devices and h != dev.name
    )
    if not addresses:
        addresses = tuple(addr for _, addr in dev.addresses())
    return HostPlan(
        name=dev.name,
        kind=kind,
        netns=netns,
        site=dev.site,
        addresses=addresses,
        services=services,
        site_networks=networks,
        ntp_upstreams=ntp,
        log_host=logs[0] if logs else None,
        dns_servers=dns,
    )


def _plan_wan(b: _Builder, sites: list[Site]) -> None:
    wan_ns = b.ns("wan")
    routes = tuple(
        Route(dst=zs.subnet, via=site.wan.address.ip)
        for site in sites
        for zs in site.zones.values()
    )
    b.nodes.append(
        Node(name="wan", kind=NodeKind.WAN, netns=wan_ns, forwarding=True, routes=routes)
    )
    inet_ns = b.ns("inet")
    gateway = IPv4Interface(f"{INTERNET_GATEWAY}/{INTERNET_HOST.network.prefixlen}")
    b.veths.append(
        Veth(
            node=End(inet_ns, "eth0", (INTERNET_HOST,)),
            far=End(wan_ns, _ifname(f"{b.prefix}inet", "wan"), (gateway,)),
        )
    )
    b.nodes.append(
        Node(
            name="internet",
            kind=NodeKind.INTERNET,
            netns=inet_ns,
            routes=(Route(dst=None, via=INTERNET_GATEWAY),),
        )
    )


def _organisation(inv: Inventory) -> tuple[IPv4Network, ...]:
    """Every zone subnet of every site, collapsed: what a partner routes into its tunnel.

    The partner sends all of the organisation's addresses to the HQ firewall, which
    lets through only what the flow policy publishes to ``partners`` (a forbidden
    destination is refused by the firewall, not merely unrouted).
    """
    return tuple(
        collapse_addresses(zs.subnet for s in inv.sites.values() for zs in s.zones.values())
    )


def _plan_partners(b: _Builder) -> None:
    inv = b.inv
    wan_ns = b.ns("wan")
    for n, (name, partner) in enumerate(sorted(inv.partners.items())):
        site = inv.sites[partner.site]
        zone = site.zones.get(PARTNERS_ZONE)
        if zone is None:
            raise LabPlanError(f"partner {name}: site {site.name} has no {PARTNERS_ZONE!r} zone")
        netns = b.ns("partner", name)
        link = partner.public_address.network
        carrier = next(h for h in link.hosts() if h != partner.public_address.ip)
        if INTERNET_HOST.network.overlaps(link):
            raise LabPlanError(
                f"partner {name}: public_address {partner.public_address} is inside the lab's "
                f"internet {INTERNET_HOST.network}"
            )
        b.veths.append(
            Veth(
                node=End(netns, "wan0", (partner.public_address,)),
                far=End(
                    wan_ns,
                    _ifname(f"{b.prefix}x{n}", "wan"),
                    (IPv4Interface(f"{carrier}/{link.prefixlen}"),),
                ),
            )
        )
        lan = tuple(next(net.hosts()) for net in partner.networks)
        b.nodes.append(
            Node(
                name=name,
                kind=NodeKind.PARTNER,
                netns=netns,
                site=site.name,
                local_addresses=tuple(("lo", IPv4Interface(f"{a}/32")) for a in lan),
                # The VPN peer and the lab internet only: never the organisation's zones
                # in clear (the tunnel routes the partners zone once it is up).
                routes=(
                    Route(dst=site.wan.address.network, via=carrier),
                    Route(dst=INTERNET_HOST.network, via=carrier),
                ),
            )
        )
        b.partners.append(
            PartnerPlan(
                name=name,
                netns=netns,
                server_ns=b.ns(site.name, "fw"),
                server_addr=site.wan.address.ip,
                client_ns=netns,
                client_addr=partner.public_address.ip,
                tunnel=partner.tunnel,
                server_routes=partner.networks,
                client_routes=_organisation(inv),
                lan_addresses=lan,
            )
        )


def _check_unique(b: _Builder) -> None:
    seen_nodes: set[str] = set()
    seen_ns: set[str] = set()
    for node in b.nodes:
        if node.name in seen_nodes:
            raise LabPlanError(
                f"two lab nodes are named {node.name!r}; rename one in the inventory"
            )
        if node.netns in seen_ns:
            raise LabPlanError(f"two lab nodes would share the namespace {node.netns!r}")
        seen_nodes.add(node.name)
        seen_ns.add(node.netns)
    names: set[tuple[str, str]] = set()
    for end in (e for v in b.veths for e in (v.node, v.far)):
        key = (end.netns, end.ifname)
        if key in names:
            raise LabPlanError(f"{end.netns}: two interfaces are named {end.ifname!r}")
        if end.netns not in seen_ns:
            raise LabPlanError(f"interface {end.ifname!r} is in {end.netns!r}, which is no node")
        names.add(key)


def plan_lab(inv: Inventory, lab_id: str) -> LabPlan:
    """The lab for ``inv``; ``lab_id`` (four hex digits, :func:`lab_id_for`) names it.

    Raises:
        LabPlanError: the inventory describes something the lab cannot build (the
            message names the device or site and what was expected).
    """
    b = _Builder(inv=inv, prefix=prefix_for(lab_id))
    sites = _sites_in_order(inv)
    used = _used_addresses(inv)
    _plan_wan(b, sites)
    for idx, site in enumerate(sites):
        _plan_site(b, idx, site, used)
    _plan_partners(b)
    _check_unique(b)
    return LabPlan(
        lab_id=lab_id,
        prefix=b.prefix,
        nodes=tuple(b.nodes),
        veths=tuple(b.veths),
        hosts=tuple(b.hosts),
        firewalls=tuple(b.firewalls),
        switch_sites=tuple(b.switch_sites),
        partners=tuple(b.partners),
        dns_records=tuple(
            (f"{name}.{inv.org.domain.strip('.')}", dev.service_address())
            for name, dev in sorted(inv.devices.items())
        ),
        domain=inv.org.domain.strip("."),
    )
