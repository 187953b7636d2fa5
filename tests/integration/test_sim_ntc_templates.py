"""Every show command of the simulator, read over SSH by Netmiko, parsed by ntc-templates.

The format of a command is right when TextFSM's ntc-templates (pinned in
requirements.txt) parses it into rows whose values are the simulated device's
state; a template returning no rows fails. The command list is the simulator's
own keyword table (:data:`netwarden.lab.sim.shows.COMMANDS`): a command added
there without a case here (or a reason why ntc-templates cannot parse it) fails
:func:`test_every_show_command_is_covered`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from netmiko import ConnectHandler
from ntc_templates.parse import ParsingException, parse_output

from netwarden.lab.sim import shows
from netwarden.lab.sim.context import build_context
from netwarden.lab.sim.device import SimDevice
from netwarden.lab.sim.fleet import Credentials, SimFleet, synthetic_fleet
from netwarden.lab.sim.showmodel import ShowContext
from netwarden.lab.sim.shows_l2 import mac_entries
from netwarden.lab.sim.shows_stp import trees
from netwarden.lab.sim.shows_util import abbreviate
from tests.integration.labfleet import netmiko_args

pytestmark = pytest.mark.integration

Rows = list[dict[str, Any]]
Check = Callable[[Rows, ShowContext], None]

# State the commands below report: routes, a VRF, ACLs, an SNMPv3 user, IPv6, bundles
# (Po1: LACP, its member without link; Po2: PAgP, two members up; Po3: no member).
SETUP = [
    "ip default-gateway 10.10.0.1",
    "ip route 192.168.50.0 255.255.255.0 10.10.0.254",
    "ip host ntp1 10.0.0.1",
    "snmp-server community n3tw4rden RO 10",
    "snmp-server user ops OPS v3 auth sha authpass123 priv aes 128 privpass123",
    "ip access-list extended WEB",
    " permit tcp any host 10.10.0.5 eq 443",
    " deny ip any any log",
    "access-list 10 permit 10.10.0.0 0.0.0.255",
    "vrf definition MGMT",
    " rd 65000:1",
    " address-family ipv4",
    " exit-address-family",
    "interface GigabitEthernet1/0/5",
    " no switchport",
    " vrf forwarding MGMT",
    " ip address 172.16.0.2 255.255.255.0",
    "interface Vlan10",
    " ipv6 address 2001:db8:10::2/64",
    "interface GigabitEthernet1/1/2",
    " channel-group 1 mode active",
    "interface GigabitEthernet1/0/7",
    " channel-group 2 mode desirable",
    "interface GigabitEthernet1/0/8",
    " channel-group 2 mode desirable",
    "interface Port-channel3",
    "interface Loopback0",
    " ip address 10.255.0.1 255.255.255.255",
]


def _by(rows: Rows, key: str) -> dict[str, dict[str, Any]]:
    return {str(row[key]): row for row in rows}


def _version(rows: Rows, ctx: ShowContext) -> None:
    assert rows[0]["hostname"] == ctx.hostname
    assert rows[0]["version"] == ctx.os_version
    assert rows[0]["serial"] == [ctx.serial]
    assert rows[0]["hardware"] == [ctx.model]


def _clock(rows: Rows, ctx: ShowContext) -> None:
    assert rows[0]["timezone"] == ctx.timezone
    assert rows[0]["year"] == str(ctx.now.year)


def _users(rows: Rows, ctx: ShowContext) -> None:
    assert {r["user"] for r in rows} == {s.username for s in ctx.sessions}


def _inventory(rows: Rows, ctx: ShowContext) -> None:
    assert rows[0]["pid"] == ctx.model
    assert rows[0]["sn"] == ctx.serial


def _interfaces(rows: Rows, ctx: ShowContext) -> None:
    parsed = _by(rows, "interface")
    for itf in ctx.interfaces:
        loopback = itf.name.startswith("Loopback")  # no MAC on IOS
        assert parsed[itf.name]["mac_address"] == ("" if loopback else itf.mac), itf.name
        state = (
            "administratively down" if itf.shutdown else "up" if itf.line_protocol_up else "down"
        )
        assert parsed[itf.name]["link_status"] == state, itf.name
    bundle = parsed["Port-channel2"]  # two members of 1 Gb/s bundled: 2 Gb/s
    assert (bundle["link_status"], bundle["bandwidth"]) == ("up", "2000000 Kbit")
    assert parsed["Port-channel3"]["link_status"] == "down"  # no member


def _interface_status(rows: Rows, ctx: ShowContext) -> None:
    parsed = _by(rows, "port")
    for itf in ctx.interfaces:
        if itf.switchport_mode == "access":
            assert parsed[abbreviate(itf.name)]["vlan_id"] == str(itf.access_vlan), itf.name
        if itf.switchport_mode == "trunk":
            assert parsed[abbreviate(itf.name)]["vlan_id"] == "trunk", itf.name
    channels = {r["port"]: (r["status"], r["vlan_id"]) for r in rows if r["port"].startswith("Po")}
    assert channels == {
        "Po1": ("notconnect", "trunk"),
        "Po2": ("connected", "20"),
        "Po3": ("notconnect", "1"),
    }


def _descriptions(rows: Rows, ctx: ShowContext) -> None:
    parsed = _by(rows, "port")
    for itf in ctx.interfaces:
        assert parsed[abbreviate(itf.name)]["description"] == itf.description, itf.name


def _ip_interface(rows: Rows, ctx: ShowContext) -> None:
    parsed = _by(rows, "interface")
    for itf in ctx.interfaces:
        assert parsed[itf.name]["ip_address"] == [a for a, _ in itf.ipv4], itf.name


def _ip_interface_brief(rows: Rows, ctx: ShowContext) -> None:
    parsed = _by(rows, "interface")
    for itf in ctx.interfaces:
        address = itf.ipv4[0][0] if itf.ipv4 else "unassigned"
        assert parsed[itf.name]["ip_address"] == address, itf.name


def _vlans(rows: Rows, ctx: ShowContext) -> None:
    assert {(int(r["vlan_id"]), r["vlan_name"]) for r in rows} >= set(ctx.vlans)


def _arp(address_key: str) -> Check:
    def check(rows: Rows, ctx: ShowContext) -> None:
        assert {r[address_key] for r in rows} == {e.address for e in ctx.arp}

    return check


def _lldp(rows: Rows, ctx: ShowContext) -> None:
    assert [(r["neighbor_name"], r["neighbor_interface"]) for r in rows] == [
        (n.remote_hostname, n.remote_port) for n in ctx.lldp_neighbors
    ]


def _lldp_detail(rows: Rows, ctx: ShowContext) -> None:
    neighbor = ctx.lldp_neighbors[0]
    assert rows[0]["chassis_id"] == neighbor.remote_chassis_id
    assert rows[0]["neighbor_name"] == neighbor.remote_hostname
    assert rows[0]["mgmt_address"] == neighbor.remote_management_address
    assert rows[0]["neighbor_interface"] == neighbor.remote_port_description
    assert rows[0]["neighbor_description"].startswith("Cisco IOS Software")


def _processes(rows: Rows, ctx: ShowContext) -> None:
    assert int(rows[0]["cpu_usage_5_sec"]) <= 100
    assert len(rows) > 1


def _logging(rows: Rows, ctx: ShowContext) -> None:
    assert {f"{r['facility']}-{r['severity']}-{r['mnemonic']}" for r in rows} <= {
        entry.facility_mnemonic for entry in ctx.log
    }


def _community(rows: Rows, ctx: ShowContext) -> None:
    assert {r["name"] for r in rows} == {name for name, _, _ in ctx.snmp_communities}


def _mac_table(*, dynamic: bool) -> Check:
    def check(rows: Rows, ctx: ShowContext) -> None:
        learned = {(str(v), mac, abbreviate(port)) for v, mac, port in mac_entries(ctx)}
        parsed = {
            (r["vlan_id"], r["destination_address"], r["destination_port"][0])
            for r in rows
            if r["type"] == "DYNAMIC"
        }
        assert parsed == learned
        assert any(r["type"] == "STATIC" for r in rows) is not dynamic

    return check


def _spanning_tree(rows: Rows, ctx: ShowContext) -> None:
    pairs = {(r["vlan_id"], r["interface"]) for r in rows}
    for itf in ctx.interfaces:
        up = itf.line_protocol_up and not itf.shutdown
        if itf.switchport_mode == "access" and itf.channel_group is None:
            assert ((str(itf.access_vlan), abbreviate(itf.name)) in pairs) is up, itf.name


def _spanning_tree_root(rows: Rows, ctx: ShowContext) -> None:
    parsed = _by(rows, "vlan_id")
    expected = trees(ctx)
    assert set(parsed) == {f"VLAN{vlan:04d}" for vlan in expected}
    for vlan, tree in expected.items():
        row = parsed[f"VLAN{vlan:04d}"]
        assert (row["priority"], row["root_id"], row["root_cost"]) == (
            str(tree.root.priority),
            tree.root.mac,
            str(tree.root_cost),
        )
        assert row["root_port"] == (abbreviate(tree.root_port) if tree.root_port else "")


def _switchport(rows: Rows, ctx: ShowContext) -> None:
    parsed = _by(rows, "interface")
    for itf in ctx.interfaces:
        if itf.switchport_mode == "access":
            assert parsed[abbreviate(itf.name)]["access_vlan"] == str(itf.access_vlan)
        if itf.switchport_mode == "trunk":
            assert parsed[abbreviate(itf.name)]["admin_mode"] == "trunk"


def _transceiver(rows: Rows, ctx: ShowContext) -> None:
    assert rows[0]["interface"] == "Gi1/1/1"  # the uplink optic with link
    assert -10 < float(rows[0]["rx_pwr"]) < 0


def _etherchannel(rows: Rows, ctx: ShowContext) -> None:
    parsed = {
        r["bundle_name"]: (
            r["bundle_status"], r["bundle_protocol"], r["member_interface"],
            r["member_interface_status"],
        )
        for r in rows
    }  # fmt: skip
    assert parsed == {
        "Po1": ("SD", "LACP", ["Gi1/1/2"], ["D"]),
        "Po2": ("SU", "PAgP", ["Gi1/0/7", "Gi1/0/8"], ["P", "P"]),
        "Po3": ("SD", "-", [], []),
    }
    members = {i.name: i.members for i in ctx.interfaces if i.name.startswith("Port-channel")}
    assert members == {
        "Port-channel1": ("GigabitEthernet1/1/2",),
        "Port-channel2": ("GigabitEthernet1/0/7", "GigabitEthernet1/0/8"),
        "Port-channel3": (),
    }


def _cdp(rows: Rows, ctx: ShowContext) -> None:
    neighbor = ctx.lldp_neighbors[0]
    assert rows[0]["neighbor_name"] == f"{neighbor.remote_hostname}.{ctx.domain_name}"
    assert rows[0]["platform"] == neighbor.remote_platform


def _cdp_detail(rows: Rows, ctx: ShowContext) -> None:
    neighbor = ctx.lldp_neighbors[0]
    assert rows[0]["mgmt_address"] == neighbor.remote_management_address
    assert rows[0]["local_interface"] == neighbor.local_interface
    assert rows[0]["neighbor_interface"].endswith(neighbor.remote_port[2:])


def _routes(rows: Rows, ctx: ShowContext) -> None:
    table = {(r["protocol"], f"{r['network']}/{r['prefix_length']}") for r in rows}
    assert ("S", "0.0.0.0/0") in table
    assert ("S", "192.168.50.0/24") in table
    svi = next(i for i in ctx.interfaces if i.name == "Vlan10")
    assert ("C", "10.10.0.0/24") in table
    assert ("L", f"{svi.ipv4[0][0]}/32") in table
    assert ("C", "172.16.0.0/24") not in table  # in VRF MGMT


def _vrf_routes(rows: Rows, ctx: ShowContext) -> None:
    assert {(r["vrf"], r["protocol"], r["network"]) for r in rows} == {
        ("MGMT", "C", "172.16.0.0"),
        ("MGMT", "L", "172.16.0.2"),
    }


def _vrf(rows: Rows, ctx: ShowContext) -> None:
    assert rows == [
        {"name": "MGMT", "default_rd": "65000:1", "protocols": "ipv4", "interfaces": ["Gi1/0/5"]}
    ]


def _ipv6_neighbors(rows: Rows, ctx: ShowContext) -> None:
    assert {r["address"] for r in rows if not r["address"].startswith("FE80")} == {"2001:DB8:10::1"}
    assert {r["interface"] for r in rows} == {"Vl10"}


def _access_lists(rows: Rows, ctx: ShowContext) -> None:
    entries = {(r["name"], r["sn"], r["action"]) for r in rows}
    assert entries == {("WEB", "10", "permit"), ("WEB", "20", "deny"), ("10", "10", "permit")}


def _ip_access_lists(rows: Rows, ctx: ShowContext) -> None:
    entries = {(r["acl_name"], r["line_num"], r["action"]) for r in rows if r["line_num"]}
    assert entries == {("WEB", "10", "permit"), ("WEB", "20", "deny"), ("10", "10", "permit")}


def _snmp_user(rows: Rows, ctx: ShowContext) -> None:
    assert rows[0]["user_name"] == "ops"
    assert rows[0]["group_name"] == "OPS"
    assert rows[0]["authentication_protocol"] == "SHA"
    assert rows[0]["privacy_protocol"] == "AES128"


def _traceroute(rows: Rows, ctx: ShowContext) -> None:
    assert [r["ip_address"] for r in rows] == ["10.10.0.254", "192.168.50.7"]


# path in shows.COMMANDS -> (the command typed, its check)
CASES: dict[tuple[str, ...], tuple[str, Check]] = {
    ("version",): ("show version", _version),
    ("clock",): ("show clock", _clock),
    ("users",): ("show users", _users),
    ("inventory",): ("show inventory", _inventory),
    ("interfaces",): ("show interfaces", _interfaces),
    ("interfaces", "status"): ("show interfaces status", _interface_status),
    ("interfaces", "description"): ("show interfaces description", _descriptions),
    ("ip", "interface"): ("show ip interface", _ip_interface),
    ("ip", "interface", "brief"): ("show ip interface brief", _ip_interface_brief),
    ("vlan",): ("show vlan", _vlans),
    ("vlan", "brief"): ("show vlan brief", _vlans),
    ("vlan", "all-ports"): ("show vlan all-ports", _vlans),
    ("arp",): ("show arp", _arp("address")),
    ("ip", "arp"): ("show ip arp", _arp("ip_address")),
    ("lldp", "neighbors"): ("show lldp neighbors", _lldp),
    ("lldp", "neighbors", "detail"): ("show lldp neighbors detail", _lldp_detail),
    ("processes", "cpu"): ("show processes cpu", _processes),
    ("logging",): ("show logging", _logging),
    ("snmp", "community"): ("show snmp community", _community),
    ("mac", "address-table"): ("show mac address-table", _mac_table(dynamic=False)),
    ("mac", "address-table", "dynamic"): (
        "show mac address-table dynamic",
        _mac_table(dynamic=True),
    ),
    ("mac-address-table",): ("show mac-address-table", _mac_table(dynamic=False)),
    ("spanning-tree",): ("show spanning-tree", _spanning_tree),
    ("spanning-tree", "vlan"): ("show spanning-tree vlan 20", _spanning_tree),
    ("spanning-tree", "root"): ("show spanning-tree root", _spanning_tree_root),
    ("interfaces", "switchport"): ("show interfaces switchport", _switchport),
    ("interfaces", "transceiver"): ("show interface transceiver", _transceiver),
    ("etherchannel", "summary"): ("show etherchannel summary", _etherchannel),
    ("cdp", "neighbors"): ("show cdp neighbors", _cdp),
    ("cdp", "neighbors", "detail"): ("show cdp neighbors detail", _cdp_detail),
    ("ip", "route"): ("show ip route", _routes),
    ("ip", "route", "vrf"): ("show ip route vrf MGMT", _vrf_routes),
    ("vrf",): ("show vrf", _vrf),
    ("ipv6", "neighbors"): ("show ipv6 neighbors", _ipv6_neighbors),
    ("access-lists",): ("show access-lists", _access_lists),
    ("ip", "access-lists"): ("show ip access-lists", _ip_access_lists),
    ("snmp", "user"): ("show snmp user", _snmp_user),
}
EXEC_CASES: dict[str, Check] = {"traceroute 192.168.50.7": _traceroute}

# Commands ntc-templates 9.3.0 has no template for (its index finds none, or
# routes the command to another command's template).
_NONE = "ntc-templates 9.3.0 has no template for it"
_MISROUTED = "ntc-templates 9.3.0 routes it to the `show interfaces` template"
NO_TEMPLATE: dict[tuple[str, ...], str] = {
    ("running-config",): _NONE,
    ("running-config", "all"): _NONE,
    # its template is for routers' sub-interfaces and rejects the closing `end` IOS prints
    ("running-config", "interface"): "template rejects the `end` line every IOS prints",
    ("startup-config",): _NONE,
    ("hosts",): _NONE + " (only `show hosts summary`)",
    ("interfaces", "summary"): _MISROUTED,
    ("interfaces", "counters"): _MISROUTED,
    ("interfaces", "trunk"): _MISROUTED,
    ("spanning-tree", "summary"): _NONE + " (routed to `show spanning-tree`, which finds no rows)",
    ("ipv6", "interface"): _NONE + " (only `show ipv6 interface brief`)",
    ("lldp",): _NONE,
    ("lldp", "interface"): _NONE,
    ("memory", "statistics"): _NONE,
    ("environment",): _NONE,
    ("environment", "all"): _NONE,
    # the templates are for Catalyst 9000 stacks (`Switch 1: SYSTEM TEMPERATURE is OK`): this
    # fleet is 3750-Xs (IOS 15); the C9300 format is parsed in tests/unit/lab/test_sim_shows.py
    ("environment", "temperature"): "template for stacked Catalyst 9000s only",
    ("environment", "temperature", "status"): "template for stacked Catalyst 9000s only",
    ("snmp",): _NONE,
    ("snmp", "chassis"): _NONE,
    ("snmp", "contact"): _NONE,
    ("snmp", "location"): _NONE,
    ("ntp", "associations"): _NONE,
    ("ntp", "status"): _NONE,
    ("lacp", "sys-id"): _NONE,
    ("cdp",): _NONE,
    ("banner", "motd"): _NONE,
}


@pytest.fixture(scope="module")
def lab() -> Iterator[tuple[SimDevice, Any]]:
    creds = Credentials.generate()
    fleet: SimFleet = synthetic_fleet(1, creds, access_ports=8)
    with fleet:
        device = fleet.device("sim-sw001")
        conn = ConnectHandler(**netmiko_args(device, creds))
        conn.enable()
        conn.send_config_set(SETUP)
        yield device, conn
        conn.disconnect()


def _parse(conn: Any, command: str) -> Rows:
    output = conn.send_command(command)
    rows = parse_output(platform="cisco_ios", command=command, data=output)
    assert rows, f"{command}: ntc-templates returned no rows from:\n{output}"
    return list(rows)


def test_every_show_command_is_covered() -> None:
    paths = {path for path, _renderer in shows.COMMANDS}
    assert paths - set(CASES) - set(NO_TEMPLATE) == set()
    assert set(CASES) | set(NO_TEMPLATE) <= paths


@pytest.mark.parametrize("path", sorted(NO_TEMPLATE), ids=" ".join)
def test_commands_without_a_template_really_have_none(path: tuple[str, ...]) -> None:
    """When ntc-templates gains a template, the command must move into CASES."""
    if "environment" in path or path == ("running-config", "interface"):
        pytest.skip("a template exists, for another format (see NO_TEMPLATE)")
    command = "show " + " ".join(path)
    try:
        rows = parse_output(platform="cisco_ios", command=command, data="")
    except ParsingException as exc:
        found = str(exc)
    else:
        found = "No template found" if rows == [] else f"rows: {rows}"
    # none, or misrouted to the template of another command (which finds no rows)
    assert "No template found" in found


@pytest.mark.parametrize("path", sorted(CASES), ids=lambda p: CASES[p][0])
def test_ntc_templates_parse_the_show_command(
    lab: tuple[SimDevice, Any], path: tuple[str, ...]
) -> None:
    device, conn = lab
    command, check = CASES[path]
    rows = _parse(conn, command)
    check(rows, build_context(device, current_line=None))


@pytest.mark.parametrize("command", sorted(EXEC_CASES))
def test_ntc_templates_parse_exec_commands(lab: tuple[SimDevice, Any], command: str) -> None:
    device, conn = lab
    EXEC_CASES[command](_parse(conn, command), build_context(device))
