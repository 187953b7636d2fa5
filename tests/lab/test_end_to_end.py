"""End to end (issue 19): ``make demo`` as root, each stage's outcome asserted.

One run of the real demo (``python -m netwarden.cli.demo --out DIR --keep``, what ``make
demo KEEP=1`` runs, in a directory of the test's own so a user's ``out/demo`` is never
touched, in its own session: tests/lab/demorun.py) for the module. Each test then checks one stage from what the demo left: the
files it wrote, the simulated fleet's backups, the sensors' events, and the Prometheus and
Alertmanager it kept running. Every number of the demo's closing summary
(``summary.json``) is recomputed here from those sources and must be equal, so the table a
newcomer reads is the one this test proves. The last test runs ``--down`` (``make
demo-down``) and checks that nothing the demo started is left: its processes and the
namespace lab's namespaces.

Root only (the namespace lab); skips without root, nftables, Prometheus, Alertmanager or
an attack tool, as the demo itself would leave those stages out.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from netwarden.cli.demostate import cmdline_of
from netwarden.inventory import load_inventory
from netwarden.inventory.models import Function, Platform
from netwarden.lab.ns.attacks import TOOLS
from tests.lab.demorun import Demo, assert_nothing_left, clean_up, start
from tests.lab.nslab import REPO, netns_inodes, netns_with

pytestmark = [
    pytest.mark.lab,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
    *(
        pytest.mark.skipif(shutil.which(t) is None, reason=f"needs {t} (apt-get install it)")
        for t in ("nft", "prometheus", "prometheus-alertmanager", "amtool", *TOOLS)
    ),
]

DEMO_TIMEOUT = 1800  # seconds: a bound, not an expectation (the demo takes minutes)
STOP_WAIT = 300  # seconds for --down
REPLAY_DETECTORS = {  # what the replayed New York capture must raise (collectors/auditor/demo.py)
    "port_scan",
    "ssh_bruteforce",
    "cleartext_credentials",
    "arp_spoof",
    "rogue_dhcp",
    "dns_tunnel",
    "beaconing",
    "policy_violation",
}
ALERTS = {
    "NetwardenAuditorIncident",
    "NetwardenLoginFailuresRepeated",
    "NetwardenLoginAfterFailures",
}


@dataclass(frozen=True)
class Run:
    """The kept demo: where it wrote, its exit code, transcript and ``summary.json``."""

    demo: Demo
    returncode: int
    transcript: str
    summary: dict[str, Any]

    @property
    def out(self) -> Path:
        return self.demo.out

    @property
    def lab(self) -> Path:
        return self.demo.lab

    def jsonl(self, name: str) -> list[dict[str, Any]]:
        """The JSON lines of ``name`` in the demo's directory (none if it was not written)."""
        path = self.out / name
        text = path.read_text() if path.exists() else ""
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 (loopback)
        return json.load(answer)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    started = start(tmp_path_factory.mktemp(f"e2e{os.getpid()}"), "--keep")
    try:
        rc = started.proc.wait(timeout=DEMO_TIMEOUT)
        summary_file = started.out / "summary.json"
        summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
        yield Run(started, rc, started.output(), summary)
    finally:
        clean_up([started])  # (after the last test's --down: nothing left to do)


def test_the_demo_runs_every_step_and_exits_0(demo: Run) -> None:
    assert demo.returncode == 0, demo.transcript[-6000:]
    steps = demo.summary["steps"]
    assert steps, "the summary lists no step"
    titles = [s["title"] for s in steps]
    for stage in (
        "Validate the organisation's inventory",
        "Plan: what would change",
        "Apply with a canary",
        "Backup: sanitised running configs",
        "Audit the simulated fleet live",
        "Build the whole organisation in network namespaces",
        "Apply it with commit-confirm",
        "Harden the New York server",
        "Live compliance again",
        "Dashboard snapshots",
    ):
        assert any(t.startswith(stage) for t in titles), (stage, titles)
    for step in steps:  # each step's own exit code, and the one it should have
        assert step["rc"] == step["expected_rc"], step
        assert float(step["seconds"]) >= 0
    assert float(demo.summary["total_seconds"]) >= sum(float(s["seconds"]) for s in steps) * 0.5


