"""What ``netwarden auditor`` shows people: the incident table whole at any width, packet data
escaped (terminal, syslog), inventory problems with their file:line, the status line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from typer.testing import CliRunner

from collectors.auditor.capture import FileSource
from collectors.auditor.demo import build_attack_pcap
from collectors.auditor.events import Event, Severity, SyslogSink
from collectors.auditor.metrics import AuditorStats
from collectors.auditor.status import RunStatus
from netwarden.cli.auditor import auditor_app
from tests.unit.auditor.auditor_helpers import T0, at, write_pcap
from tests.unit.terminal import MODE_IDS, MODES, column_text, run, whole

HOSTILE = b"\x1b[2J[bold red]x\x1b]8;;http:evil\x07y\x1b]8;;\x07"
"""A DNS label that clears the screen, opens Rich markup and plants an OSC 8 hyperlink."""
SHOWN = "\\x1b[2j[bold red]x\\x1b]8;;http:evil\\x07y\\x1b]8;;\\x07.com"
"""How the table must show its registered domain (the detector lower-cases names)."""


@pytest.fixture(scope="module")
def attack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("attack") / "attack.pcap"
    build_attack_pcap(path)
    return path


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 queries with suspicious names through a hostile domain: a dns_tunnel incident."""
    queries = [
        at(
            Ether()
            / IP(src="10.11.30.52", dst="10.11.20.10")
            / UDP(sport=40000 + i, dport=53)
            / DNS(rd=1, qd=DNSQR(qname=b"q%d\x1b[2J.%s.com" % (i, HOSTILE))),
            T0 + i,
        )
        for i in range(12)
    ]
    return write_pcap(tmp_path_factory.mktemp("hostile") / "hostile.pcap", queries)


@pytest.mark.parametrize(("columns", "tty"), MODES, ids=MODE_IDS)
def test_incident_table_is_never_cropped(
    attack: Path, example_inventory: Path, columns: int, tty: bool
) -> None:
    """Every address (with its site/zone) and every summary reads back whole."""
    args = ["auditor", "--pcap", str(attack), "-i", str(example_inventory), "--site", "nyc"]
    code, out, _ = run([*args, "--json"], 0)
    incidents = json.loads(out)["incidents"]
    code, out, _ = run(args, columns, tty=tty)
    assert code == 1, out
    ends, summaries = column_text(out, "src / dst"), column_text(out, "summary")
    assert whole("10.11.40.66 (nyc/guests)") in ends, out
    assert whole("→ 10.11.20.10 (nyc/servers)") in ends, out
    assert whole("02:00:00:11:66:66") in ends, out  # a MAC address: no zone
    for incident in incidents:
        assert whole(incident["src"]) in ends, (incident, out)
        assert whole(incident["dst"]) in ends, (incident, out)
        assert whole(incident["summary"]) in summaries, (incident, out)
    assert whole("policy_violation") in column_text(out, "severity / detector"), out
    if columns:
        assert all(len(line) <= columns for line in out.splitlines()), out


@pytest.mark.parametrize(("columns", "tty"), [(100, True), (100, False), (0, False)])
def test_packet_data_is_shown_escaped_never_interpreted(
    hostile: Path, columns: int, tty: bool
) -> None:
    code, out, err = run(["auditor", "--pcap", str(hostile)], columns, tty=tty)
    assert code == 1, out + err
    assert "\x1b" not in out + err  # piped: nothing raw at all
    assert "\x07" not in out + err
    # on the terminal too: the sequences read back as text, the markup as its brackets
    assert whole(SHOWN) in column_text(out, "summary"), out


def test_json_output_keeps_packet_data_raw(hostile: Path) -> None:
    """Machine output is not escaped for people: JSON carries the bytes (as \\u001b)."""
    code, out, _ = run(["auditor", "--pcap", str(hostile), "--json"], 0)
    assert code == 1, out
    (incident,) = json.loads(out)["incidents"]
    assert incident["evidence"]["domain"] == HOSTILE.decode().lower() + ".com"


def test_syslog_message_is_the_event_with_nothing_a_terminal_acts_on() -> None:
    summary = "a\x1b[2J b\x9b2J c\u202eevil d\x7f [bold red]"
    event = Event(
        id="x",
        ts=T0,
        first_seen=T0,
        last_seen=T0,
        detector="dns_tunnel",
        severity=Severity.HIGH,
        summary=summary,
        count=1,
    )
    sink = SyslogSink("127.0.0.1", 9, hostname="sensor1")
    try:
        line = sink.format(event).decode()
    finally:
        sink.close()
    assert not any(ch in line for ch in "\x1b\x9b\u202e\x7f"), ascii(line)
    assert line.startswith(
        "<163>1 "
    )  # local4.error and " sensor1 netwarden-auditor - dns_tunnel - " in line
    message = line.split(" - dns_tunnel - ", 1)[1]
    assert json.loads(message) == json.loads(event.to_json())  # the same event to a parser
    assert json.loads(message)["summary"] == summary


def test_broken_inventory_lists_each_problem_with_its_file_and_line(
    tmp_path: Path, example_inventory: Path, attack: Path
) -> None:
    inv = tmp_path / "inv"
    shutil.copytree(example_inventory, inv)
    host = inv / "host_vars" / "nyc-acc-sw1.yml"
    lines = host.read_text().splitlines()
    at_line = next(i for i, ln in enumerate(lines, 1) if ln.startswith("mgmt_address:"))
    lines[at_line - 1] = "mgmt_address: 10.11.10.999"
    host.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(auditor_app, ["--pcap", str(attack), "-i", str(inv)])
    assert result.exit_code == 2, result.output
    assert f"nyc-acc-sw1.yml:{at_line}: nyc-acc-sw1.mgmt_address:" in result.output
    assert "10.11.10.999" in result.output
    assert "1 problem(s)" in result.output
    assert "Traceback" not in result.output


def test_status_line_counts_files_packets_and_new_incidents_by_severity(attack: Path) -> None:
    stats = AuditorStats(packets=1234, incidents_open=3)
    stats.add_event("port_scan", Severity.MEDIUM)
    stats.add_event("arp_spoof", Severity.HIGH)
    stats.add_event("address_scan", Severity.MEDIUM)
    source = FileSource([attack, Path("[bold]\x1b[2J.pcap")])
    source.processed.append(attack)
    source.current = Path("[bold]\x1b[2J.pcap")
    assert RunStatus(stats, source).line() == (
        "auditor: 1 file(s) read, reading [bold]\\x1b[2J.pcap; 1,234 packets; "
        "3 incident(s) open; new: 1 high, 2 medium"
    )
    assert RunStatus(AuditorStats(), FileSource([])).line() == (
        "auditor: 0 file(s) read; 0 packets; 0 incident(s) open; new: none"
    )
