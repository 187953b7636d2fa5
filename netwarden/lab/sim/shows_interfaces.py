"""Interface show commands: ``show interfaces`` and its variants, ``show ip interface``, VLANs."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from netwarden.lab.sim.showmodel import InterfaceView, ShowContext
from netwarden.lab.sim.shows_util import (
    abbreviate,
    find_interface,
    kind_of,
    link_state,
    prefix_to_netmask,
    split_name,
)

# 10/40/100G names are abbreviated in ``show interface summary`` (NAPALM looks them up so).
_SUMMARY_ABBREVIATED = ("TenGigabitEthernet", "FortyGigabitEthernet", "HundredGigE")
_DEFAULT_VLANS = (
    (1002, "fddi-default"),
    (1003, "token-ring-default"),
    (1004, "fddinet-default"),
    (1005, "trnet-default"),
)


def _port_state(itf: InterfaceView) -> str:
    """The switch-port state in brackets and in ``show interfaces status``."""
    if itf.shutdown:
        return "disabled"
    return "connected" if itf.line_protocol_up else "notconnect"


def _speed_text(mbps: int) -> str:
    return f"{mbps // 1000}Gb/s" if mbps >= 10_000 else f"{mbps}Mb/s"


def _rate(octets: int, packets: int, ctx: ShowContext) -> tuple[int, int]:
    """A 5-minute rate consistent with the counters: their average since boot."""
    seconds = max(ctx.uptime_seconds, 1.0)
    return int(octets * 8 / seconds), int(packets / seconds)


def _bandwidth_kbit(itf: InterfaceView) -> int:
    """``BW`` in ``show interfaces``: the configured bandwidth, else the speed."""
    return itf.bandwidth_kbit if itf.bandwidth_kbit is not None else itf.speed_mbps * 1000


def _hardware_line(itf: InterfaceView) -> str:
    kind = kind_of(itf.name)
    if kind.long in ("Loopback", "Tunnel"):
        return f"  Hardware is {kind.hardware}"
    return f"  Hardware is {kind.hardware}, address is {itf.mac} (bia {itf.mac})"


def _interface_block(ctx: ShowContext, itf: InterfaceView) -> list[str]:
    kind = kind_of(itf.name)
    channel = kind.long == "Port-channel"
    status, protocol = link_state(itf)
    suffix = f" ({_port_state(itf)})" if kind.physical or channel else ""
    counters = itf.counters
    lines = [f"{itf.name} is {status}, line protocol is {protocol}{suffix}", _hardware_line(itf)]
    if itf.description:
        lines.append(f"  Description: {itf.description}")
    if itf.ipv4:
        address, prefix = itf.ipv4[0]
        lines.append(f"  Internet address is {address}/{prefix}")
    lines += [
        f"  MTU {itf.mtu} bytes, BW {_bandwidth_kbit(itf)} Kbit/sec, DLY {kind.delay_usec} usec,",
        "     reliability 255/255, txload 1/255, rxload 1/255",
        "  Encapsulation LOOPBACK, loopback not set"
        if kind.long == "Loopback"
        else "  Encapsulation ARPA, loopback not set",
    ]
    if kind.physical:
        lines.append("  Keepalive set (10 sec)")
        if itf.line_protocol_up and not itf.shutdown:
            lines.append(
                f"  {itf.duplex}-duplex, {_speed_text(itf.speed_mbps)}, media type is {kind.media}"
            )
        else:
            lines.append(f"  Auto-duplex, Auto-speed, media type is {kind.media}")
        lines.append("  input flow-control is off, output flow-control is unsupported")
    elif channel:
        lines += _channel_lines(itf)
    elif kind.long == "Vlan":
        lines.append("  Keepalive not supported")
    else:
        lines.append("  Keepalive set (10 sec)")
    in_bps, in_pps = _rate(counters.rx_bytes, counters.rx_packets, ctx)
    out_bps, out_pps = _rate(counters.tx_bytes, counters.tx_packets, ctx)
    last = "00:00:00" if itf.line_protocol_up and not itf.shutdown else "never"
    lines += [
        "  ARP type: ARPA, ARP Timeout 04:00:00",
        f"  Last input {last}, output {last}, output hang never",
        '  Last clearing of "show interface" counters never',
        (
            f"  Input queue: 0/75/{counters.rx_discards}/0 (size/max/drops/flushes); "
            f"Total output drops: {counters.tx_discards}"
        ),
        "  Queueing strategy: fifo",
        "  Output queue: 0/40 (size/max)",
        f"  5 minute input rate {in_bps} bits/sec, {in_pps} packets/sec",
        f"  5 minute output rate {out_bps} bits/sec, {out_pps} packets/sec",
        f"     {counters.rx_packets} packets input, {counters.rx_bytes} bytes, 0 no buffer",
        f"     Received {counters.rx_broadcast} broadcasts ({counters.rx_multicast} multicasts)",
        "     0 runts, 0 giants, 0 throttles",
        f"     {counters.rx_errors} input errors, 0 CRC, 0 frame, 0 overrun, 0 ignored",
    ]
    if kind.physical:
        lines += [
            f"     0 watchdog, {counters.rx_multicast} multicast, 0 pause input",
            "     0 input packets with dribble condition detected",
        ]
    lines += [
        f"     {counters.tx_packets} packets output, {counters.tx_bytes} bytes, 0 underruns",
        f"     {counters.tx_errors} output errors, 0 collisions, 1 interface resets",
        "     0 unknown protocol drops",
    ]
    if kind.physical:
        lines += [
            "     0 babbles, 0 late collision, 0 deferred",
            "     0 lost carrier, 0 no carrier, 0 pause output",
        ]
    lines.append("     0 output buffer failures, 0 output buffers swapped out")
    return lines


def _channel_lines(itf: InterfaceView) -> list[str]:
    """A Port-channel's link, as a Catalyst prints it, and its members."""
    lines = ["  Keepalive set (10 sec)"]
    if itf.line_protocol_up and not itf.shutdown:
        speed = _speed_text(itf.speed_mbps)
        lines.append(f"  {itf.duplex}-duplex, {speed}, link type is auto, media type is unknown")
    else:
        lines.append("  Auto-duplex, Auto-speed, link type is auto, media type is unknown")
    lines.append("  input flow-control is off, output flow-control is unsupported")
    if itf.members:
        lines.append(f"  Members in this channel: {' '.join(abbreviate(m) for m in itf.members)} ")
    return lines