def test_the_canary_went_first_then_the_rest_and_nothing_failed(demo: Run) -> None:
    result = json.loads((demo.out / "apply-result.json").read_text())
    statuses = {r["device"]: r["status"] for r in result["results"]}
    assert len(result["canary"]) == 1
    canary = result["canary"][0]
    waves = {r["device"]: r["wave"] for r in result["results"]}
    assert waves[canary] == 1, waves
    assert all(w > 1 for d, w in waves.items() if d != canary), waves
    assert set(statuses.values()) <= {"changed", "unchanged"}, statuses
    assert "changed" in statuses.values()  # the simulated fleet boots off the baseline


def test_backups_record_the_rollout_and_then_only_the_manual_change(demo: Run) -> None:
    """The backup repository's history: the configs before the apply, the apply's change
    (every switch), and the backup after the manual change (nyc-acc-sw1 alone; the backup
    right after the rollout had nothing new to commit)."""
    repo = demo.out / "backups"

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
        ).stdout

    subjects = git("log", "--format=%s").splitlines()
    switches = len(json.loads((demo.out / "apply-result.json").read_text())["results"])
    assert subjects[-2:] == [f"apply: {switches} changed", f"backup: {switches} new"], subjects
    assert subjects[0] == f"backup: {switches - 1} unchanged, 1 changed", subjects
    assert "why: demo: after the manual change" in git("log", "-1", "--format=%B")
    last = git("show", "--stat", "--format=", "HEAD").strip().splitlines()
    changed = [line.split("|")[0].strip() for line in last if "|" in line]
    assert changed == ["nyc-acc-sw1.cfg"], changed
    assert "+ntp server 10.9.9.9" in git("show", "HEAD")


def test_the_compliance_report_matches_the_summary(demo: Run) -> None:
    report = json.loads((demo.out / "compliance" / "report.json").read_text())
    unread = {d["name"] for d in report["devices"] if d.get("error")}  # in no score
    results = [r for r in report["results"] if r["device"] not in unread]
    assessed = [r for r in results if r["status"] in ("pass", "fail", "waived", "error")]
    good = [r for r in assessed if r["status"] in ("pass", "waived")]
    failed = [r for r in assessed if r["status"] == "fail"]
    # the manual `ntp server 10.9.9.9` on nyc-acc-sw1 is the only thing wrong
    assert {r["device"] for r in failed} == {"nyc-acc-sw1"}, failed
    numbers = demo.summary["compliance"]
    assert numbers["failed"] == len(failed)
    assert numbers["score"] == pytest.approx(len(good) / len(assessed), abs=5e-5)  # 4 places
    assert numbers["devices"] == len(report["devices"])


def test_the_replayed_capture_raises_each_attack_and_the_summary_counts_them(demo: Run) -> None:
    events = demo.jsonl("auditor-events.jsonl")
    by_detector = Counter(str(e["detector"]) for e in events)
    assert set(by_detector) >= REPLAY_DETECTORS, by_detector
    assert demo.summary["events"]["auditor_replay"] == dict(sorted(by_detector.items()))
    assert all(e["site"] == "nyc" and e["sensor"] == "nyc-sensor1" for e in events)


def test_every_event_names_an_evidence_pcap_that_opens(demo: Run) -> None:
    from scapy.utils import rdpcap

    evidence = demo.out / "evidence"
    named = {
        str(e["evidence"]["pcap"]) for e in demo.jsonl("auditor-events.jsonl")
        if "pcap" in e.get("evidence", {})
    }  # fmt: skip
    assert named, "no event names an evidence pcap"
    for name in named:
        assert len(rdpcap(str(evidence / name))) >= 1, name
    files = sorted(evidence.rglob("*.pcap"))
    assert demo.summary["where"]["evidence_pcaps"] == len(files)


