"""Events (incidents, JSON lines, syslog, schema), metrics (promtool), config and the CLI."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import Sized
from datetime import date
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Packet
from typer.testing import CliRunner

from collectors.auditor.config import AuditorConfigError, load_auditor_config, parse_auditor_config
from collectors.auditor.demo import build_attack_pcap
from collectors.auditor.engine import Engine
from collectors.auditor.events import (
    Event,
    IncidentTracker,
    JsonLinesSink,
    ListSink,
    Severity,
    SyslogSink,
    event_schema,
    read_events,
)
from collectors.auditor.metrics import AuditorCollector, AuditorStats
from netwarden.cli.auditor import auditor_app
from tests.unit.auditor.auditor_helpers import T0, at, pcap_batches, tcp_session, write_pcap

REPO = Path(__file__).resolve().parents[3]


def _scan(n: int, t0: float = T0) -> list[Packet]:
    return [
        at(
            Ether()
            / IP(src="10.11.40.66", dst="10.11.20.10")
            / TCP(sport=45000, dport=p, flags="S"),
            t0 + p * 0.01,
        )
        for p in range(1, n + 1)
    ]


def test_one_incident_updated_not_repeated(tmp_path: Path) -> None:
    sink = ListSink()
    tracker = IncidentTracker(site="nyc", sensor="s1", sinks=[sink])
    for k in range(1, 41):
        tracker.report(
            detector="port_scan",
            key=("10.0.0.1",),
            ts=T0 + k,
            severity=Severity.MEDIUM,
            summary=f"{k}",
            count=k,
        )
    tracker.report(
        detector="port_scan",
        key=("10.0.0.1",),
        ts=T0 + 50,
        severity=Severity.HIGH,
        summary="more",
        count=41,
    )
    tracker.flush()
    ids = {e.id for e in sink.events}
    assert len(ids) == 1
    assert len(sink.events) < 10  # throttled: new, doublings, severity rise
    last = sink.latest()[0]
    assert (last.count, last.severity, last.first_seen.timestamp()) == (41, Severity.HIGH, T0 + 1)
    # idle for longer than idle_seconds: the same key opens a new incident
    tracker.report(
        detector="port_scan",
        key=("10.0.0.1",),
        ts=T0 + 99_999,
        severity=Severity.LOW,
        summary="again",
    )
    assert len({e.id for e in sink.events}) == 2


def test_json_lines_round_trip_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sink = JsonLinesSink(path)
    engine = Engine(sinks=[sink], site="nyc", sensor="nyc-sensor1")
    engine.run(pcap_batches(write_pcap(tmp_path / "scan.pcap", _scan(30))))
    sink.close()
    lines = path.read_text().splitlines()
    assert all(json.loads(line)["schema_version"] == "1.0" for line in lines)
    events = read_events(path)
    assert [(e.detector, e.site, e.sensor, e.count) for e in events] == [
        ("port_scan", "nyc", "nyc-sensor1", 30)
    ]
    on_disk = json.loads((REPO / "docs" / "auditor-event.schema.json").read_text())
    assert on_disk == json.loads(json.dumps(event_schema(), sort_keys=True)), (
        "regenerate docs/auditor-event.schema.json"
    )


def test_syslog_rfc5424_over_udp_to_loopback() -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(5)
    sink = SyslogSink("127.0.0.1", server.getsockname()[1], hostname="nyc-sensor1")
    tracker = IncidentTracker(site="nyc", sensor="s1", sinks=[sink])
    tracker.report(
        detector="arp_spoof", key=("10.11.30.1",), ts=T0, severity=Severity.HIGH, summary="spoof"
    )
    data, _ = server.recvfrom(65535)
    sink.close()
    server.close()
    text = data.decode()
    assert text.startswith(
        "<163>1 2026-01-01T00:00:00.000000Z nyc-sensor1 netwarden-auditor - arp_spoof - {"
    )
    assert Event.model_validate_json(text.split(" - ", 2)[2]).detector == "arp_spoof"


def test_metrics_exposition_and_promtool(tmp_path: Path) -> None:
    stats = AuditorStats()
    engine = Engine(sinks=[], site="nyc", stats=stats)
    engine.run(pcap_batches(write_pcap(tmp_path / "scan.pcap", _scan(30))))
    registry = CollectorRegistry()
    registry.register(
        AuditorCollector(stats, site="nyc", sensor="s1", detectors=tuple(engine.detector_names))
    )
    text = generate_latest(registry).decode()
    assert 'netwarden_auditor_packets_total{site="nyc"} 30.0' in text
    assert (
        'netwarden_auditor_events_total{detector="port_scan",severity="medium",site="nyc"} 1.0'
        in text
    )
    assert "10.11.40.66" not in text  # never an address as a label
    # fresh families per scrape: a second scrape sees new counts
    engine.stats.packets += 1
    assert 'netwarden_auditor_packets_total{site="nyc"} 31.0' in generate_latest(registry).decode()
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus)")
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_config_file_allowlist_and_expiry(tmp_path: Path, example_inventory: Path) -> None:
    config = load_auditor_config(example_inventory)
    assert config.detectors["port_scan"]["threshold"] == 10
    allow = parse_auditor_config(
        {
            "auditor": {
                "allowlist": [
                    {
                        "detectors": ["port_scan"],
                        "src": "10.11.40.0/24",
                        "reason": "vulnerability scanner",
                        "approver": "secops",
                        "expires": date(2026, 6, 30),
                    }
                ]
            }
        }
    )
    pcap = write_pcap(tmp_path / "scan.pcap", _scan(30))
    quiet = Engine(allow, today=date(2026, 6, 1)).run(pcap_batches(pcap))
    assert quiet.incidents == []
    assert quiet.suppressed == 1
    expired = Engine(allow, today=date(2026, 7, 1)).run(pcap_batches(pcap))
    assert [e.detector for e in expired.incidents] == ["port_scan"]


def test_config_errors_name_the_key() -> None:
    with pytest.raises(AuditorConfigError, match="unknown detector"):
        Engine(parse_auditor_config({"auditor": {"detectors": {"port_scna": {}}}}))
    with pytest.raises(AuditorConfigError, match=r"port_scan\.threshhold"):
        Engine(parse_auditor_config({"auditor": {"detectors": {"port_scan": {"threshhold": 3}}}}))


runner = CliRunner()


def test_cli_exit_codes(tmp_path: Path) -> None:
    quiet = write_pcap(tmp_path / "quiet.pcap", tcp_session(T0, "10.11.30.20", "10.11.20.10", 445))
    loud = write_pcap(tmp_path / "loud.pcap", _scan(30))
    assert runner.invoke(auditor_app, ["--pcap", str(quiet)]).exit_code == 0
    events = tmp_path / "ev.jsonl"
    result = runner.invoke(
        auditor_app, ["--pcap", str(loud), "--events", str(events), "--json", "--site", "nyc"]
    )
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["events_by_detector"] == {"port_scan": {"medium": 1}}
    assert len(read_events(events)) == 1
    assert runner.invoke(auditor_app, ["--pcap", str(loud), "--interface", "eth0"]).exit_code == 2
    assert runner.invoke(auditor_app, ["--pcap", str(tmp_path / "missing.pcap")]).exit_code == 2
    assert (
        runner.invoke(auditor_app, ["--pcap", str(loud), "--metrics-listen", "nonsense"]).exit_code
        == 2
    )
    assert runner.invoke(auditor_app, ["--pcap", str(loud), "--detector", "nope"]).exit_code == 2


def test_cli_metrics_listen_errors_are_usage_errors(tmp_path: Path) -> None:
    loud = write_pcap(tmp_path / "loud.pcap", _scan(30))
    web = tmp_path / "web.yml"
    web.write_text("basic_auth_users:\n  prometheus: plaintext\n")
    result = runner.invoke(auditor_app, ["--pcap", str(loud), "--web-config", str(web)])
    assert result.exit_code == 2
    assert "give --metrics-listen" in result.output
    result = runner.invoke(
        auditor_app,
        ["--pcap", str(loud), "--metrics-listen", "127.0.0.1:9", "--web-config", str(web)],
    )
    assert result.exit_code == 2
    assert "web.yml" in result.output
    assert "not a bcrypt hash" in result.output
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(auditor_app, ["--pcap", str(loud), "--metrics-listen", f":{port}"])
    assert result.exit_code == 2, result.output
    assert f"--metrics-listen :{port}: Address already in use" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_summary_table_lists_the_most_severe_and_counts_the_rest(
    tmp_path: Path, example_inventory: Path
) -> None:
    pcap = tmp_path / "attack.pcap"
    truth = build_attack_pcap(pcap)
    args = ["--pcap", str(pcap), "-i", str(example_inventory), "--site", "nyc"]
    wide = {"COLUMNS": "250"}
    everything = runner.invoke(auditor_app, [*args, "--top", "0"], env=wide)
    assert "more (" not in everything.stdout
    shown = runner.invoke(auditor_app, [*args, "--top", "3"], env=wide)
    assert shown.exit_code == 1, shown.output
    total = sum(truth.values())
    assert f"... and {total - 3:,} more (" in shown.stdout
    rows = [line for line in shown.stdout.splitlines() if line.startswith("│ ")]
    first = [line.split("│")[1].strip() for line in rows]  # severity, detector under it
    severities = [cell for cell in first if cell in {s.value for s in Severity}]
    assert len(severities) == 3
    assert severities[0] == "high"  # most severe first


def test_demo_pcap_ground_truth(tmp_path: Path, example_inventory: Path) -> None:
    pcap = tmp_path / "attack.pcap"
    truth = build_attack_pcap(pcap)
    result = runner.invoke(
        auditor_app, ["--pcap", str(pcap), "-i", str(example_inventory), "--site", "nyc", "--json"]
    )
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    found = {det: sum(by_sev.values()) for det, by_sev in summary["events_by_detector"].items()}
    assert found == truth


def test_events_total_counts_incidents_opened_and_raised_not_updates() -> None:
    """Opened medium, updated medium, raised to high, updated high: medium 1, high 1."""
    sink = ListSink()
    stats = AuditorStats()
    engine = Engine(sinks=[sink], site="nyc", stats=stats, only=[])
    report = engine.tracker.report
    key = ("10.0.0.1",)
    report(detector="port_scan", key=key, ts=T0, severity=Severity.MEDIUM, summary="a", count=1)
    report(detector="port_scan", key=key, ts=T0 + 1, severity=Severity.MEDIUM, summary="b", count=2)
    report(detector="port_scan", key=key, ts=T0 + 2, severity=Severity.HIGH, summary="c", count=3)
    report(detector="port_scan", key=key, ts=T0 + 3, severity=Severity.HIGH, summary="d", count=6)
    engine.finish()
    # every report was emitted (opened, count doubled, severity rose, count doubled) ...
    assert [(e.severity, e.count) for e in sink.events] == [
        (Severity.MEDIUM, 1),
        (Severity.MEDIUM, 2),
        (Severity.HIGH, 3),
        (Severity.HIGH, 6),
    ]
    # ... but only the opening and the rise are counted
    assert stats.events == {("port_scan", "medium"): 1, ("port_scan", "high"): 1}
    registry = CollectorRegistry()
    registry.register(AuditorCollector(stats, site="nyc", sensor="s1", detectors=("port_scan",)))
    text = generate_latest(registry).decode()
    for severity, value in [("medium", 1.0), ("high", 1.0), ("low", 0.0)]:
        assert (
            f'netwarden_auditor_events_total{{detector="port_scan",severity="{severity}",'
            f'site="nyc"}} {value}' in text
        )


def test_tracker_on_emit_says_opened_or_raised() -> None:
    """``on_emit``'s flag: opened or raised above the last emitted severity, on every path."""
    seen: list[tuple[Severity, int, bool]] = []
    tracker = IncidentTracker(
        site="nyc",
        sensor="s1",
        sinks=[],
        on_emit=lambda ev, escalated: seen.append((ev.severity, ev.count, escalated)),
    )

    def report(key: str, ts: float, severity: Severity) -> None:
        tracker.report(detector="arp_spoof", key=(key,), ts=ts, severity=severity, summary="x")

    report("a", T0, Severity.LOW)  # opened
    report("a", T0 + 1, Severity.LOW)  # count 2: doubled, emitted
    report("a", T0 + 2, Severity.HIGH)  # raised (count 3)
    report("a", T0 + 3, Severity.MEDIUM)  # count 4: pending
    report("a", T0 + 4, Severity.MEDIUM)  # count 5: pending
    report("a", T0 + 5, Severity.MEDIUM)  # count 6: doubled, emitted, stays high
    report("a", T0 + 6, Severity.LOW)  # count 7: pending, emitted when closed
    report("b", T0 + 7, Severity.MEDIUM)  # opened
    report("b", T0 + 8, Severity.MEDIUM)  # count 2: emitted
    report("b", T0 + 9, Severity.MEDIUM)  # count 3: pending, emitted by flush
    tracker.expire(T0 + 6 + tracker.idle_seconds + 0.5)  # closes "a" only
    tracker.flush()
    assert seen == [
        (Severity.LOW, 1, True),
        (Severity.LOW, 2, False),
        (Severity.HIGH, 3, True),
        (Severity.HIGH, 6, False),
        (Severity.MEDIUM, 1, True),
        (Severity.MEDIUM, 2, False),
        (Severity.HIGH, 7, False),  # "a" closed
        (Severity.MEDIUM, 3, False),  # "b" flushed
    ]


def test_engine_keeps_no_state_per_closed_incident() -> None:
    """A long-running sensor: once incidents close, nothing in the engine grows with them."""
    stats = AuditorStats()
    engine = Engine(sinks=[], site="nyc", stats=stats, only=[])
    n = 300
    for i in range(n):
        key = (f"10.0.{i // 256}.{i % 256}",)
        for ts, severity in [(T0 + i, Severity.MEDIUM), (T0 + i + 1, Severity.HIGH)]:
            engine.tracker.report(
                detector="port_scan", key=key, ts=ts, severity=severity, summary="s"
            )
    assert engine.tracker.open_count() == n
    engine.tracker.expire(T0 + n + 2 * engine.tracker.idle_seconds)
    assert engine.tracker.open_count() == 0
    assert stats.events == {("port_scan", "medium"): n, ("port_scan", "high"): n}
    sizes = {name: len(v) for name, v in vars(engine).items() if isinstance(v, Sized)}
    assert all(size < n for size in sizes.values()), sizes
    engine.finish()
