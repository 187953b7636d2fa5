"""udp_sweep and arp_sweep: scapy-built sweeps, and the look-alikes that must stay quiet."""

from __future__ import annotations

from pathlib import Path

from scapy.layers.inet import ICMP, IP, UDP, IPerror, UDPerror
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Raw

from collectors.auditor.config import parse_auditor_config
from collectors.auditor.events import Severity
from netwarden.inventory.models import Inventory
from tests.unit.auditor.auditor_helpers import T0, at, of, run_engine

SWEEPER, SWEEPER_MAC = "10.11.40.66", "02:00:00:11:40:66"
A_MAC, B_MAC = "02:00:00:00:00:0a", "02:00:00:00:00:0b"  # explicit: scapy would ARP for them
MONITOR = "10.10.10.106"  # jed-mon1: provides prometheus-federate in the example inventory


def _udp(src: str, dst: str, sport: int, dport: int, t: float, body: bytes = b"x" * 40) -> Packet:
    return at(
        Ether(src=A_MAC, dst=B_MAC)
        / IP(src=src, dst=dst)
        / UDP(sport=sport, dport=dport)
        / Raw(body),
        t,
    )


def _udp_sweep(
    count: int, dport: int = 161, src: str = SWEEPER, net: str = "10.11.30"
) -> list[Packet]:
    """One datagram a second to ``count`` addresses of a /24, nothing answers."""
    return [_udp(src, f"{net}.{k + 2}", 50000, dport, T0 + k) for k in range(count)]


def _device_addresses(inv: Inventory) -> list[str]:
    return sorted({str(a) for d in inv.devices.values() for _, a in d.addresses()})


def test_silent_udp_sweep_is_reported_high(tmp_path: Path) -> None:
    events = run_engine(tmp_path, _udp_sweep(100))
    sweeps = of(events, "udp_sweep")
    assert len(sweeps) == 1
    ev = sweeps[0]
    assert (ev.src, ev.count, ev.severity) == (SWEEPER, 100, Severity.HIGH)
    assert ev.evidence["port"] == "udp/161"
    assert ev.evidence["hosts_sample"][:2] == ["10.11.30.2", "10.11.30.3"]
    assert of(events, "address_scan") == []  # nothing rejected it: address_scan cannot see it


def test_thirty_silent_hosts_are_medium_and_twenty_are_quiet(tmp_path: Path) -> None:
    events = of(run_engine(tmp_path, _udp_sweep(30, dport=123)), "udp_sweep")
    assert [(e.count, e.severity) for e in events] == [(30, Severity.MEDIUM)]
    assert of(run_engine(tmp_path, _udp_sweep(20), name="b.pcap"), "udp_sweep") == []


def test_answered_udp_is_not_a_sweep(tmp_path: Path) -> None:
    # a resolver-like source talking to 100 servers that all answer (DNS, NTP)
    pkts = []
    for k in range(100):
        server = f"10.11.30.{k + 2}"
        pkts.append(_udp(SWEEPER, server, 40000 + k, 53, T0 + k))
        pkts.append(_udp(server, SWEEPER, 53, 40000 + k, T0 + k + 0.02))
    assert of(run_engine(tmp_path, pkts), "udp_sweep") == []


def test_port_unreachable_means_the_host_exists(tmp_path: Path) -> None:
    pkts = []
    for k in range(40):
        victim = f"10.11.30.{k + 2}"
        probe = IP(src=SWEEPER, dst=victim) / UDP(sport=50000, dport=161)
        pkts.append(at(Ether(src=A_MAC, dst=B_MAC) / probe / Raw(b"x" * 20), T0 + k))
        err = IP(src=victim, dst=SWEEPER) / ICMP(type=3, code=3) / IPerror(bytes(probe)[:20])
        pkts.append(
            at(Ether(src=A_MAC, dst=B_MAC) / err / UDPerror(sport=50000, dport=161), T0 + k + 0.001)
        )
    events = run_engine(tmp_path, pkts)
    assert of(events, "udp_sweep") == []
    assert [e.src for e in of(events, "address_scan")] == [SWEEPER]  # rejected: address_scan's


def test_reply_seen_before_the_request_still_answers(tmp_path: Path) -> None:
    # a capture starting mid-conversation: each server speaks first, then the client
    pkts = []
    for k in range(40):
        server = f"10.11.30.{k + 2}"
        pkts.append(_udp(server, SWEEPER, 123, 123, T0 + k))
        pkts.append(_udp(SWEEPER, server, 123, 123, T0 + k + 3))
    assert of(run_engine(tmp_path, pkts), "udp_sweep") == []


