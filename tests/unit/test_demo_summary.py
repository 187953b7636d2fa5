"""The demo's closing summary (netwarden.cli.demosummary): every number read from the demo's
outputs, none invented; what is missing is None, never 0."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from netwarden.cli.demobase import Timeline
from netwarden.cli.demosummary import build_summary, count_jsonl, table, write
from netwarden.compliance.models import (
    AuditRun,
    Check,
    DeviceInfo,
    Result,
    Rule,
    RunMeta,
    Severity,
    Status,
)


def _report(path: Path) -> None:
    """An audit of three devices, one unreadable: 3 pass, 1 fail, 1 waived, 1 n/a readable."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    meta = RunMeta(run_id="r1", started=now, finished=now, user="u", host="h",
                   tool_version="0", packs={"gs-ios": "1"})  # fmt: skip
    rule = Rule(id="ios-x-y", title="t", severity=Severity.HIGH, rationale="r",
                check=Check(predicate="p"))  # fmt: skip
    devices = (
        DeviceInfo(name="sw1", site="nyc", platform="ios"),
        DeviceInfo(name="sw2", site="nyc", platform="ios"),
        DeviceInfo(name="sw3", site="gva", platform="ios", error="ssh refused"),
    )
    statuses = [("sw1", Status.PASS), ("sw1", Status.FAIL), ("sw1", Status.WAIVED),
                ("sw2", Status.PASS), ("sw2", Status.PASS), ("sw2", Status.NOT_APPLICABLE),
                ("sw3", Status.FAIL)]  # fmt: skip
    results = tuple(
        Result(device=d, site="nyc", rule="ios-x-y", status=s, severity=Severity.HIGH)
        for d, s in statuses
    )
    run = AuditRun(meta=meta, rules=(rule,), devices=devices, results=results)
    path.parent.mkdir(parents=True)
    path.write_text(run.model_dump_json(), encoding="utf-8")


def _jsonl(path: Path, records: list[dict[str, str]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def test_numbers_come_from_the_outputs(tmp_path: Path) -> None:
    _report(tmp_path / "compliance" / "report.json")
    _jsonl(tmp_path / "auditor-events.jsonl",
           [{"detector": "port_scan"}, {"detector": "arp_spoof"}, {"detector": "port_scan"}])  # fmt: skip
    _jsonl(tmp_path / "access-events.jsonl",
           [{"event": "ssh_userauth", "outcome": "failure"}] * 6
           + [{"event": "ssh_userauth", "outcome": "success"}])  # fmt: skip
    _jsonl(tmp_path / "notifications.jsonl", [{"receiver": "security-pager"}])
    (tmp_path / "evidence" / "e1").mkdir(parents=True)
    (tmp_path / "evidence" / "e1" / "evidence.pcap").write_bytes(b"")
    (tmp_path / "snapshots").mkdir()
    (tmp_path / "snapshots" / "security.html").write_text("<html/>", encoding="utf-8")
    live = {"devices_up": 9, "devices_probed": 10,
            "alerts_firing": {"NetwardenAuditorIncident": 2}}  # fmt: skip

    s = build_summary(tmp_path, live, kept=True, urls={"prometheus": "http://127.0.0.1:9"})

    # passed or waived over assessed, the unreadable sw3 in no score: (3 + 1) / 5
    assert s["compliance"]["score"] == 0.8
    assert s["compliance"]["failed"] == 1
    assert s["compliance"]["devices"] == 3
    assert s["events"]["auditor_replay"] == {"arp_spoof": 1, "port_scan": 2}
    assert s["events"]["access"] == {"ssh_userauth/failure": 6, "ssh_userauth/success": 1}
    assert s["events"]["auditor_watch"] is None  # no file: unknown, not zero
    assert s["notifications"] == {"security-pager": 1}
    assert s["where"]["evidence_pcaps"] == 1
    assert s["where"]["snapshots"] == [str(tmp_path / "snapshots" / "security.html")]
    assert (s["devices_up"], s["devices_probed"]) == (9, 10)
    assert s["alerts_firing"] == {"NetwardenAuditorIncident": 2}
    assert s["urls"] == {"prometheus": "http://127.0.0.1:9"}

    # the machine-readable copy is the same, and the table renders it
    assert json.loads(write(s, tmp_path).read_text(encoding="utf-8")) == s
    console = Console(width=200, record=True)
    console.print(table(s))
    text = console.export_text()
    for shown in ("80.0%", "9 of 10 probed", "port_scan 2", "ssh_userauth/failure 6"):
        assert shown in text


def test_nothing_produced_gives_unknowns_not_zeros(tmp_path: Path) -> None:
    s = build_summary(tmp_path, {}, kept=False, urls={"prometheus": "http://127.0.0.1:9"})
    assert s["compliance"] is None
    assert s["devices_up"] is None
    assert s["alerts_firing"] is None
    assert all(v is None for v in s["events"].values())
    assert s["urls"] == {}  # not kept: the services are gone, no URL to give
    Console(width=200).print(table(s))


def test_count_jsonl_counts_unreadable_lines_apart(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text('{"detector": "dns_tunnel"}\nnot json\n{"other": 1}\n\n', encoding="utf-8")
    assert count_jsonl(path, "detector") == {"?": 2, "dns_tunnel": 1}


def test_timings_and_live_attacks_are_in_the_summary(tmp_path: Path) -> None:
    """Each step's seconds, CPU and exit code, each stage's seconds and the total, as the
    demo's Timeline records them; the live attacks detected per detector."""
    timeline = Timeline()
    timeline.reset()
    timeline.step("Plan", 4.04, 0, cpu=2.5)
    timeline.step("Audit", 125.0, 1, expected=1)
    timeline.add_stage("simulated fleet start", 1.26)
    times = timeline.as_dict()
    attacks = {"run": 2, "detected": 2, "by_detector": {"port_scan": 1, "dns_tunnel": 1},
               "attacks": {}, "events": str(tmp_path / "jed-sensor1.jsonl")}  # fmt: skip

    s = build_summary(tmp_path, {"live_attacks": attacks}, kept=False, urls={}, timeline=times)

    assert s["steps"] == [
        {"title": "Plan", "seconds": 4.0, "rc": 0, "expected_rc": 0, "cpu_seconds": 2.5},
        {"title": "Audit", "seconds": 125.0, "rc": 1, "expected_rc": 1},
    ]
    assert s["stages"] == [{"name": "simulated fleet start", "seconds": 1.3}]
    assert isinstance(s["total_seconds"], float)
    assert isinstance(s["cpu_seconds"], float)
    assert s["live_attacks"]["by_detector"] == {"dns_tunnel": 1, "port_scan": 1}
    assert json.loads(write(s, tmp_path).read_text(encoding="utf-8")) == s
    s["total_seconds"] = 185.0  # the table's minutes
    console = Console(width=250, record=True)
    console.print(table(s))
    text = console.export_text()
    for shown in ("Total time", "3m 05s", "slowest steps: Audit 125 s", "2 of 2", "port_scan 1"):
        assert shown in text


def test_no_timeline_gives_unknown_total(tmp_path: Path) -> None:
    s = build_summary(tmp_path, {}, kept=False, urls={})
    assert (s["steps"], s["stages"], s["total_seconds"], s["live_attacks"]) == ([], [], None, None)
