"""A cable declared at one end only is a warning of ``inventory check``, not a failure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from netwarden.cli.app import EXIT_OK, app
from netwarden.inventory import read_inventory
from netwarden.inventory.checks import inventory_warnings
from netwarden.inventory.problems import Problem

runner = CliRunner()


def _edit(root: Path, device: str, change: Any) -> None:
    path = root / "host_vars" / f"{device}.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data["interfaces"])
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def _warnings(root: Path) -> list[Problem]:
    inv, problems = read_inventory(root)
    assert problems == []  # a warning never makes the inventory invalid
    assert inv is not None
    return inventory_warnings(inv)


def test_generated_and_example_inventories_declare_every_cable_twice(
    base_inventory: Path, example_inventory: Path
) -> None:
    assert _warnings(base_inventory) == []
    assert _warnings(example_inventory) == []


def test_an_uplink_missing_at_the_far_end_is_named_with_its_line(inventory_copy: Path) -> None:
    # jed-acc-sw1 forgets its second uplink: jed-core-sw2's port towards it is one-sided
    _edit(inventory_copy, "jed-acc-sw1", lambda itfs: itfs.remove(
        next(i for i in itfs if i.get("peer") == "jed-core-sw2")))  # fmt: skip
    found = _warnings(inventory_copy)
    assert len(found) == 1
    warning = found[0]
    assert warning.file.endswith("host_vars/jed-core-sw2.yml")
    assert warning.line > 0
    core = yaml.safe_load((inventory_copy / "host_vars" / "jed-core-sw2.yml").read_text())
    index = next(n for n, i in enumerate(core["interfaces"]) if i.get("peer") == "jed-acc-sw1")
    assert warning.key == f"interfaces[{index}].peer"
    assert "TenGigabitEthernet1/0/2 to jed-acc-sw1 is declared on this side only" in warning.message
    assert "peer: jed-core-sw2" in warning.message
    assert "jed-acc-sw1.yml" in warning.message


def test_more_cables_on_one_side_than_the_other(inventory_copy: Path) -> None:
    _edit(inventory_copy, "jed-core-sw1", lambda itfs: itfs.insert(3, {
        "name": "TenGigabitEthernet1/0/9", "mode": "trunk", "peer": "jed-acc-sw1"}))  # fmt: skip
    found = _warnings(inventory_copy)
    assert [(Path(w.file).name, w.key) for w in found] == [
        ("jed-core-sw1.yml", "interfaces[3].peer")
    ]
    assert (
        "its interfaces with peer: jed-core-sw1 (GigabitEthernet1/1/1) are fewer"
        in found[0].message
    )


def test_cables_to_hosts_that_describe_no_cabling_are_not_warned(inventory_copy: Path) -> None:
    # field office switches uplink to their firewall, whose interfaces are per zone
    inv, _ = read_inventory(inventory_copy)
    assert inv is not None
    assert inv.devices["fo001-acc-sw1"].interfaces[7].peer == "fo001-fw1"
    assert inventory_warnings(inv) == []
    # once the firewall describes a cable, it must describe this one too
    _edit(inventory_copy, "fo001-fw1", lambda itfs: itfs.append({
        "name": "lan9", "mode": "trunk", "peer": "fo002-acc-sw1"}))  # fmt: skip
    names = {w.message.split(" is declared")[0] for w in _warnings(inventory_copy)}
    assert "the cable from fo001-acc-sw1 GigabitEthernet1/1/1 to fo001-fw1" in names
    assert "the cable from fo001-fw1 lan9 to fo002-acc-sw1" in names


def test_check_prints_warnings_and_still_exits_0(inventory_copy: Path) -> None:
    _edit(inventory_copy, "jed-acc-sw2", lambda itfs: itfs.remove(
        next(i for i in itfs if i.get("peer") == "jed-core-sw2")))  # fmt: skip
    result = runner.invoke(app, ["inventory", "check", "-i", str(inventory_copy)])
    assert result.exit_code == EXIT_OK, result.output
    assert "warning: " in result.output
    assert "jed-core-sw2 TenGigabitEthernet1/0/3 to jed-acc-sw2" in result.output
    assert "1 warning(s)" in result.output
    result = runner.invoke(app, ["inventory", "check", "-i", str(inventory_copy), "--json"])
    assert result.exit_code == EXIT_OK
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert [w["key"] for w in report["warnings"]] == ["interfaces[2].peer"]