def test_multicast_and_broadcast_discovery_is_not_a_sweep(tmp_path: Path) -> None:
    pkts = [_udp(SWEEPER, "239.255.255.250", 50000, 1900, T0 + k) for k in range(50)]
    pkts += [_udp(SWEEPER, "255.255.255.255", 68, 67, T0 + k) for k in range(50)]
    pkts += [_udp(SWEEPER, f"224.0.0.{k % 250 + 1}", 5353, 5353, T0 + k) for k in range(50)]
    assert of(run_engine(tmp_path, pkts), "udp_sweep") == []


def test_monitoring_server_polling_the_inventory_is_quiet(tmp_path: Path, inv: Inventory) -> None:
    devices = _device_addresses(inv)
    assert len(devices) >= 30
    pkts = []
    for k, dev in enumerate(devices):  # SNMP and NTP checks, every device silent
        pkts.append(_udp(MONITOR, dev, 40000, 161, T0 + k * 0.5))
        pkts.append(_udp(MONITOR, dev, 40001, 123, T0 + k * 0.5 + 0.1))
        pkts.append(
            at(
                Ether(src=A_MAC, dst=B_MAC) / IP(src=MONITOR, dst=dev) / ICMP(type=8),
                T0 + k * 0.5 + 0.2,
            )
        )
    events = run_engine(tmp_path, pkts, inventory=inv, site="nyc", only=["udp_sweep"])
    assert events == []
    # without the inventory the same polling is a silent sweep (it is what it looks like)
    events = run_engine(tmp_path, pkts, only=["udp_sweep"], name="b.pcap")
    assert {e.evidence["port"] for e in events} == {"udp/161", "udp/123"}


def test_monitoring_server_sweeping_outside_the_inventory_is_reported(
    tmp_path: Path, inv: Inventory
) -> None:
    pkts = _udp_sweep(40, src=MONITOR, net="192.0.2")
    events = run_engine(tmp_path, pkts, inventory=inv, site="nyc", only=["udp_sweep"])
    assert [(e.src, e.count) for e in events] == [(MONITOR, 40)]


def test_monitoring_hosts_setting_names_a_poller(tmp_path: Path, inv: Inventory) -> None:
    poller = "10.11.10.50"
    devices = _device_addresses(inv)
    pkts = [_udp(poller, dev, 40000, 161, T0 + k * 0.5) for k, dev in enumerate(devices)]
    config = parse_auditor_config(
        {"auditor": {"detectors": {"udp_sweep": {"monitoring_hosts": [poller]}}}}
    )
    quiet = run_engine(tmp_path, pkts, inventory=inv, site="nyc", config=config, only=["udp_sweep"])
    assert quiet == []
    events = run_engine(
        tmp_path, pkts, inventory=inv, site="nyc", only=["udp_sweep"], name="b.pcap"
    )
    assert [e.src for e in events] == [poller]


# ARP


def _who_has(spa: str, tpa: str, t: float, mac: str = SWEEPER_MAC) -> Packet:
    arp = ARP(op=1, hwsrc=mac, psrc=spa, pdst=tpa)
    return at(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / arp, t)


def _is_at(spa: str, mac: str, tpa: str, tmac: str, t: float) -> Packet:
    arp = ARP(op=2, hwsrc=mac, psrc=spa, hwdst=tmac, pdst=tpa)
    return at(Ether(src=mac, dst=tmac) / arp, t)


def test_arp_sweep_of_a_subnet(tmp_path: Path) -> None:
    pkts = [_who_has(SWEEPER, f"10.11.41.{k}", T0 + k * 0.01) for k in range(256)]
    for k in (1, 10, 20):  # three hosts live
        pkts.append(
            _is_at(
                f"10.11.41.{k}",
                f"02:00:00:00:41:{k:02x}",
                SWEEPER,
                SWEEPER_MAC,
                T0 + k * 0.01 + 0.001,
            )
        )
    events = of(run_engine(tmp_path, pkts), "arp_sweep")
    assert len(events) == 1
    ev = events[0]
    assert (ev.src, ev.count, ev.severity) == (SWEEPER, 253, Severity.HIGH)
    assert ev.evidence["answered"] == 3
    assert ev.evidence["mac"] == SWEEPER_MAC


def test_small_or_answered_arp_bursts_are_quiet(tmp_path: Path) -> None:
    pkts = [_who_has(SWEEPER, f"10.11.41.{k}", T0 + k * 0.01) for k in range(1, 21)]  # 20
    answered = "10.11.30.7"
    for k in range(1, 201):  # a host resolving 200 live neighbours: every one answers
        tpa = f"10.11.42.{k}"
        pkts.append(_who_has(answered, tpa, T0 + 10 + k * 0.01, mac="02:00:00:11:30:07"))
        pkts.append(
            _is_at(
                tpa,
                f"02:00:00:00:42:{k:02x}",
                answered,
                "02:00:00:11:30:07",
                T0 + 10 + k * 0.01 + 0.002,
            )
        )
    assert of(run_engine(tmp_path, pkts), "arp_sweep") == []


