"""IOS semantics of the simulator's config tree, its rendering and its diffs."""

from __future__ import annotations

import pytest

from netwarden.lab.sim.cligrammar import expand_config_words, interface_name
from netwarden.lab.sim.config import ConfigApplier, ConfigTree
from netwarden.lab.sim.configdiff import contextual_diff, incremental_diff

PHYSICAL = frozenset({"GigabitEthernet1/0/1", "GigabitEthernet1/0/2"})
BASE = """\
hostname sw1
interface GigabitEthernet1/0/1
 description old
 switchport mode access
 switchport access vlan 10
interface Vlan10
 ip address 10.0.0.1 255.255.255.0
ntp server 10.0.0.1
line vty 0 4
 login local
end
"""


def _tree() -> ConfigTree:
    return ConfigTree.build(BASE, PHYSICAL)


def _typed(tree: ConfigTree, *lines: str) -> list[str]:
    applier = ConfigApplier(tree, PHYSICAL)
    return [applier.feed_interactive(line).error for line in lines]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (("hostname sw2",), "hostname sw2"),
        (("interface GigabitEthernet1/0/1", "description new"), " description new"),
        (("int gi1/0/1", "sw acc vlan 20"), " switchport access vlan 20"),
        (
            ("interface Vlan10", "ip address 10.0.0.9 255.255.255.0"),
            " ip address 10.0.0.9 255.255.255.0",
        ),
    ],
    ids=["hostname", "description", "abbreviated", "ip-address"],
)
def test_single_valued_commands_replace(typed: tuple[str, ...], expected: str) -> None:
    tree = _tree()
    assert _typed(tree, *typed) == [""] * len(typed)
    lines = tree.flat_lines()
    assert expected in lines
    key = expected.split(maxsplit=1)[0] if not expected.startswith(" ip") else "ip address"
    assert sum(1 for line in lines if line.strip().startswith(key)) == (
        2 if key == "switchport" else 1
    )


def test_no_removes_a_line_and_a_section() -> None:
    tree = _tree()
    _typed(tree, "no ntp server 10.0.0.1", "no interface Vlan10", "interface Gi1/0/1", "no desc")
    lines = tree.flat_lines()
    assert not any(line.startswith("ntp server") for line in lines)
    assert "interface Vlan10" not in lines
    assert " description old" not in lines
    assert " ip address 10.0.0.1 255.255.255.0" not in lines


def test_no_of_a_default_on_feature_is_shown() -> None:
    tree = _tree()
    _typed(tree, "no ip http server", "interface Vlan10", "no ip address")
    lines = tree.flat_lines()
    assert "no ip http server" in lines
    assert " no ip address" in lines
    _typed(tree, "interface Vlan10", "ip address 10.1.1.1 255.255.255.0")
    assert " no ip address" not in tree.flat_lines()


def test_global_command_typed_in_a_submode_leaves_it() -> None:
    tree = _tree()
    applier = ConfigApplier(tree, PHYSICAL)
    applier.feed_interactive("interface GigabitEthernet1/0/1")
    assert applier.mode == "config-if"
    applier.feed_interactive("ntp server 10.0.0.5")
    assert applier.mode == "config"
    assert "ntp server 10.0.0.5" in tree.flat_lines()
    assert tree.find("interface GigabitEthernet1/0/1", "ntp server 10.0.0.5") is None


def test_nested_modes_and_exit() -> None:
    tree = _tree()
    applier = ConfigApplier(tree, PHYSICAL)
    modes = []
    for line in ("archive", "log config", "logging enable", "exit", "path flash:arc", "exit"):
        applier.feed_interactive(line)
        modes.append(applier.mode)
    assert modes == [
        "config-archive",
        "config-archive-log-cfg",
        "config-archive-log-cfg",
        "config-archive",
        "config-archive",
        "config",
    ]
    assert tree.find("archive", "log config", "logging enable") is not None
    assert tree.find("archive", "path flash:arc") is not None


def test_invalid_and_incomplete_commands() -> None:
    tree = _tree()
    before = tree.flat_lines()
    assert _typed(tree, "frobnicate now", "hostname", "interface GigabitEthernet7/0/7") == [
        "invalid",
        "incomplete",
        "invalid",
    ]
    assert tree.flat_lines() == before


def test_multiline_banner() -> None:
    tree = _tree()
    applier = ConfigApplier(tree, PHYSICAL)
    start = applier.feed_interactive("banner motd #")
    assert "End with the character '#'" in start.message
    applier.feed_interactive("Authorised access only")
    applier.feed_interactive("#")
    banner = tree.top_starting("banner motd")
    assert banner[0].text == "banner motd ^C\nAuthorised access only\n^C"
    again = ConfigTree.build(tree.render_body(), PHYSICAL)
    assert again.flat_lines() == tree.flat_lines()


def test_render_round_trips() -> None:
    tree = _tree()
    body = tree.render_body()
    assert body.endswith("end\n")
    assert "!\ninterface GigabitEthernet1/0/1\n description old\n" in body
    assert ConfigTree.build(body, PHYSICAL).flat_lines() == tree.flat_lines()


def test_contextual_diff_in_ios_format() -> None:
    old = _tree()
    new = _tree()
    _typed(new, "interface Gi1/0/1", "description new", "exit", "no ntp server 10.0.0.1")
    _typed(new, "interface Loopback1", "description lo")
    diff = contextual_diff(old, new).splitlines()
    assert diff[0] == "!Contextual Config Diffs:"
    assert "interface GigabitEthernet1/0/1" in diff
    assert " +description new" in diff
    assert " -description old" in diff
    assert "+interface Loopback1" in diff
    assert " +description lo" in diff
    assert "-ntp server 10.0.0.1" in diff
    assert contextual_diff(old, old) == "!Contextual Config Diffs:\n!No changes were found\n"


def test_incremental_diff_lists_only_changing_lines() -> None:
    merge = "interface GigabitEthernet1/0/1\n description old\n shutdown\nntp server 10.0.0.1\n"
    merge += "ntp server 10.0.0.7\nend\n"
    diff = incremental_diff(_tree(), merge, PHYSICAL)
    assert diff.splitlines() == [
        "!List of Commands:",
        "interface GigabitEthernet1/0/1",
        " shutdown",
        "ntp server 10.0.0.7",
        "end",
    ]
    unchanged = incremental_diff(_tree(), "ntp server 10.0.0.1\n", PHYSICAL)
    assert unchanged == "!List of Commands:\nend\n!No changes were found\n"


@pytest.mark.parametrize(
    ("typed", "full"),
    [
        ("gi1/0/1", "GigabitEthernet1/0/1"),
        ("Te1/1/2", "TenGigabitEthernet1/1/2"),
        ("lo0", "Loopback0"),
        ("vlan 10", "Vlan10"),
        ("po3", "Port-channel3"),
    ],
)
def test_interface_names(typed: str, full: str) -> None:
    assert interface_name(typed) == full


def test_keyword_expansion() -> None:
    assert expand_config_words(["sw", "mo", "acc"], "config-if") == [
        "switchport",
        "mode",
        "access",
    ]
    assert expand_config_words(["no", "shut"], "config-if") == ["no", "shutdown"]
    assert expand_config_words(["file", "pr", "q"], "config") == ["file", "prompt", "quiet"]
