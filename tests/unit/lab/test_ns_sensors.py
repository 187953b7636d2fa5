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
from netwarden.lab.ns.plan import plan_lab
from netwarden.lab.ns.sensors import (
    METRICS_PORT,
    SensorAuditor,
    auditor_argv,
    read_events,
    sensor_auditors,
)

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
