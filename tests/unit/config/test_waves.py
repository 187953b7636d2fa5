"""The rollout order (netwarden.config.waves): the canary is a field office's access switch."""

from __future__ import annotations

from pathlib import Path

import pytest

from netwarden.config.apply import ApplyOptions, rollout_waves, split_waves
from netwarden.config.waves import alone_last_names, blast_radius, rollout_order
from netwarden.inventory import Inventory, load_inventory
from netwarden.inventory.generate import generate
from netwarden.inventory.models import SiteRole
from netwarden.render import select_devices

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def example() -> Inventory:
    return load_inventory(REPO / "inventory")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    out = tmp_path_factory.mktemp("generated") / "inventory"
    generate(out, 3)
    return load_inventory(out)


def _names(inv: Inventory) -> list[str]:
    return [d.name for d in rollout_order(inv, select_devices(inv))]


def test_example_canary_is_a_field_access_switch_and_hq_core_goes_last(
    example: Inventory,
) -> None:
    assert _names(example) == [
        "bru-acc-sw1",
        "gva-acc-sw1",
        "gva-acc-sw2",
        "kbl-acc-sw1",
        "nyc-acc-sw1",
        "nyc-acc-sw2",
        "jed-acc-sw1",
        "jed-acc-sw2",
        "jed-core-sw1",
        "jed-core-sw2",
    ]


def test_generated_canary_is_the_first_field_office_access_switch(generated: Inventory) -> None:
    names = _names(generated)
    assert names[0] == "fo001-acc-sw1"
    hq = {d.name for d in generated.devices.values() if generated.site_of(d).role is SiteRole.HQ}
    first_hq = min(i for i, name in enumerate(names) if name in hq)
    assert set(names[first_hq:]) == hq & set(names)  # every field office before HQ
    assert names[-2:] == ["jed-core-sw1", "jed-core-sw2"]


def test_order_does_not_depend_on_the_order_given(example: Inventory) -> None:
    devices = select_devices(example)
    assert rollout_order(example, reversed(devices)) == rollout_order(example, devices)


def test_cli_canary_wave_is_the_first_in_rollout_order(example: Inventory) -> None:
    ordered = rollout_order(example, select_devices(example))
    canary, rest = split_waves(ordered, ApplyOptions(canary=1))
    assert [d.name for d in canary] == ["bru-acc-sw1"]
    assert len(rest) == len(ordered) - 1
    by_site, _ = split_waves(ordered, ApplyOptions(canary_site="jed"))
    assert [d.name for d in by_site] == [
        "jed-acc-sw1",
        "jed-acc-sw2",
        "jed-core-sw1",
        "jed-core-sw2",
    ]


@pytest.mark.parametrize(
    ("at_hq", "role", "expected"),
    [
        (False, "access", 0),
        (False, "", 1),
        (False, "Distribution", 1),
        (False, "core", 2),
        (True, "ACCESS", 3),
        (True, "distribution", 4),
        (True, "core", 5),
    ],
    ids=[
        "field-access",
        "field-norole",
        "field-other",
        "field-core",
        "hq-access",
        "hq-other",
        "hq-core",
    ],
)
def test_blast_radius(at_hq: bool, role: str, expected: int) -> None:
    assert blast_radius(at_hq, role) == expected


def test_hq_firewalls_go_last_alone_after_every_other_device(example: Inventory) -> None:
    everything = list(example.devices.values())
    ordered = rollout_order(example, everything)
    last = alone_last_names(example, everything)
    assert last == {"jed-fw1"}  # the example's only HQ firewall; field firewalls are not
    assert ordered[-1].name == "jed-fw1"
    waves = rollout_waves(ordered, ApplyOptions(canary=1, alone_last=last))
    assert [[d.name for d in w] for w in waves[::2]] == [[ordered[0].name], ["jed-fw1"]]
    assert len(waves) == 3
    assert "jed-fw1" not in {d.name for d in waves[1]}
    assert {d.name for d in waves[1]} >= {"nyc-fw1", "jed-core-sw2", "jed-mon1"}


def test_hq_firewalls_are_never_in_the_canary_wave(example: Inventory) -> None:
    everything = list(example.devices.values())
    ordered = rollout_order(example, everything)
    options = ApplyOptions(canary_site="jed", alone_last=alone_last_names(example, everything))
    canary, rest = split_waves(ordered, options)
    assert canary
    assert all(d.site == "jed" for d in canary)
    assert "jed-fw1" not in {d.name for d in [*canary, *rest]}
    waves = rollout_waves(ordered, options)
    assert [d.name for d in waves[-1]] == ["jed-fw1"]


def test_two_hq_firewalls_are_two_waves_of_one() -> None:
    from types import SimpleNamespace

    devices = [SimpleNamespace(name=n, site="s") for n in ("sw1", "fw-a", "fw-b")]
    options = ApplyOptions(canary=1, alone_last=frozenset({"fw-a", "fw-b"}))
    waves = rollout_waves(devices, options)  # type: ignore[arg-type]
    assert [[d.name for d in w] for w in waves] == [["sw1"], ["fw-a"], ["fw-b"]]