def test_dhcp_probes_and_gratuitous_arp_are_quiet(tmp_path: Path) -> None:
    pkts = []
    for c in range(60):  # 60 DHCP clients, each probing its offered address 3 times (RFC 5227)
        mac = f"02:00:00:00:99:{c:02x}"
        for k in range(3):
            pkts.append(_who_has("0.0.0.0", f"10.11.30.{100 + c}", T0 + c + k, mac=mac))  # noqa: S104
        # then announcing it (gratuitous ARP)
        pkts.append(_who_has(f"10.11.30.{100 + c}", f"10.11.30.{100 + c}", T0 + c + 3, mac=mac))
    assert of(run_engine(tmp_path, pkts), "arp_sweep") == []


def test_inventory_gateway_resolving_is_not_a_sweep(tmp_path: Path, inv: Inventory) -> None:
    gateway = "10.11.30.1"  # the nyc firewall: resolves what traffic is routed to
    pkts = [_who_has(gateway, f"10.11.30.{k}", T0 + k * 0.01) for k in range(2, 200)]
    assert of(run_engine(tmp_path, pkts, inventory=inv, site="nyc"), "arp_sweep") == []
    assert [e.src for e in of(run_engine(tmp_path, pkts, name="b.pcap"), "arp_sweep")] == [gateway]


def test_udp_sweep_slower_than_the_window_is_quiet(tmp_path: Path) -> None:
    # 30 hosts, one every 15 s: 450 s in all, at most 21 inside any 300 s window
    pkts = [_udp(SWEEPER, f"10.11.30.{k + 2}", 50000, 161, T0 + k * 15) for k in range(30)]
    # a busy later hour ends the capture: judged long after, the sweep's own times still count
    pkts += [_udp(SWEEPER, "10.11.20.10", 40000, 53, T0 + 3600)]
    assert of(run_engine(tmp_path, pkts), "udp_sweep") == []
    fast = [_udp(SWEEPER, f"10.11.30.{k + 2}", 50000, 161, T0 + k * 5) for k in range(30)]
    fast += [_udp(SWEEPER, "10.11.20.10", 40000, 53, T0 + 3600)]
    events = of(run_engine(tmp_path, fast, name="b.pcap"), "udp_sweep")
    assert [e.count for e in events] == [30]


def test_host_unreachable_from_a_router_does_not_answer(tmp_path: Path) -> None:
    # the gateway says the hosts are not there: nothing at the addresses answered
    pkts = []
    for k in range(30):
        victim = f"10.11.30.{k + 2}"
        probe = IP(src=SWEEPER, dst=victim) / UDP(sport=50000, dport=161)
        pkts.append(at(Ether(src=A_MAC, dst=B_MAC) / probe / Raw(b"x" * 20), T0 + k))
        err = IP(src="10.11.30.1", dst=SWEEPER) / ICMP(type=3, code=1) / IPerror(bytes(probe)[:20])
        pkts.append(
            at(Ether(src=B_MAC, dst=A_MAC) / err / UDPerror(sport=50000, dport=161), T0 + k + 0.5)
        )
    events = of(run_engine(tmp_path, pkts, only=["udp_sweep"]), "udp_sweep")
    assert [(e.src, e.count) for e in events] == [(SWEEPER, 30)]


def test_a_quiet_live_link_still_gets_the_sweep_judged(tmp_path: Path) -> None:
    """A live source's idle tick (an empty batch with its clock) moves packet time on: the
    sweep's last attempts pass their answer timeout without any later packet."""
    import numpy as np

    from collectors.auditor.batch import PACKET_DTYPE, Batch
    from collectors.auditor.engine import Engine
    from collectors.auditor.events import ListSink
    from tests.unit.auditor.auditor_helpers import pcap_batches, write_pcap

    fast = [_udp(SWEEPER, f"10.11.30.{k + 2}", 50000, 161, T0 + k * 0.02) for k in range(40)]
    path = write_pcap(tmp_path / "sweep.pcap", fast)  # 40 addresses in 0.8 s, then silence
    sink = ListSink()
    engine = Engine(None, [sink], sensor="test", only=["udp_sweep"])
    for batch in pcap_batches(path):
        engine.process(batch)
    assert sink.latest() == []  # the last attempts are younger than the answer timeout

    def idle(clock: float) -> Batch:
        return Batch(np.empty(0, PACKET_DTYPE), b"", np.empty(0, np.uint64), "eth1", clock=clock)

    engine.process(idle(T0 + 3.0))  # not yet past the answer timeout (5 s)
    before = [e.count for e in sink.latest()]
    engine.process(idle(T0 + 20.0))
    after = [(e.detector, e.src, e.count) for e in sink.latest()]
    assert before == []
    assert after == [("udp_sweep", SWEEPER, 40)]
