"""The Catalyst show commands of the simulator, driven through its CLI without SSH.

They must be stateful as on a device: a config change shows in the MAC table,
the routes, spanning tree, the bundles; values IOS refuses are refused with its
words; loopbacks have no ARP entry and no traffic.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from netwarden.lab.sim.context import build_context
from netwarden.lab.sim.device import SimDevice
from netwarden.lab.sim.fleet import Credentials, specs_from_inventory
from tests.unit.lab.sim_terminal import Terminal, sim_device

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def device() -> Iterator[SimDevice]:
    created = sim_device(access_ports=6)
    yield created
    created.stop()


@pytest.fixture
def term(device: SimDevice) -> Terminal:
    return Terminal(device).enable()


def _configure(term: Terminal, *lines: str) -> str:
    term.type("configure terminal")
    out = "".join(term.type(line) for line in lines)
    term.type("end")
    return out


@pytest.mark.parametrize(
    "command",
    [
        "show mac address-table",
        "show cdp neighbors",
        "show cdp neighbors detail",
        "show ip route",
        "show spanning-tree",
        "show spanning-tree root",
        "show spanning-tree summary",
        "show interfaces switchport",
        "show interfaces trunk",
        "show interfaces status",
        "show interface transceiver",
        "show etherchannel summary",
        "show lacp sys-id",
        "show lldp interface",
        "show access-lists",
        "show snmp user",
        "show vrf",
        "show ipv6 neighbors",
        "show banner motd",
        "traceroute 10.10.0.1",
    ],
)
def test_catalyst_commands_are_known(term: Terminal, command: str) -> None:
    assert "% Invalid input" not in term.type(command)


def test_mac_table_learns_and_forgets_with_the_link(term: Terminal) -> None:
    before = term.type("show mac address-table dynamic")
    assert re.search(r"^\s+20\s+5254\.\S+\s+DYNAMIC\s+Gi1/0/1$", before, re.M)
    _configure(term, "interface GigabitEthernet1/0/1", "shutdown")
    assert "Gi1/0/1\n" not in term.type("show mac address-table dynamic")
    _configure(term, "interface GigabitEthernet1/0/1", "switchport access vlan 10", "no shutdown")
    assert re.search(r"^\s+10\s+5254\.\S+\s+DYNAMIC\s+Gi1/0/1$", term.type("show mac a"), re.M)


def test_routes_follow_the_config(term: Terminal) -> None:
    assert "Gateway of last resort is not set" in term.type("show ip route")
    _configure(term, "ip default-gateway 10.10.0.1", "ip route 192.0.2.0 255.255.255.0 10.10.0.9")
    table = term.type("show ip route")
    assert "Gateway of last resort is 10.10.0.1 to network 0.0.0.0" in table
    assert "S*    0.0.0.0/0 [1/0] via 10.10.0.1" in table
    assert "S     192.0.2.0/24 [1/0] via 10.10.0.9" in table
    assert re.search(r"^C\s+10\.10\.0\.0/24 is directly connected, Vlan10", table, re.M)
    entry = term.type("show ip route 192.0.2.7")
    assert "Routing entry for 192.0.2.0/24" in entry
    assert "  * 10.10.0.9" in entry
    assert "% Network not in table" in term.type("show ip route 203.0.113.1")
    trace = term.type("traceroute 192.0.2.7")
    assert re.findall(r"^\s+\d+ (\S+) ", trace, re.M) == ["10.10.0.9", "192.0.2.7"]
    assert "% Unrecognized host" in term.type("traceroute nowhere")


def test_spanning_tree_per_configured_vlan(term: Terminal) -> None:
    assert "VLAN0030" not in term.type("show spanning-tree")
    _configure(term, "vlan 30", "interface GigabitEthernet1/0/2", "switchport access vlan 30")
    tree = term.type("show spanning-tree")
    assert "VLAN0030\n  Spanning tree enabled protocol rstp" in tree
    block = tree.split("VLAN0030")[1].split("VLAN00")[0]
    # alone, the switch is the root of its VLANs; without portfast a port is not an edge
    assert "This bridge is the root" in block
    assert re.search(r"^Gi1/0/2\s+Desg FWD 4\s+128\.2\s+P2p$", block, re.M)
    _configure(term, "interface GigabitEthernet1/0/2", "spanning-tree portfast")
    block = term.type("show spanning-tree vlan 30")
    assert re.search(r"^Gi1/0/2\s+Desg FWD 4\s+128\.2\s+P2p Edge$", block, re.M)


def test_spanning_tree_help_and_summary_alone(term: Terminal) -> None:
    assert "  summary  Summary of port states" in term.keys("show spanning-tree ?")
    term.keys("\x15")
    summary = term.type("show spanning-tree summary")
    # alone (no fleet), it is the root of each of its VLANs; IOS 15's layout on a 3750
    assert "Root bridge for: VLAN0001, VLAN0010, VLAN0020\n" in summary
    assert (
        "EtherChannel misconfig guard is enabled\nConfigured Pathcost method used is short"
        in summary
    )
    _configure(term, "spanning-tree mode pvst", "spanning-tree portfast default")
    summary = term.type("show spanning-tree summary")
    assert "Switch is in pvst mode" in summary
    assert "Portfast Default             is enabled" in summary
    tree = term.type("show spanning-tree vlan 20")
    assert "Spanning tree enabled protocol ieee" in tree
    assert re.search(r"^Gi1/0/1\s+Desg FWD 4\s+128\.1\s+P2p Edge$", tree, re.M)
    assert re.search(r"^Gi1/1/1\s+Desg FWD 4\s+\S+\s+P2p$", tree, re.M)  # a trunk: no edge


def test_etherchannel_from_channel_group(term: Terminal) -> None:
    _configure(term, "interface GigabitEthernet1/1/1", "channel-group 5 mode active")
    summary = term.type("show etherchannel summary")
    assert re.search(r"^5\s+Po5\(SU\)\s+LACP\s+Gi1/1/1\(P\)", summary, re.M)
    assert "Number of channel-groups in use: 1" in summary


def test_acl_snmp_user_banner_vrf_ipv6(term: Terminal) -> None:
    _configure(
        term,
        "ip access-list standard MGMT",
        "permit 10.10.0.0 0.0.0.255",
        "exit",
        "snmp-server user ops OPS v3 auth sha a1234567 priv aes 256 p1234567",
        "banner motd ^Authorized use only^",
        "vrf definition OOB",
        "rd 65000:9",
        "address-family ipv4",
        "exit-address-family",
        "exit",
        "interface Vlan10",
        "ipv6 address 2001:db8:a::5/64",
    )
    assert "10 permit 10.10.0.0, wildcard bits 0.0.0.255" in term.type("show access-lists")
    user = term.type("show snmp user")
    assert "User name: ops" in user
    assert "Privacy Protocol: AES256" in user
    assert term.type("show banner motd").startswith("show banner motd\nAuthorized use only")
    assert re.search(r"^\s+OOB\s+65000:9\s+ipv4", term.type("show vrf"), re.M)
    assert "2001:DB8:A::1" in term.type("show ipv6 neighbors")


def test_snmp_user_is_empty_not_invalid_without_users(term: Terminal) -> None:
    """``ios_facts gather_network_resources: all`` reads it; an error fails the facts."""
    assert term.type("show snmp user").strip().splitlines()[1:] == ["sim-sw002#"]


def test_cdp_matches_lldp_and_can_be_turned_off(term: Terminal, device: SimDevice) -> None:
    lldp = build_context(device).lldp_neighbors[0]
    cdp = term.type("show cdp neighbors detail")
    assert f"Device ID: {lldp.remote_hostname}." in cdp
    assert "Interface: GigabitEthernet1/1/1,  Port ID (outgoing port): GigabitEthernet1/0/2" in cdp
    _configure(term, "no cdp run")
    assert "% CDP is not enabled" in term.type("show cdp neighbors")


def test_hostname_with_illegal_characters_is_refused(term: Terminal, device: SimDevice) -> None:
    out = _configure(term, "hostname <script>")
    assert "% Hostname contains one or more illegal characters." in out
    assert device.hostname == "sim-sw002"
    out = _configure(term, "interface Vlan10", "ip address 10.0.0.300 255.255.255.0")
    assert "% Invalid input detected" in out


def test_loopbacks_have_no_arp_entry_and_no_traffic(term: Terminal, device: SimDevice) -> None:
    _configure(term, "interface Loopback7", "ip address 10.255.7.1 255.255.255.255")
    assert "10.255.7.1" not in term.type("show ip arp")
    loop = next(i for i in build_context(device).interfaces if i.name == "Loopback7")
    assert loop.counters.rx_packets == loop.counters.tx_packets == 0


def test_address_set_at_run_time_is_manual(term: Terminal) -> None:
    _configure(term, "interface Loopback7", "ip address 10.255.7.1 255.255.255.255")
    brief = term.type("show ip interface brief")
    assert re.search(r"^Loopback7\s+10\.255\.7\.1\s+YES manual", brief, re.M)
    assert re.search(r"^Vlan10\s+\S+\s+YES NVRAM", brief, re.M)


def test_inventory_links_are_seen_from_both_ends() -> None:
    creds = Credentials("u", "p", "e")
    specs = {s.name: s for s in specs_from_inventory(REPO / "inventory", creds)}
    links = {
        (name, n.local_interface): (n.remote_hostname, n.remote_port)
        for name, spec in specs.items()
        for n in spec.lldp_neighbors
        if n.remote_hostname in specs
    }
    assert links
    for (me, port), (peer, peer_port) in links.items():
        back = [
            n
            for n in specs[peer].lldp_neighbors
            if n.remote_hostname == me and n.local_interface.endswith(peer_port[2:])
        ]
        assert len(back) == 1, f"{me} {port} sees {peer} {peer_port}, but not back"
        assert port.endswith(back[0].remote_port[2:])
        assert back[0].remote_chassis_id != "0000.0000.0000"


def test_interface_name_comes_before_switchport(term: Terminal) -> None:
    one = term.type("show interfaces Gi1/0/3 switchport")
    assert one.count("Name: ") == 1
    assert "Name: Gi1/0/3\nSwitchport: Enabled" in one
    assert "Gi1/1/1" in term.type("show interfaces gi1/1/1 transceiver")
