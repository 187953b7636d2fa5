"""The shared evaluation captures (../shared/data/pcaps): each attack is found, benign ones are quiet.

Skips cleanly when the folder is absent (it exists beside the checkout in CI, not
on a user's machine). These captures are not in our address plan, so they run
without an inventory (policy_violation and unknown_device are then off).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.auditor.decode import iter_batches
from collectors.auditor.engine import Engine, RunSummary
from collectors.auditor.events import ListSink, Severity

pytestmark = pytest.mark.shared_data

PCAPS = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "pcaps"
README = PCAPS.parent / "README.md"

# file -> (detector, the address the README names as the attacker or victim)
EXPECTED = {
    "scan_port_scan.pcap": ("port_scan", "192.168.2.154"),
    "scan_445_address_scan.pcap": ("address_scan", "176.192.150.3"),
    "scan_multiport_address_scan.pcap": ("address_scan", "125.27.226.209"),
    "ssh_password_guessing.pcap": ("ssh_bruteforce", "192.168.56.1"),
    "ftp_bruteforce.pcap": ("ftp_bruteforce", "192.168.56.1"),
    "dhcp_flood.pcap": ("rogue_dhcp", ""),
    "arp_poison.pcapng": ("arp_spoof", "172.16.0.1"),
    "dns_tunnel_iodine.pcap": ("dns_tunnel", "192.168.1.17"),
}
BENIGN = [
    "benign_arp_gratuitous.pcapng",
    "benign_backscatter.pcap",
    "benign_http.pcap",
    "benign_smb2.pcap",
    "benign_ssh.pcap",
    "benign_tls.pcap",
]


def _run(name: str) -> RunSummary:
    path = PCAPS / name
    if not path.is_file():
        pytest.skip(f"{path} is absent (evaluation data is only beside the checkout)")
    engine = Engine(sinks=[ListSink()], sensor="shared")
    return engine.run(iter_batches(path))


def test_readme_names_every_file_we_check() -> None:
    """Our expectations follow the README's table: every file we check is in it."""
    if not README.is_file():
        pytest.skip(f"{README} is absent")
    text = README.read_text(encoding="utf-8")
    for name in [*EXPECTED, *BENIGN, "malformed_arp.pcap"]:
        assert name in text, name


@pytest.mark.parametrize(("name", "expected"), list(EXPECTED.items()), ids=list(EXPECTED))
def test_attack_is_detected(name: str, expected: tuple[str, str]) -> None:
    detector, who = expected
    summary = _run(name)
    hits = [e for e in summary.incidents if e.detector == detector]
    assert hits, (
        f"{name}: no {detector} event; got {[(e.detector, e.src) for e in summary.incidents]}"
    )
    assert all(e.severity >= Severity.MEDIUM for e in hits)
    if who:
        assert any(who in (e.src, e.dst, e.evidence.get("ip")) for e in hits), hits


@pytest.mark.parametrize("name", BENIGN)
def test_benign_is_quiet(name: str) -> None:
    summary = _run(name)
    loud = [e for e in summary.incidents if e.severity > Severity.INFO]
    assert loud == [], [(e.detector, e.summary) for e in loud]


def test_malformed_arp_is_counted_not_fatal() -> None:
    summary = _run("malformed_arp.pcap")
    assert summary.packets == 6
    assert sum(summary.decode_errors.values()) >= 1
    assert summary.detector_errors == {}
    assert [e for e in summary.incidents if e.severity > Severity.INFO] == []


def test_all_captures_in_one_run() -> None:
    """Every file through one engine (as ``--pcap a b c``): the same detections, no crash."""
    if not PCAPS.is_dir():
        pytest.skip(f"{PCAPS} is absent")
    engine = Engine(sinks=[ListSink()], sensor="shared")
    files = sorted(PCAPS.glob("*.pcap*"))
    summary = engine.run(b for f in files for b in iter_batches(f))
    found = {e.detector for e in summary.incidents}
    assert {d for d, _ in EXPECTED.values()} <= found
