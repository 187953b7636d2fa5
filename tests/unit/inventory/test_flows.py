"""The flow policy as decisions on addresses of the example inventory."""

from __future__ import annotations

from pathlib import Path

import pytest

from netwarden.inventory import load_inventory
from netwarden.inventory.flows import FlowPolicyEngine
from netwarden.inventory.models import Protocol

TCP, UDP = Protocol.TCP, Protocol.UDP

# Example plan: jed=10, nyc=11, gva=12, bru=13, kbl=14; VLAN = third octet.
CASES = [
    ("staff-nyc-to-hq-docs", "10.11.30.50", "10.10.20.16", TCP, 443, True, "staff-hq-services"),
    ("guests-nyc-to-hq-smb", "10.11.40.50", "10.10.20.16", TCP, 445, False, "default deny"),
    ("guests-to-internet-https", "10.11.40.50", "93.184.216.34", TCP, 443, True, "guests-internet"),
    ("guests-to-internet-ssh", "10.11.40.50", "93.184.216.34", TCP, 22, False, "default deny"),
    ("mgmt-nyc-to-mgmt-gva-ssh", "10.11.10.21", "10.12.10.21", TCP, 22, False, "default deny"),
    ("mgmt-hq-to-mgmt-kbl-ssh", "10.10.10.150", "10.14.10.21", TCP, 22, True, "mgmt-devices"),
    ("partners-to-dmz-https", "10.10.70.20", "10.10.60.10", TCP, 443, True, "partners-dmz"),
    ("partners-to-servers", "10.10.70.20", "10.10.20.10", TCP, 636, False, "default deny"),
    ("staff-local-smb", "10.11.30.9", "10.11.20.10", TCP, 445, True, "staff-local-servers"),
    ("staff-other-site-smb", "10.11.30.9", "10.12.20.10", TCP, 445, False, "default deny"),
    ("voice-rtp-range", "10.13.50.5", "10.14.50.5", UDP, 20000, True, "voice-media"),
    ("same-zone-same-site", "10.11.30.9", "10.11.30.10", TCP, 3389, True, "same zone"),
    ("same-zone-other-site", "10.11.30.9", "10.12.30.10", TCP, 3389, False, "default deny"),
    ("unplanned-private", "10.99.0.1", "10.10.20.10", TCP, 443, False, "outside the inventory"),
]


@pytest.fixture(scope="module")
def engine(example_inventory: Path) -> FlowPolicyEngine:
    return FlowPolicyEngine(load_inventory(example_inventory))


@pytest.mark.parametrize(
    ("src", "dst", "proto", "port", "allowed", "reason"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_decisions(
    engine: FlowPolicyEngine,
    src: str,
    dst: str,
    proto: Protocol,
    port: int,
    allowed: bool,
    reason: str,
) -> None:
    decision = engine.decide(src, dst, proto, port)
    assert decision.allowed is allowed, decision
    assert reason in decision.reason


def test_placement_longest_prefix(engine: FlowPolicyEngine) -> None:
    assert engine.place("10.11.31.200").label == "nyc/staff"  # staff is a /23
    assert engine.place("8.8.8.8").label == "internet"
    assert engine.place("192.168.1.1").label == "unknown"
