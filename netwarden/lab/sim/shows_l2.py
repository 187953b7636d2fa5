"""Layer-2 show commands: MAC table, spanning tree, switchports, trunks, EtherChannel, optics.

Everything is derived from the interfaces of the :class:`ShowContext` (their
config and link state), so it changes when the config does, as on a device:

* the MAC table learns one host on each access port that is up (a MAC derived
  from the device and port, stable across runs), the neighbour's chassis MAC on
  each uplink with a CDP/LLDP neighbour that forwards in its native VLAN, and the
  ARP neighbours' MACs on the way to the root (the root port, else the first
  uplink forwarding in the VLAN); the CPU's static entries come first, as on a Catalyst;
* trunks list the VLANs they forward in, as the fleet's spanning tree decides
  (:mod:`~netwarden.lab.sim.shows_stp`);
* ports with ``channel-group`` form their Port-channels (:mod:`~netwarden.lab.sim.portchannel`):
  the MAC table and trunks see the Port-channel, not its members.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from netwarden.lab.sim import shows_stp
from netwarden.lab.sim.portchannel import PROTOCOLS
from netwarden.lab.sim.showmodel import InterfaceView, ShowContext
from netwarden.lab.sim.shows_util import abbreviate, find_interface, kind_of
from netwarden.lab.sim.stp import vlan_ranges
from netwarden.lab.sim.stpbridge import carried_vlans

_CPU_MACS = ("0100.0ccc.cccc", "0100.0ccc.cccd", "0180.c200.0000", "0180.c200.0001")
_PRIORITY = 32768


def _up(itf: InterfaceView) -> bool:
    return itf.line_protocol_up and not itf.shutdown


def host_mac(hostname: str, port: str) -> str:
    """The MAC of the simulated host on an access port (stable for a device and port).

    Examples:
        >>> host_mac("sw1", "GigabitEthernet1/0/1") == host_mac("sw1", "GigabitEthernet1/0/1")
        True
        >>> host_mac("sw1", "GigabitEthernet1/0/1").startswith("5254.")
        True
    """
    digest = hashlib.sha256(f"{hostname}/{port}".encode()).hexdigest()
    return f"5254.{digest[0:4]}.{digest[4:8]}"


def _uplinks(ctx: ShowContext) -> list[InterfaceView]:
    """Trunks that are up (a bundle's members count as their Port-channel)."""
    return [
        i
        for i in ctx.interfaces
        if i.switchport_mode == "trunk" and _up(i) and i.channel_group is None
    ]


def mac_entries(ctx: ShowContext) -> list[tuple[int, str, str]]:
    """(VLAN, MAC, port) of the dynamic entries, as ``show mac address-table`` lists them.

    A port that spanning tree blocks learns nothing; the ARP neighbours (beyond the
    uplinks) are learned on the way to the root of their VLAN.
    """
    entries: list[tuple[int, str, str]] = []
    neighbors = {n.local_interface: n for n in ctx.lldp_neighbors}
    trees = shows_stp.trees(ctx)
    for itf in ctx.interfaces:
        if not _up(itf) or itf.switchport_mode is None or itf.bundle_flag not in ("", "P"):
            continue
        # a bundle learns on its Port-channel, not on its members
        port = itf.name if itf.channel_group is None else f"Port-channel{itf.channel_group}"
        if itf.switchport_mode == "access" and itf.channel_group is None:
            entries.append((itf.access_vlan or 1, host_mac(ctx.hostname, itf.name), itf.name))
        elif itf.name in neighbors:
            native = itf.native_vlan
            state = trees[native].port(port) if native in trees else None
            learned = (native, neighbors[itf.name].remote_chassis_id, port)
            if (state is None or state.forwarding) and learned not in entries:
                entries.append(learned)
    uplinks = _uplinks(ctx)
    if uplinks:
        svis = {i.name: i for i in ctx.interfaces}
        for entry in ctx.arp:
            svi = svis.get(entry.interface)
            if entry.age_minutes is None or svi is None or not svi.name.startswith("Vlan"):
                continue
            vlan = int(svi.name[4:])
            port = _towards_root(ctx, vlan, uplinks)
            if (vlan, entry.mac, port) not in entries:
                entries.append((vlan, entry.mac, port))
    return sorted(entries)


def _towards_root(ctx: ShowContext, vlan: int, uplinks: Sequence[InterfaceView]) -> str:
    """The uplink towards the rest of the network in ``vlan``: the root port, else the first
    uplink forwarding in it, else the first uplink."""
    tree = shows_stp.trees(ctx).get(vlan)
    if tree is not None and tree.root_port is not None:
        return tree.root_port
    forwarding = [u.name for u in uplinks if shows_stp.forwarding(ctx, u.name, [vlan])]
    return (forwarding or [uplinks[0].name])[0]


def mac_address_table(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show mac address-table [dynamic]`` in the Catalyst format."""
    words = [w.lower() for w in args]
    if words and not (len(words) == 1 and "dynamic".startswith(words[0])):
        return None
    lines = [
        "          Mac Address Table",
        "-------------------------------------------",
        "",
        "Vlan    Mac Address       Type        Ports",
        "----    -----------       --------    -----",
    ]
    count = 0
    if not words:
        for mac in _CPU_MACS:
            lines.append(f" All    {mac}    STATIC      CPU")
            count += 1
    for vlan, mac, port in mac_entries(ctx):
        lines.append(f"{vlan:>4}    {mac}    DYNAMIC     {abbreviate(port)}")
        count += 1
    lines.append(f"Total Mac Addresses for this criterion: {count} ")
    return "\n".join(lines)


def _switchport_block(itf: InterfaceView) -> list[str]:
    name = f"Name: {abbreviate(itf.name)}"
    if itf.switchport_mode is None:
        return [name, "Switchport: Disabled", ""]
    trunk = itf.switchport_mode == "trunk"
    if trunk:
        operational = "trunk" if _up(itf) else "down"
    else:
        operational = "static access" if _up(itf) else "down"
    if itf.bundle_flag == "P":
        operational += f" (member of bundle Po{itf.channel_group})"
    access = itf.access_vlan or 1
    vlan_name = "default" if access == 1 else f"VLAN{access:04d}"
    return [
        name,
        "Switchport: Enabled",
        f"Administrative Mode: {'trunk' if trunk else 'static access'}",
        f"Operational Mode: {operational}",
        "Administrative Trunking Encapsulation: dot1q",
        f"Operational Trunking Encapsulation: {'dot1q' if trunk else 'native'}",
        "Negotiation of Trunking: " + ("On" if trunk else "Off"),
        f"Access Mode VLAN: {access} ({vlan_name})",
        f"Trunking Native Mode VLAN: {itf.native_vlan} (default)",
        "Administrative Native VLAN tagging: enabled",
        "Voice VLAN: none",
        "Administrative private-vlan host-association: none ",
        "Administrative private-vlan mapping: none ",
        "Administrative private-vlan trunk native VLAN: none",
        "Administrative private-vlan trunk Native VLAN tagging: enabled",
        "Administrative private-vlan trunk encapsulation: dot1q",
        "Administrative private-vlan trunk normal VLANs: none",
        "Administrative private-vlan trunk associations: none",
        "Administrative private-vlan trunk mappings: none",
        "Operational private-vlan: none",
        "Trunking VLANs Enabled: "
        + ("ALL" if itf.trunk_allowed == "1-4094" else itf.trunk_allowed),
        "Pruning VLANs Enabled: 2-1001",
        "Capture Mode Disabled",
        "Capture VLANs Allowed: ALL",
        "",
        "Protected: false",
        "Unknown unicast blocked: disabled",
        "Unknown multicast blocked: disabled",
        "Appliance trust: none",
        "",
    ]


def _selected(ctx: ShowContext, words: Sequence[str]) -> list[InterfaceView] | None:
    if not words:
        return list(ctx.interfaces)
    itf = find_interface(ctx, list(words))
    return None if itf is None else [itf]


def interfaces_switchport(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show interfaces [NAME] switchport`` (the name comes before ``switchport`` on IOS)."""
    selected = _selected(ctx, args)
    if selected is None:
        return None
    lines: list[str] = []
    for itf in selected:
        if kind_of(itf.name).physical or itf.name.startswith("Port-channel"):
            lines += _switchport_block(itf)
    return "\n".join(lines)


def interfaces_trunk(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show interfaces trunk``: the four tables of the trunks that are up."""
    if args:
        return None
    trunks = _uplinks(ctx)
    if not trunks:
        return ""
    configured = [v for v, _ in ctx.vlans]
    lines = ["", "Port        Mode             Encapsulation  Status        Native vlan"]
    lines += [
        f"{abbreviate(i.name):<12}{'on':<17}{'802.1q':<15}{'trunking':<14}{i.native_vlan}"
        for i in trunks
    ]
    titles = (
        "Vlans allowed on trunk",
        "Vlans allowed and active in management domain",
        "Vlans in spanning tree forwarding state and not pruned",
    )
    for index, title in enumerate(titles):
        lines += ["", f"Port        {title}"]
        for itf in trunks:
            active = carried_vlans(itf, configured)
            shown = (
                itf.trunk_allowed
                if index == 0
                else vlan_ranges(
                    active if index == 1 else shows_stp.forwarding(ctx, itf.name, active)
                )
            )
            lines.append(f"{abbreviate(itf.name):<12}{shown}")
    return "\n".join(lines)


def _channels(ctx: ShowContext) -> list[tuple[int, InterfaceView, list[InterfaceView]]]:
    """(number, Port-channel, members) of every Port-channel interface, by number."""
    by_name = {i.name: i for i in ctx.interfaces}
    found = [
        (int(itf.name[len("Port-channel") :]), itf, [by_name[m] for m in itf.members])
        for itf in ctx.interfaces
        if itf.name.startswith("Port-channel") and itf.name[len("Port-channel") :].isdigit()
    ]
    return sorted(found, key=lambda channel: channel[0])


def etherchannel_summary(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show etherchannel summary``: every Port-channel, its protocol and its members.

    Members are listed four to a line, as IOS wraps them.
    """
    if args:
        return None
    groups = _channels(ctx)
    lines = [
        "Flags:  D - down        P - bundled in port-channel",
        "        I - stand-alone s - suspended",
        "        H - Hot-standby (LACP only)",
        "        R - Layer3      S - Layer2",
        "        U - in use      f - failed to allocate aggregator",
        "",
        "        M - not in use, minimum links not met",
        "        u - unsuitable for bundling",
        "        w - waiting to be aggregated",
        "        d - default port",
        "",
        "        A - formed by Auto LAG",
        "",
        "",
        f"Number of channel-groups in use: {len(groups)}",
        f"Number of aggregators:           {len(groups)}",
        "",
        "Group  Port-channel  Protocol    Ports",
        "------+-------------+-----------+-----------------------------------------------",
    ]
    for number, channel, members in groups:
        protocol = PROTOCOLS.get(members[0].channel_mode, "-") if members else "-"
        layer = "S" if channel.switchport_mode is not None else "R"
        flags = layer + ("U" if _up(channel) else "D")
        ports = [f"{abbreviate(m.name)}({m.bundle_flag})" for m in members]
        rows = [" ".join(ports[i : i + 4]) for i in range(0, len(ports), 4)] or [""]
        bundle = f"Po{number}({flags})"
        lines.append(f"{number:<7}{bundle:<14}{protocol:<12}{rows[0]}".rstrip())
        lines += [" " * 33 + row for row in rows[1:]]
    return "\n".join(lines)


def lacp_sys_id(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show lacp sys-id``: the system priority and the chassis MAC."""
    if args:
        return None
    return f"{_PRIORITY}, {ctx.base_mac}"


def interfaces_transceiver(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show interfaces transceiver``: digital optical monitoring of the SFP ports that are up."""
    selected = _selected(ctx, args)
    if selected is None:
        return None
    optics = [i for i in selected if _is_optic(i) and _up(i)]
    if not optics:
        return ""
    lines = [
        "If device is externally calibrated, only calibrated values are printed.",
        "++ : high alarm, +  : high warning, -  : low warning, -- : low alarm.",
        "NA or N/A: not applicable, Tx: transmit, Rx: receive.",
        "mA: milliamperes, dBm: decibels (milliwatts).",
        "",
        "                                             Optical   Optical",
        "            Temperature  Voltage  Current   Tx Power  Rx Power",
        "Port        (Celsius)    (Volts)  (mA)      (dBm)     (dBm)",
        "---------   -----------  -------  --------  --------  --------",
    ]
    for itf in optics:
        seed = int(hashlib.sha256(f"{ctx.hostname}/{itf.name}".encode()).hexdigest()[:6], 16)
        temp = 28 + seed % 120 / 10
        current = 5 + seed % 40 / 10
        tx = -(2 + seed % 15 / 10)
        rx = -(3 + seed % 35 / 10)
        lines.append(
            f"{abbreviate(itf.name):<12}{temp:<13.1f}{3.29:<9.2f}{current:<10.1f}"
            f"{tx:<10.1f}{rx:.1f}"
        )
    return "\n".join(lines)


def _is_optic(itf: InterfaceView) -> bool:
    """SFP ports: 10G and faster, and the Catalyst uplink module slots (``x/1/y``)."""
    kind = kind_of(itf.name)
    if not kind.physical:
        return False
    number = itf.name[len(kind.long) :]
    parts = number.split("/")
    return itf.speed_mbps >= 10_000 or (len(parts) == 3 and parts[1] == "1")