def test_prometheus_sees_the_simulated_switches_up_and_alertmanager_has_the_alerts(
    demo: Run,
) -> None:
    """The health probe of every inventory device but the sensors is in Prometheus; those up are exactly
    the simulated IOS switches (``lab sim`` simulates switches; firewalls and servers are in
    the namespace lab, which this Prometheus does not reach)."""
    urls = demo.summary["urls"]
    query = urllib.parse.urlencode({"query": 'netwarden_up{job="netwarden_health"}'})
    found = _get(f"{urls['prometheus']}/api/v1/query?{query}")["data"]["result"]
    up = {r["metric"]["instance"] for r in found if float(r["value"][1]) == 1}
    inventory = load_inventory(REPO / "inventory")
    switches = {d.name for d in inventory.devices.values() if d.platform is Platform.IOS}
    probed = {d.name for d in inventory.devices.values() if d.function is not Function.SENSOR}
    assert {r["metric"]["instance"] for r in found} == probed  # (a sensor has no probe)
    assert up == switches
    assert demo.summary["devices_probed"] == len(found)
    assert demo.summary["devices_up"] == len(up)
    alerts = _get(f"{urls['alertmanager']}/api/v2/alerts?active=true")
    names = Counter(str(a["labels"]["alertname"]) for a in alerts)
    assert set(names) >= ALERTS, names
    # the live attacks at HQ, scraped from jed-sensor1 through its loopback relay
    live = {
        a["labels"].get("detector") for a in alerts
        if a["labels"]["alertname"] == "NetwardenAuditorIncident" and a["labels"].get("site") == "jed"
    }  # fmt: skip
    attacked = set(demo.summary["live_attacks"]["by_detector"])
    assert live & attacked, (live, attacked)
    replayed = {  # and the New York capture the demo replays
        a["labels"].get("detector") for a in alerts
        if a["labels"]["alertname"] == "NetwardenAuditorIncident" and a["labels"].get("site") == "nyc"
    }  # fmt: skip
    assert replayed & REPLAY_DETECTORS, replayed
    fired = demo.summary["alerts_firing"]
    for name in ALERTS:  # (an alert that went on firing since may have grown, none shrunk)
        assert 1 <= fired[name] <= names[name], (name, fired, names)
    notified = Counter(str(n["receiver"]) for n in demo.jsonl("notifications.jsonl"))
    delivered = demo.summary["notifications"]
    assert {"security-pager", "security-ticket"} <= set(delivered), (delivered, notified)
    for receiver, n in delivered.items():  # (the webhook went on receiving since)
        assert n <= notified[receiver], (receiver, delivered, notified)


def test_a_snapshot_of_each_dashboard(demo: Run) -> None:
    from netwarden.dashboards.catalog import dashboards

    pages = sorted((demo.out / "snapshots").glob("*.html"))
    names = {p.stem for p in pages}
    assert names == {*(d.uid for d in dashboards()), "index"}, names
    assert all(p.stat().st_size > 1000 for p in pages)
    assert demo.summary["where"]["snapshots"] == [str(p) for p in pages]


def test_each_live_attack_is_detected_by_its_sensor(demo: Run) -> None:
    attacks = demo.summary["live_attacks"]
    assert attacks is not None, "no live attack ran"
    assert attacks["run"] >= 6, attacks
    assert attacks["detected"] == attacks["run"], attacks
    kept = sorted((demo.out / "lab-sensor-events").glob("*.jsonl"))  # copied at the summary
    assert kept, "the sensors' events were not kept"
    events = [
        json.loads(line) for path in kept for line in path.read_text().splitlines() if line.strip()
    ]
    counted = Counter(str(e["detector"]) for e in events)
    assert demo.summary["events"]["lab_sensors"] == dict(sorted(counted.items()))
    for detector, n in attacks["by_detector"].items():
        assert counted[detector] >= n, (detector, counted)
    for name, attack in attacks["attacks"].items():
        assert attack["detected"], (name, attack)
        assert any(e["detector"] == attack["detector"] for e in events), (name, attack)


def test_the_firewall_and_the_hardened_server_pass_live(demo: Run) -> None:
    report = json.loads((demo.out / "compliance-ns" / "report.json").read_text())
    devices = {d["name"] for d in report["devices"] if not d.get("error")}
    assert {"nyc-fw1", "nyc-srv1"} <= devices, devices
    failed = [r for r in report["results"] if r["status"] == "fail"]
    assert failed == [], failed


def test_demo_down_leaves_nothing_running(demo: Run) -> None:
    """``make demo-down`` after ``KEEP=1``: the kept services and the lab stop, nothing is left."""
    names = netns_with(demo.demo.prefix)
    assert names, "--keep: the namespace lab was not left running"
    inodes = netns_inodes(names)
    recorded = demo.demo.recorded()
    assert recorded, "--keep: no background process was left running"
    assert all(cmdline_of(pid) == c for pid, c in recorded), "a kept process is not running"
    down = subprocess.run(
        [sys.executable, "-m", "netwarden.cli.demo", "--down", "--out", str(demo.out)],
        cwd=REPO, capture_output=True, text=True, timeout=STOP_WAIT, check=False,
    )  # fmt: skip
    assert down.returncode == 0, down.stdout[-3000:] + down.stderr[-3000:]
    assert_nothing_left(demo.demo, inodes, recorded)
