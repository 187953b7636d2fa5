"""ping_sweep: scapy-built ICMP echo sweeps, and the look-alikes that must stay quiet
(answered pings, a few pings, a monitoring system pinging the inventory's devices)."""

from __future__ import annotations

from pathlib import Path

from scapy.layers.inet import ICMP, IP, IPerror
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from collectors.auditor.events import Severity
from netwarden.inventory.models import Inventory
from tests.unit.auditor.auditor_helpers import T0, at, of, run_engine

SWEEPER = "10.11.40.70"
MONITOR = "10.10.10.106"  # jed-mon1: provides prometheus-federate in the example inventory
A_MAC, B_MAC = "02:00:00:00:00:0a", "02:00:00:00:00:0b"  # explicit: scapy would ARP for them


def _icmp(src: str, dst: str, icmp_type: int, seq: int, t: float) -> Packet:
    return at(
        Ether(src=A_MAC, dst=B_MAC) / IP(src=src, dst=dst) / ICMP(type=icmp_type, id=7, seq=seq), t
    )


def _sweep(
    count: int, *, src: str = SWEEPER, net: str = "10.11.30", answered: int = 0
) -> list[Packet]:
    """Echo requests to ``count`` addresses of a /24, 10 ms apart (fping's pace); the first
    ``answered`` addresses reply."""
    pkts = []
    for k in range(count):
        dst, t = f"{net}.{k + 2}", T0 + k * 0.01
        pkts.append(_icmp(src, dst, 8, k, t))
        if k < answered:
            pkts.append(_icmp(dst, src, 0, k, t + 0.002))
    return pkts


def test_an_unanswered_ping_sweep_is_reported_high(tmp_path: Path) -> None:
    events = run_engine(tmp_path, _sweep(120, answered=15))
    found = of(events, "ping_sweep")
    assert [(e.src, e.count, e.severity) for e in found] == [(SWEEPER, 105, Severity.HIGH)]
    assert found[0].evidence["hosts_sample"][0] == "10.11.30.17"  # the first silent address
    assert of(events, "address_scan") == []
    assert of(events, "udp_sweep") == []


def test_a_sweep_every_host_answers_and_a_few_pings_are_quiet(tmp_path: Path) -> None:
    assert of(run_engine(tmp_path, _sweep(100, answered=100)), "ping_sweep") == []
    assert of(run_engine(tmp_path, _sweep(24), name="b.pcap"), "ping_sweep") == []  # < 25
    found = of(run_engine(tmp_path, _sweep(30), name="c.pcap"), "ping_sweep")
    assert [(e.count, e.severity) for e in found] == [(30, Severity.MEDIUM)]


def test_a_routers_unreachable_is_not_the_host_answering(tmp_path: Path) -> None:
    pkts = _sweep(40)
    for k in range(40):  # the gateway says "host unreachable" for each unused address
        quoted = IPerror(src=SWEEPER, dst=f"10.11.30.{k + 2}") / ICMP(type=8, id=7, seq=k)
        pkts.append(
            at(
                Ether(src=B_MAC, dst=A_MAC)
                / IP(src="10.11.30.1", dst=SWEEPER)
                / ICMP(type=3, code=1)
                / quoted,
                T0 + k * 0.01 + 1.0,
            )
        )
    found = of(run_engine(tmp_path, pkts), "ping_sweep")
    assert [e.count for e in found] == [40]


def test_monitoring_pinging_the_inventory_is_quiet_but_not_beyond_it(
    tmp_path: Path, inv: Inventory
) -> None:
    devices = sorted({str(a) for d in inv.devices.values() for _, a in d.addresses()})
    assert len(devices) >= 30
    pkts = [_icmp(MONITOR, dev, 8, k, T0 + k * 0.5) for k, dev in enumerate(devices)]
    assert run_engine(tmp_path, pkts, inventory=inv, site="nyc", only=["ping_sweep"]) == []
    # without the inventory the same pings are a silent sweep (it is what it looks like)
    events = run_engine(tmp_path, pkts, only=["ping_sweep"], name="b.pcap")
    assert [(e.src, e.count) for e in events] == [(MONITOR, len(devices))]
    outside = _sweep(40, src=MONITOR, net="192.0.2")
    events = run_engine(
        tmp_path, outside, inventory=inv, site="nyc", only=["ping_sweep"], name="c.pcap"
    )
    assert [(e.src, e.count) for e in events] == [(MONITOR, 40)]