def _per_interface(
    ctx: ShowContext,
    args: Sequence[str],
    block: Callable[[ShowContext, InterfaceView], list[str]],
) -> str | None:
    """``block`` for every interface, or for the one ``args`` names (None: no such interface)."""
    selected: tuple[InterfaceView, ...] = ctx.interfaces
    if args:
        itf = find_interface(ctx, list(args))
        if itf is None:
            return None
        selected = (itf,)
    return "\n".join(line for itf in selected for line in block(ctx, itf))


def interfaces(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show interfaces [NAME]``."""
    return _per_interface(ctx, args, _interface_block)


def _summary_name(name: str) -> str:
    return abbreviate(name) if split_name(name)[0] in _SUMMARY_ABBREVIATED else name


def interface_summary(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show interfaces summary`` (NAPALM reads the IQD and OQD drop columns)."""
    if args:
        return None
    lines = [
        "",
        " *: interface is up",
        " IHQ: pkts in input hold queue     IQD: pkts dropped from input queue",
        " OHQ: pkts in output hold queue    OQD: pkts dropped from output queue",
        " RXBS: rx rate (bits/sec)          RXPS: rx rate (pkts/sec)",
        " TXBS: tx rate (bits/sec)          TXPS: tx rate (pkts/sec)",
        " TRTL: throttle count",
        "",
        (
            "  Interface                   IHQ       IQD       OHQ       OQD      RXBS      RXPS"
            "      TXBS      TXPS      TRTL"
        ),
        "-" * 113,
    ]
    for itf in ctx.interfaces:
        up = "*" if itf.line_protocol_up and not itf.shutdown else " "
        rxbs, rxps = _rate(itf.counters.rx_bytes, itf.counters.rx_packets, ctx)
        txbs, txps = _rate(itf.counters.tx_bytes, itf.counters.tx_packets, ctx)
        columns = (0, itf.counters.rx_discards, 0, itf.counters.tx_discards)
        numbers = "".join(f"{value:>10}" for value in (*columns, rxbs, rxps, txbs, txps, 0))
        lines.append(f"{up} {_summary_name(itf.name):<20} {numbers}")
    return "\n".join(lines)


def interface_counters(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show interfaces counters`` (switch ports and port channels)."""
    if args:
        return None
    ports = [
        itf for itf in ctx.interfaces if kind_of(itf.name).physical or itf.name.startswith("Port")
    ]
    lines = ["", "Port            InOctets    InUcastPkts    InMcastPkts    InBcastPkts"]
    for itf in ports:
        c = itf.counters
        unicast = max(c.rx_packets - c.rx_multicast - c.rx_broadcast, 0)
        lines.append(
            f"{abbreviate(itf.name):<10}{c.rx_bytes:>14}{unicast:>15}"
            f"{c.rx_multicast:>15}{c.rx_broadcast:>15}"
        )
    lines += ["", "Port           OutOctets   OutUcastPkts   OutMcastPkts   OutBcastPkts"]
    for itf in ports:
        c = itf.counters
        unicast = max(c.tx_packets - c.tx_multicast - c.tx_broadcast, 0)
        lines.append(
            f"{abbreviate(itf.name):<10}{c.tx_bytes:>14}{unicast:>15}"
            f"{c.tx_multicast:>15}{c.tx_broadcast:>15}"
        )
    return "\n".join(lines)


def _status_vlan(itf: InterfaceView) -> str:
    if itf.switchport_mode == "trunk":
        return "trunk"
    if itf.switchport_mode == "access":
        return str(itf.access_vlan or 1)
    return "routed"


def _status_speed(itf: InterfaceView) -> tuple[str, str]:
    if itf.line_protocol_up and not itf.shutdown:
        speed = itf.speed_mbps
        return f"a-{itf.duplex.lower()}", f"a-{speed // 1000}G" if speed >= 10_000 else f"a-{speed}"
    return "auto", "auto"


def interface_status(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show interfaces status`` (switch ports and port channels)."""
    if args:
        return None
    lines = ["", "Port      Name               Status       Vlan       Duplex  Speed Type"]
    ports = [i for i in ctx.interfaces if kind_of(i.name).physical]
    ports += [i for i in ctx.interfaces if kind_of(i.name).long == "Port-channel"]  # last
    for itf in ports:
        kind = kind_of(itf.name)
        duplex, speed = _status_speed(itf)
        lines.append(
            f"{abbreviate(itf.name):<9} {itf.description[:18]:<18} {_port_state(itf):<12} "
            f"{_status_vlan(itf):<10} {duplex:>6} {speed:>6} {kind.media}".rstrip()
        )
    return "\n".join(lines)


def interface_description(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show interfaces description``."""
    if args:
        return None
    lines = ["Interface                      Status         Protocol Description"]
    for itf in ctx.interfaces:
        status, protocol = link_state(itf)
        status = "admin down" if itf.shutdown else status
        lines.append(
            f"{abbreviate(itf.name):<30} {status:<14} {protocol:<8} {itf.description}".rstrip()
        )
    return "\n".join(lines)


def _method(ctx: ShowContext, itf: InterfaceView) -> str:
    if not itf.ipv4:
        return "unset"
    address, prefix = itf.ipv4[0]
    saved = f"ip address {address} {prefix_to_netmask(prefix)}" in ctx.startup_config
    return "NVRAM" if saved else "manual"


def ip_interface_brief(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show ip interface brief``."""
    if args:
        return None
    lines = ["Interface              IP-Address      OK? Method Status                Protocol"]
    for itf in ctx.interfaces:
        status, protocol = link_state(itf)
        address = itf.ipv4[0][0] if itf.ipv4 else "unassigned"
        lines.append(
            f"{itf.name:<22} {address:<15} YES {_method(ctx, itf):<6} {status:<21} {protocol}"
        )
    return "\n".join(lines)


_IP_FEATURES = (
    "  Outgoing Common access list is not set",
    "  Outgoing access list is not set",
    "  Inbound Common access list is not set",
    "  Inbound  access list is not set",
    "  Proxy ARP is enabled",
    "  Local Proxy ARP is disabled",
    "  Security level is default",
    "  Split horizon is enabled",
    "  ICMP redirects are always sent",
    "  ICMP unreachables are always sent",
    "  ICMP mask replies are never sent",
    "  IP fast switching is enabled",
    "  IP Flow switching is disabled",
    "  IP CEF switching is enabled",
    "  IP CEF switching turbo vector",
    "  IP Null turbo vector",
    "  Associated unicast routing topologies:",
    '        Topology "base", operation state is UP',
    "  IP multicast fast switching is enabled",
    "  IP multicast distributed fast switching is disabled",
    "  IP route-cache flags are Fast, CEF",
    "  Router Discovery is disabled",
    "  IP output packet accounting is disabled",
    "  IP access violation accounting is disabled",
    "  TCP/IP header compression is disabled",
    "  RTP/IP header compression is disabled",
    "  Probe proxy name replies are disabled",
    "  Policy routing is disabled",
    "  Network address translation is disabled",
    "  BGP Policy Mapping is disabled",
    "  Input features: MCI Check",
    "  IPv4 WCCP Redirect outbound is disabled",
    "  IPv4 WCCP Redirect inbound is disabled",
    "  IPv4 WCCP Redirect exclude is disabled",
)


def _ip_interface_block(ctx: ShowContext, itf: InterfaceView) -> list[str]:
    status, protocol = link_state(itf)
    lines = [f"{itf.name} is {status}, line protocol is {protocol}"]
    if not itf.ipv4:
        return [*lines, "  Internet protocol processing disabled"]
    (address, prefix), secondaries = itf.ipv4[0], itf.ipv4[1:]
    determined = "non-volatile memory" if _method(ctx, itf) == "NVRAM" else "setup command"
    lines += [
        f"  Internet address is {address}/{prefix}",
        "  Broadcast address is 255.255.255.255",
        f"  Address determined by {determined}",
        f"  MTU is {itf.mtu} bytes",
        "  Helper address is not set",
        "  Directed broadcast forwarding is disabled",
    ]
    lines += [f"  Secondary address {extra}/{length}" for extra, length in secondaries]
    return lines + list(_IP_FEATURES)


def ip_interface(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show ip interface [NAME]`` (NAPALM's get_interfaces_ip reads the addresses)."""
    return _per_interface(ctx, args, _ip_interface_block)


def ipv6_interface(_ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show ipv6 interface``: empty, as on a device with no IPv6 interface."""
    return None if len(args) > 2 else ""


def _vlan_table(ctx: ShowContext) -> list[tuple[int, str]]:
    vlans = dict(ctx.vlans)
    vlans.setdefault(1, "default")
    vlans.update(_DEFAULT_VLANS)
    return sorted(vlans.items())


def _member_ports(ctx: ShowContext, *, trunks: bool) -> dict[int, list[str]]:
    """Ports per VLAN: access ports, and with ``trunks`` the trunks (they carry every VLAN)."""
    ports: dict[int, list[str]] = {}
    for itf in ctx.interfaces:
        if itf.channel_group is not None:
            continue  # a bundle's member: its Port-channel is listed
        if itf.switchport_mode == "access":
            ports.setdefault(itf.access_vlan or 1, []).append(abbreviate(itf.name))
        elif itf.switchport_mode == "trunk" and trunks:
            for vlan_id, _name in _vlan_table(ctx):
                if not 1002 <= vlan_id <= 1005:
                    ports.setdefault(vlan_id, []).append(abbreviate(itf.name))
    return ports


def _vlan_ports_table(ctx: ShowContext, *, trunks: bool) -> str:
    ports = _member_ports(ctx, trunks=trunks)
    lines = [
        "",
        "VLAN Name                             Status    Ports",
        "---- -------------------------------- --------- -------------------------------",
    ]
    for vlan_id, name in _vlan_table(ctx):
        status = "act/unsup" if 1002 <= vlan_id <= 1005 else "active"
        members = ports.get(vlan_id, [])
        chunks = [", ".join(members[i : i + 4]) for i in range(0, len(members), 4)] or [""]
        lines.append(f"{vlan_id:<4} {name[:32]:<32} {status:<9} {chunks[0]}".rstrip())
        lines += [f"{'':48}{chunk}" for chunk in chunks[1:]]
    return "\n".join(lines)


def vlan_brief(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show vlan brief``: access ports listed four to a line, as IOS wraps them."""
    return None if args else _vlan_ports_table(ctx, trunks=False)


def vlan_all_ports(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show vlan all-ports`` (NAPALM's get_vlans): trunks listed in every VLAN too."""
    return None if args else _vlan_ports_table(ctx, trunks=True)


def vlan(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show vlan``: the brief table followed by the type table."""
    if args:
        return None
    brief = vlan_brief(ctx, ())
    lines = [
        brief or "",
        "",
        "VLAN Type  SAID       MTU   Parent RingNo BridgeNo Stp  BrdgMode Trans1 Trans2",
        "---- ----- ---------- ----- ------ ------ -------- ---- -------- ------ ------",
    ]
    for vlan_id, _name in _vlan_table(ctx):
        kind = {1002: "fddi", 1003: "tr", 1004: "fdnet", 1005: "trnet"}.get(vlan_id, "enet")
        lines.append(
            f"{vlan_id:<4} {kind:<5} {100000 + vlan_id:<10} 1500  -      -      -        -    "
            "-        0      0"
        )
    return "\n".join(lines)
