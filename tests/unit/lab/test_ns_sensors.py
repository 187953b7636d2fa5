"""The sensors' auditors of ``lab up --sensors`` (netwarden.lab.ns.sensors): pure, no root.

Which sensors get an auditor, on which interface, with which site and inventory,
and how its events file is read back; the live run is tests/lab/test_attack_matrix.py.
"""

from __future__ import annotations

import json
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from netwarden.inventory import load_inventory
from netwarden.inventory.flows import FlowPolicyEngine
from netwarden.inventory.models import Protocol
from netwarden.lab.ns.plan import plan_lab
from netwarden.lab.ns.sensors import (
    METRICS_PORT,
    SensorAuditor,
    auditor_argv,
    read_events,
    sensor_auditors,
)
from netwarden.lab.ns.services.rsyslog import SYSLOG_TLS_PORT

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def auditors() -> list[SensorAuditor]:
    return sensor_auditors(plan_lab(load_inventory(REPO / "inventory"), "ab12"), Path("/lab/.lab"))


def test_one_auditor_per_sensor_on_its_span_port(auditors: list[SensorAuditor]) -> None:
    inv = load_inventory(REPO / "inventory")
    sensors = {d.name: d for d in inv.devices.values() if d.function.value == "sensor"}
    assert {a.sensor for a in auditors} == set(sensors)
    for a in auditors:
        assert a.site == sensors[a.sensor].site
        assert a.interface == "span0"
        assert a.netns == f"nwab12-{a.site}-{a.sensor}"
        assert a.address == IPv4Address(str(sensors[a.sensor].mgmt_address))
        assert a.events == Path(f"/lab/.lab/sensors/{a.sensor}/events.jsonl")


def test_argv_gives_the_site_inventory_and_outputs(auditors: list[SensorAuditor]) -> None:
    nyc = next(a for a in auditors if a.sensor == "nyc-sensor1")
    argv = auditor_argv(nyc, Path("/lab"))
    assert argv[:4] == ["ip", "netns", "exec", nyc.netns]
    assert argv[5:8] == ["-m", "netwarden.cli", "auditor"]
    opts = dict(zip(argv[8::2], argv[9::2], strict=True))
    assert opts == {
        "--interface": "span0",
        "-i": "/lab",
        "--site": "nyc",
        "--sensor": "nyc-sensor1",
        "--events": "/lab/.lab/sensors/nyc-sensor1/events.jsonl",
        "--metrics-listen": f"{nyc.address}:{METRICS_PORT}",
        "--status-every": "0",
    }


def test_argv_forwards_to_the_log_host_over_tls_with_a_spool(tmp_path: Path) -> None:
    """With the lab CA made (``lab up`` makes it for the log host's certificate), each
    sensor sends to the first ``policy.syslog.servers`` host on tcp/6514, spooling."""
    inv = load_inventory(REPO / "inventory")
    work = tmp_path / ".lab"
    (work / "pki").mkdir(parents=True)
    (work / "pki" / "ca.crt").write_text("CA\n")
    nyc = next(a for a in sensor_auditors(plan_lab(inv, "ab12"), work) if a.site == "nyc")
    argv = auditor_argv(nyc, tmp_path)
    opts = dict(zip(argv[8::2], argv[9::2], strict=True))
    log_host = inv.resolve(inv.policy.syslog.servers[0])
    assert opts["--syslog"] == f"tls://{log_host}:6514"
    assert opts["--syslog-ca"] == str(work / "pki" / "ca.crt")
    assert opts["--spool"] == str(work / "sensors" / "nyc-sensor1" / "spool")


def test_the_flow_policy_lets_every_sensor_send_to_the_log_host(
    auditors: list[SensorAuditor],
) -> None:
    """What the lab's sensors send (syslog over TLS) is what the inventory's policy allows,
    so an enforcing firewall passes it: ``devices-to-hq-services``, mgmt -> HQ servers."""
    inv = load_inventory(REPO / "inventory")
    engine = FlowPolicyEngine(inv)
    for a in auditors:
        assert a.log_host is not None
        decision = engine.decide(a.address, a.log_host, Protocol.TCP, SYSLOG_TLS_PORT)
        assert decision.allowed, (a.sensor, decision.reason)
        assert decision.rule is not None
        assert decision.rule.id == "devices-to-hq-services"


def test_no_forwarding_without_the_lab_ca(auditors: list[SensorAuditor]) -> None:
    argv = auditor_argv(auditors[0], Path("/lab"))
    assert "--syslog" not in argv
    assert "--spool" not in argv


def test_read_events_keeps_the_last_version_of_each_incident(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    lines = [
        {"id": "a", "detector": "port_scan", "count": 10},
        {"id": "b", "detector": "arp_spoof", "count": 1},
        {"id": "a", "detector": "port_scan", "count": 40},
    ]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"id": "c", "trunc')
    assert read_events(path) == [lines[2], lines[1]]
    assert read_events(tmp_path / "missing.jsonl") == []
