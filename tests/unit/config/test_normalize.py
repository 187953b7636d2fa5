"""Normalisation: what plan, apply and drift ignore, and which order does not matter.

``tests/data/config/normalize/<case>/{running,intended}.cfg`` are pairs that mean
the same config (e.g. the simulator's ``show running-config`` after an apply and
the rendered template): they must be canonical-equal and need no remediation.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netwarden.config.drift import unified
from netwarden.config.plan import remediation
from netwarden.ios.normalize import IGNORED_LINES, canonical, filter_device_diff, ignored

DATA = Path(__file__).resolve().parents[2] / "data" / "config" / "normalize"
PAIRS = sorted(p for p in DATA.iterdir() if p.is_dir())


@pytest.mark.parametrize("case", PAIRS, ids=[p.name for p in PAIRS])
def test_equivalent_configs_are_canonical_equal(case: Path) -> None:
    running = (case / "running.cfg").read_text(encoding="utf-8")
    intended = (case / "intended.cfg").read_text(encoding="utf-8")
    assert running != intended
    assert canonical(running) == canonical(intended)
    assert remediation(running, intended) == ()
    assert unified(intended, running, "intended", "running") == ""


BASE = "hostname sw1\ninterface Vlan10\n description mgmt\n ip address 10.0.0.2 255.255.255.0\n"


@pytest.mark.parametrize(
    "noise",
    [
        "snmp-server user nw-monitor NW-RO v3 encrypted auth sha 00:11 priv aes 128 22:33\n",
        "file prompt quiet\n",
        "ntp clock-period 36028797018963968\n",
        "version 15.2\nboot-start-marker\nboot-end-marker\n",
        (
            "Building configuration...\n\nCurrent configuration : 123 bytes\n!\n"
            "! Last configuration change at 10:00:00 UTC Fri Mar 1 2024 by netwarden\n"
        ),
    ],
    ids=["snmp-user", "file-prompt", "ntp-clock-period", "ios-markers", "headers"],
)
def test_ignored_lines_do_not_count(noise: str) -> None:
    assert canonical(noise + BASE) == canonical(BASE)
    assert remediation(noise + BASE, BASE) == ()
    assert remediation(BASE, noise + BASE) == ()


def test_every_ignored_line_has_a_reason() -> None:
    assert all(reason for _pattern, reason in IGNORED_LINES)
    assert ignored("snmp-server user u g v3")
    assert not ignored("snmp-server group NW-RO v3 priv")
    assert not ignored(" file prompt quiet")  # only top-level lines are ignored


def test_order_of_blocks_and_interface_lines_does_not_matter() -> None:
    a = "hostname a\nntp server 10.0.0.1\ninterface Gi1/0/1\n description x\n shutdown\n"
    b = "interface Gi1/0/1\n shutdown\n description x\nntp server 10.0.0.1\nhostname a\n"
    assert canonical(a) == canonical(b)


def test_order_inside_an_acl_matters() -> None:
    a = "ip access-list extended X\n permit ip any host 10.0.0.1\n deny ip any any\n"
    b = "ip access-list extended X\n deny ip any any\n permit ip any host 10.0.0.1\n"
    assert canonical(a) != canonical(b)


def test_numbered_acl_entries_keep_their_order() -> None:
    a = "access-list 10 permit 10.0.0.1\naccess-list 10 deny any\nhostname a\n"
    b = "hostname a\naccess-list 10 deny any\naccess-list 10 permit 10.0.0.1\n"
    assert canonical(a) != canonical(b)
    assert canonical(a) == canonical("hostname a\n" + a.replace("hostname a\n", ""))


def test_a_banner_is_one_block() -> None:
    text = "banner motd ^C\nline one\n\nline two\n^C\nhostname a\n"
    assert canonical(text).splitlines()[0] == "banner motd ^C"
    assert "hostname a" in canonical(text).splitlines()


def test_device_diff_filter_drops_only_ignored_lines() -> None:
    diff = "!Contextual Config Diffs:\n+snmp-server user u g v3 auth sha x\n+ntp server 10.0.0.9\ninterface Vlan10\n +description x\n-file prompt quiet"
    assert filter_device_diff(diff) == "+ntp server 10.0.0.9\ninterface Vlan10\n +description x"


def test_a_real_change_shows_as_exactly_that_line() -> None:
    changed = BASE + "ntp server 10.9.9.9\n"
    diff = unified(BASE, changed, "intended", "running")
    assert [ln for ln in diff.splitlines() if ln[:1] in "+-" and ln[:3] not in ("+++", "---")] == [
        "+ntp server 10.9.9.9"
    ]
