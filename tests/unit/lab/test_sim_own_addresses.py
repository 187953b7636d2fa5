"""The simulator's own-address mode: inventory addresses on port 22, refused in the host's namespace."""

from __future__ import annotations

from pathlib import Path

import pytest

from netwarden.lab.sim.fleet import (
    Credentials,
    SimFleet,
    in_host_netns,
    run_sim,
    specs_from_inventory,
)
from netwarden.lab.sim.specs import specs_from_json, specs_to_json


def test_specs_on_their_management_addresses_for_one_site(example_inventory: Path) -> None:
    specs = specs_from_inventory(
        example_inventory, Credentials.generate(), own_addresses=True, sites={"gva"}
    )
    assert {(s.name, s.address, s.port) for s in specs} == {
        ("gva-acc-sw1", "10.12.10.21", 22),
        ("gva-acc-sw2", "10.12.10.22", 22),
    }
    assert specs_from_json(specs_to_json(specs)) == specs  # what the site's process reads


def test_default_mode_unchanged(example_inventory: Path) -> None:
    specs = specs_from_inventory(example_inventory, Credentials.generate())
    assert {(s.address, s.port) for s in specs} == {("127.0.0.1", 0)}


def test_refused_in_the_host_network_namespace(example_inventory: Path, tmp_path: Path) -> None:
    if not in_host_netns():
        pytest.skip("this test runs in a network namespace of its own")
    specs = specs_from_inventory(example_inventory, Credentials.generate(), own_addresses=True,
                                 sites={"bru"})  # fmt: skip
    with pytest.raises(ValueError, match="only inside a lab network namespace"):
        SimFleet(specs, own_addresses=True).start()
    with pytest.raises(ValueError, match="only inside a lab network namespace"):
        run_sim(inventory=example_inventory, out=tmp_path / "lab", own_addresses=True)
