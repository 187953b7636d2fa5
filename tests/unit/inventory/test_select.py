"""``--limit``: one grammar for ``netwarden render``/``plan``/``apply`` and ``netwarden audit``."""

from __future__ import annotations

from pathlib import Path

import pytest

from netwarden.compliance.engine import Engine
from netwarden.inventory import load_inventory
from netwarden.inventory.models import Inventory, Platform
from netwarden.inventory.select import limit_terms, select, selects
from netwarden.render import select_devices

JED = {
    "jed-fw1",
    "jed-core-sw1",
    "jed-core-sw2",
    "jed-acc-sw1",
    "jed-acc-sw2",
    "jed-aaa1",
    "jed-log1",
    "jed-ntp1",
    "jed-ntp2",
    "jed-dns1",
    "jed-mon1",
    "jed-file1",
    "jed-web1",
    "jed-sensor1",
}
NYC = {"nyc-fw1", "nyc-acc-sw1", "nyc-acc-sw2", "nyc-srv1", "nyc-sensor1"}
GVA = {"gva-fw1", "gva-acc-sw1", "gva-acc-sw2", "gva-srv1", "gva-sensor1"}
BRU = {"bru-fw1", "bru-acc-sw1", "bru-srv1", "bru-sensor1"}
KBL = {"kbl-fw1", "kbl-acc-sw1", "kbl-srv1", "kbl-sensor1"}
ALL = JED | NYC | GVA | BRU | KBL
SWITCHES = {n for n in ALL if "-sw" in n}
FIREWALLS = {n for n in ALL if n.endswith("-fw1")}
SENSORS = {n for n in ALL if n.endswith("-sensor1")}
SERVERS = ALL - SWITCHES - FIREWALLS - SENSORS

# limit -> every device it selects in the example inventory (render keeps the ios ones).
# Each limit either command accepted before keeps what it selected there; the union is new
# only where one side selected nothing (hq/field_offices in the audit, switch in render).
LIMITS: dict[str, set[str]] = {
    # device names and globs (both, before)
    "jed-fw1": {"jed-fw1"},
    "*core*": {"jed-core-sw1", "jed-core-sw2"},
    "jed-*": JED,
    "kbl-acc-sw1,nyc-*": {"kbl-acc-sw1"} | NYC,
    "[gk]*": GVA | KBL,
    "*": ALL,
    # site names and site groups (both, before)
    "jed": JED,
    "gva": GVA,
    " gva , ": GVA,
    "site_bru": BRU,
    "site_jed": JED,
    # site globs (audit, before)
    "je?": JED,
    "b?u": BRU,
    "*d": JED,
    # hq / field_offices (render, before; the audit selected nothing)
    "hq": JED,
    "field_offices": ALL - JED,
    "nyc-*, hq": NYC | JED,
    # function groups (both, before) and functions (audit, before)
    "switches": SWITCHES,
    "switch": SWITCHES,
    "firewalls": FIREWALLS,
    "firewall": FIREWALLS,
    "servers": SERVERS,
    "server": SERVERS,
    "sensors": SENSORS,
    "sensor": SENSORS,
    "gva,firewalls": GVA | FIREWALLS,
    # selecting nothing, in both, before and now:
    ",": set(),
    "site_*": set(),
    "JED": set(),
    "nosuch-sw9": set(),
}


@pytest.fixture(scope="module")
def example(example_inventory: Path) -> Inventory:
    return load_inventory(example_inventory)


def test_the_example_inventory_is_the_one_the_table_describes(example: Inventory) -> None:
    assert set(example.devices) == ALL
    assert {n for n, d in example.devices.items() if d.platform is Platform.IOS} == SWITCHES


@pytest.mark.parametrize(("limit", "expected"), LIMITS.items(), ids=list(LIMITS))
def test_render_and_audit_select_the_same_devices(
    example: Inventory, limit: str, expected: set[str]
) -> None:
    engine = Engine(inventory=example)
    audited = {n for n in example.devices if engine.selected(n, limit)}
    rendered = {d.name for d in select_devices(example, limit)}
    assert audited == expected
    assert rendered == expected & SWITCHES
    assert {d.name for d in select(example, limit)} == expected


def test_no_limit_selects_everything(example: Inventory) -> None:
    assert [d.name for d in select(example, None)] == sorted(ALL)
    assert [d.name for d in select(example, "")] == sorted(ALL)
    assert [d.name for d in select_devices(example)] == sorted(SWITCHES)


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        ("jed-*", JED),
        ("*core*", {"jed-core-sw1", "jed-core-sw2"}),
        ("jed-fw1,nyc-srv1", {"jed-fw1", "nyc-srv1"}),
        ("jed", set()),
        ("hq", set()),
        ("switches", set()),
        ("switch", set()),
        ("site_jed", set()),
    ],
)
def test_without_an_inventory_only_names_and_globs_apply(limit: str, expected: set[str]) -> None:
    engine = Engine()
    assert {n for n in ALL if engine.selected(n, limit)} == expected
    assert {n for n in ALL if selects(n, limit)} == expected


def test_a_config_the_inventory_does_not_know_matches_by_name_only(example: Inventory) -> None:
    engine = Engine(inventory=example)
    assert engine.selected("lab-sw9", "lab-*")
    assert not engine.selected("lab-sw9", "switches")
    assert not engine.selected("lab-sw9", "hq")


def test_limit_terms() -> None:
    assert limit_terms(" a, ,b,,c ") == ["a", "b", "c"]
    assert limit_terms(",") == []
