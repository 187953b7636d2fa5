"""EtherChannel on the simulator: ``channel-group`` creates the Port-channel, as on a Catalyst.

The Port-channel appears in the running config with its first member's Layer-2
settings; the show commands see it with its members (flags P, D, s) and protocol
(LACP, PAgP, -); removing the last member keeps it; ``no interface Port-channelN``
removes it and its members' ``channel-group`` lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from netwarden.lab.sim.context import build_context
from netwarden.lab.sim.device import SimDevice
from tests.unit.lab.sim_terminal import Terminal, sim_device

PROMPT_IF = "sim-sw002(config-if)#"


@pytest.fixture
def device() -> Iterator[SimDevice]:
    created = sim_device(access_ports=8)  # Gi1/0/3 and Gi1/0/6 have no link; Gi1/1/1 has
    yield created
    created.stop()


@pytest.fixture
def term(device: SimDevice) -> Iterator[Terminal]:
    terminal = Terminal(device).enable()
    yield terminal
    terminal.session.close()


def _configure(term: Terminal, *lines: str) -> str:
    term.type("configure terminal")
    out = "".join(term.type(line) for line in lines)
    term.type("end")
    return out


def _section(device: SimDevice, name: str) -> list[str] | None:
    node = device.running.find(f"interface {name}")
    return None if node is None else [c.text for c in node.children]


def _summary_row(term: Terminal, number: int) -> str:
    summary = term.type("show etherchannel summary")
    return next(ln for ln in summary.splitlines() if ln.startswith(f"{number} "))


def test_the_first_member_creates_the_port_channel_with_its_settings(
    term: Terminal, device: SimDevice
) -> None:
    out = _configure(
        term, "interface Gi1/0/1", "channel-group 2 mode active", "interface Gi1/0/2",
        "channel-group 2 mode active",
    )  # fmt: skip
    assert out.count("Creating a port-channel interface Port-channel 2") == 1  # the first only
    assert _section(device, "Port-channel2") == [
        "switchport mode access",
        "switchport access vlan 20",
    ]
    assert (_section(device, "GigabitEthernet1/0/1") or [""])[-1] == "channel-group 2 mode active"
    running = term.type("show running-config")
    assert "\ninterface Port-channel2\n switchport mode access\n switchport access vlan 20\n" in (
        running
    )


def test_summary_flags_and_protocols(term: Terminal) -> None:
    _configure(
        term,
        "interface Gi1/0/1", "channel-group 1 mode active",  # link: bundled
        "interface Gi1/0/3", "channel-group 1 mode active",  # no link: down
        "interface Gi1/0/2", "channel-group 1 mode active", "switchport access vlan 30",
        "interface Gi1/0/4", "channel-group 2 mode desirable",
        "interface Gi1/0/5", "channel-group 3 mode on",
        "interface Port-channel4",  # made by hand, no member
    )  # fmt: skip
    assert re.match(r"1\s+Po1\(SU\)\s+LACP\s+Gi1/0/1\(P\) Gi1/0/2\(s\) Gi1/0/3\(D\)$",
                    _summary_row(term, 1))  # fmt: skip
    assert re.match(r"2\s+Po2\(SU\)\s+PAgP\s+Gi1/0/4\(P\)$", _summary_row(term, 2))
    assert re.match(r"3\s+Po3\(SU\)\s+-\s+Gi1/0/5\(P\)$", _summary_row(term, 3))
    assert re.match(r"4\s+Po4\(SD\)\s+-$", _summary_row(term, 4))
    assert "Number of channel-groups in use: 4" in term.type("show etherchannel summary")


def test_a_routed_member_makes_a_layer3_port_channel(term: Terminal, device: SimDevice) -> None:
    _configure(term, "interface Gi1/0/7", "no switchport", "channel-group 7 mode on")
    assert _section(device, "Port-channel7") == ["no switchport", "no ip address"]
    assert re.match(r"7\s+Po7\(RU\)\s+-\s+Gi1/0/7\(P\)$", _summary_row(term, 7))


def test_more_than_four_members_wrap_as_ios_does(term: Terminal) -> None:
    lines = [
        x for n in (1, 2, 4, 5, 7) for x in (f"interface Gi1/0/{n}", "channel-group 1 mode on")
    ]
    _configure(term, *lines)
    summary = term.type("show etherchannel summary").splitlines()
    row = summary.index(_summary_row(term, 1))
    assert summary[row].endswith("Gi1/0/1(P) Gi1/0/2(P) Gi1/0/4(P) Gi1/0/5(P)")
    assert summary[row + 1] == " " * 33 + "Gi1/0/7(P)"


def test_the_port_channel_is_an_interface_of_its_own(term: Terminal, device: SimDevice) -> None:
    _configure(term, "interface Gi1/0/1", "channel-group 5 mode active",
               "interface Gi1/0/2", "channel-group 5 mode active")  # fmt: skip
    shown = term.type("show interfaces Port-channel5")
    assert "Port-channel5 is up, line protocol is up (connected)" in shown
    assert "BW 2000000 Kbit/sec" in shown  # the bundled members' sum
    assert "  Members in this channel: Gi1/0/1 Gi1/0/2 " in shown
    ctx = build_context(device)
    channel = next(i for i in ctx.interfaces if i.name == "Port-channel5")
    members = [i for i in ctx.interfaces if i.channel_group == 5]
    assert channel.mac == members[0].mac  # a bundle's MAC is its first member's
    assert channel.counters.rx_packets == sum(m.counters.rx_packets for m in members)
    status = term.type("show interfaces status").splitlines()
    assert re.match(r"Po5\s+connected\s+20\s+a-full\s+a-1000$", status[-2])  # after the ports
    vlans = term.type("show vlan brief")
    assert "Po5" in vlans
    assert "Gi1/0/1," not in vlans  # members are not listed, their Port-channel is
    spanning = term.type("show spanning-tree vlan 20")
    assert re.search(r"^Po5\s+Desg FWD", spanning, re.M)
    assert not re.search(r"^Gi1/0/1\s", spanning, re.M)
    switchport = term.type("show interfaces Gi1/0/1 switchport")
    assert "Operational Mode: static access (member of bundle Po5)" in switchport


def test_a_shut_port_channel_takes_its_members_down(term: Terminal) -> None:
    _configure(term, "interface Gi1/0/1", "channel-group 6 mode passive",
               "interface Port-channel6", "shutdown")  # fmt: skip
    assert re.match(r"6\s+Po6\(SD\)\s+LACP\s+Gi1/0/1\(D\)$", _summary_row(term, 6))
    assert "Port-channel6 is administratively down" in term.type("show interfaces Po6")


def test_the_port_channel_stays_when_its_last_member_leaves(
    term: Terminal, device: SimDevice
) -> None:
    _configure(term, "interface Gi1/0/1", "channel-group 8 mode active")
    _configure(term, "interface Gi1/0/1", "no channel-group")
    assert _section(device, "Port-channel8") is not None
    assert re.match(r"8\s+Po8\(SD\)\s+-$", _summary_row(term, 8))


def test_no_interface_port_channel_removes_it_and_the_members_lines(
    term: Terminal, device: SimDevice
) -> None:
    _configure(term, "interface Gi1/0/1", "channel-group 9 mode active",
               "interface Gi1/0/2", "channel-group 9 mode active",
               "interface Gi1/0/4", "channel-group 10 mode on")  # fmt: skip
    _configure(term, "no interface Port-channel9")
    assert _section(device, "Port-channel9") is None
    assert all(
        not line.startswith("channel-group 9")
        for name in ("GigabitEthernet1/0/1", "GigabitEthernet1/0/2")
        for line in _section(device, name) or []
    )
    assert (_section(device, "GigabitEthernet1/0/4") or [""])[-1] == "channel-group 10 mode on"
    assert not re.search(r"^9\s", term.type("show etherchannel summary"), re.M)


def test_port_channels_are_kept_in_number_order(term: Terminal, device: SimDevice) -> None:
    _configure(term, "interface Gi1/0/1", "channel-group 12 mode on",
               "interface Gi1/0/2", "channel-group 3 mode on", "interface Port-channel7")  # fmt: skip
    channels = [n.text for n in device.running.root if n.text.startswith("interface Port")]
    assert channels == [
        "interface Port-channel3", "interface Port-channel7", "interface Port-channel12",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("line", "caret", "error"),
    [
        ("channel-group 1 mode lacp", len("channel-group 1 mode "), "Invalid input"),
        ("channel-group 0 mode on", len("channel-group "), "Invalid input"),
        ("channel-group 1 mode on fast", len("channel-group 1 mode on "), "Invalid input"),
        ("channel-group 1", None, "% Incomplete command."),
    ],
    ids=["bad-mode", "bad-number", "extra-word", "no-mode"],
)
def test_a_bad_channel_group_gets_the_ios_error(
    term: Terminal, device: SimDevice, line: str, caret: int | None, error: str
) -> None:
    term.type("configure terminal")
    term.type("interface Gi1/0/1")
    out = term.type(line)
    assert error in out
    if caret is not None:
        assert out.splitlines()[1] == " " * (len(PROMPT_IF) + caret) + "^"
    assert out.endswith(PROMPT_IF)  # still in the interface
    term.type("end")
    assert not [n for n in device.running.root if n.text.startswith("interface Port-channel")]


def test_a_logical_interface_cannot_join_a_bundle(term: Terminal) -> None:
    assert "% Invalid input detected" in _configure(
        term, "interface Vlan10", "channel-group 1 mode on"
    )


def test_a_config_file_with_members_only_gets_its_port_channel(device: SimDevice) -> None:
    body = device.running.render_body().replace(
        "interface GigabitEthernet1/0/2\n",
        " channel-group 4 mode on\n!\ninterface GigabitEthernet1/0/2\n",  # Gi1/0/1's last line
    )
    assert device.replace(body) == []
    assert _section(device, "Port-channel4") == [
        "switchport mode access",
        "switchport access vlan 20",
    ]
