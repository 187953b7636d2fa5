"""``FlowPolicyEngine.place_many``: the vectorised ``place`` agrees with it, address by address."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

import numpy as np
import pytest

from netwarden.inventory import load_inventory
from netwarden.inventory.flows import FlowPolicyEngine

EDGES = [
    "0.0.0.0",  # noqa: S104  (an address to place, not one to bind)
    "255.255.255.255",
    "127.0.0.1",  # loopback: unknown
    "169.254.1.1",  # link-local: unknown
    "172.16.0.1",  # private, unplanned: unknown
    "192.168.1.1",
    "100.64.0.1",
    "10.99.0.1",
    "93.184.216.34",  # internet
    "10.11.30.0",  # network address of nyc/staff
    "10.11.31.255",  # broadcast of the /23
    "10.11.10.1",  # a gateway
    "10.10.70.20",  # jed/partners
]


@pytest.fixture(scope="module")
def engine(example_inventory: Path) -> FlowPolicyEngine:
    return FlowPolicyEngine(load_inventory(example_inventory))


def _addresses() -> np.ndarray:
    rng = np.random.default_rng(5)
    return np.concatenate(
        [
            np.array([int(IPv4Address(a)) for a in EDGES], dtype=np.uint32),
            rng.integers(0, 2**32, 3000, dtype=np.uint64).astype(np.uint32),
            (0x0A000000 + rng.integers(0, 2**24, 3000)).astype(np.uint32),  # 10/8
            (0x0A0A0000 + rng.integers(0, 5 * 2**16, 3000)).astype(np.uint32),  # the sites
        ]
    )


def test_place_many_agrees_with_place(engine: FlowPolicyEngine) -> None:
    addrs = _addresses()
    sites, zones = engine.place_many(addrs)
    assert sites.shape == zones.shape == addrs.shape
    for a, s, z in zip(addrs.tolist(), sites.tolist(), zones.tolist(), strict=True):
        assert engine.placement(s, z) == engine.place(IPv4Address(a)), IPv4Address(a)


def test_place_many_indices(engine: FlowPolicyEngine) -> None:
    sites, zones = engine.place_many(
        np.array([int(IPv4Address(a)) for a in ("10.11.20.5", "8.8.8.8", "10.99.0.1")], np.uint32)
    )
    assert engine.site_list[sites[0]].name == "nyc"
    assert engine.zone_names[zones[0]] == "servers"
    assert sites[1] == -1
    assert engine.zone_names[zones[1]] == "internet"
    assert (sites[2], zones[2]) == (-1, -1)


def test_place_many_empty(engine: FlowPolicyEngine) -> None:
    sites, zones = engine.place_many(np.empty(0, dtype=np.uint32))
    assert len(sites) == len(zones) == 0
