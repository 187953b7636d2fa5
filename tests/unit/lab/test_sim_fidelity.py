"""Fidelity: NAPALM reads the simulator as it reads a real device.

For each case folder of real IOS outputs in ``../shared/data/device_outputs/ios``
(``<test_get_x>/{<command>.txt, expected_result.json}``, NAPALM's mocked-data
layout), NAPALM's unmodified IOS driver parses the real output; a simulator context
describing the same device is built from that parse, and NAPALM parses the
simulator's output for it. Both results must have the same keys and value types,
recursively, and (except for wording that names a different build) the same values.

The shared data lives beside the checkout; the module skips when it is absent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from netwarden.lab.sim.showmodel import (
    ArpEntryView,
    InterfaceCounters,
    InterfaceView,
    LldpNeighborView,
    ShowContext,
)
from tests.unit.lab.ios_sim_driver import file_driver, run_show, sim_driver

REPO = Path(__file__).resolve().parents[3]
DEVICE_OUTPUTS = REPO / ".." / "shared" / "data" / "device_outputs" / "ios"

pytestmark = [
    pytest.mark.shared_data,
    pytest.mark.skipif(
        not DEVICE_OUTPUTS.is_dir(), reason=f"shared device outputs absent: {DEVICE_OUTPUTS}"
    ),
]

BASE = ShowContext(
    hostname="sim",
    domain_name="example.org",
    model="WS-C2960G-8TC-L",
    serial="FOC0000X0AA",
    os_version="15.0(2)SE4",
    image="flash:c2960-lanbasek9-mz.150-2.SE4.bin",
    uptime_seconds=3600.0,
    now=datetime(2026, 1, 5, 10, 0, 0),
    timezone="UTC",
    running_config="",
    startup_config="",
    interfaces=(),
)


def _dotted(mac: str) -> str:
    """``00:24:F7:DD:77:00`` -> ``0024.f7dd.7700`` (NAPALM's form back to Cisco's)."""
    digits = mac.replace(":", "").lower()
    return ".".join(digits[i : i + 4] for i in range(0, 12, 4))


# A builder turns NAPALM's parse of a real device into a context for the same device.
Builder = Callable[[Any], ShowContext]


def _arp(real: list[dict[str, Any]]) -> ShowContext:
    entries = tuple(
        ArpEntryView(
            e["ip"], _dotted(e["mac"]), e["interface"], None if e["age"] < 0 else int(e["age"])
        )
        for e in real
    )
    return ShowContext(**{**BASE.__dict__, "arp": entries})


def _config(real: dict[str, str]) -> ShowContext:
    return ShowContext(
        **{
            **BASE.__dict__,
            "running_config": real["running"] + "\n",
            "startup_config": real["startup"] + "\n",
        }
    )


def _environment(real: dict[str, Any]) -> ShowContext:
    return ShowContext(
        **{
            **BASE.__dict__,
            "cpu_percent": real["cpu"][0]["%usage"],
            "memory_total_bytes": real["memory"]["available_ram"],
            "memory_used_bytes": real["memory"]["used_ram"],
            "temperature_celsius": real["temperature"]["system"]["temperature"],
        }
    )


def _facts(real: dict[str, Any]) -> ShowContext:
    version = re.search(r"Version ([^,]+)", real["os_version"])
    return ShowContext(
        **{
            **BASE.__dict__,
            "hostname": real["hostname"],
            "domain_name": real["fqdn"].split(".", 1)[1],
            "model": real["model"],
            "serial": real["serial_number"],
            "os_version": version.group(1) if version else BASE.os_version,
            "uptime_seconds": real["uptime"],
            "interfaces": tuple(InterfaceView(name) for name in real["interface_list"]),
        }
    )


def _interfaces(real: dict[str, dict[str, Any]]) -> ShowContext:
    views = tuple(
        InterfaceView(
            name,
            description=data["description"],
            shutdown=not data["is_enabled"],
            line_protocol_up=data["is_up"],
            mac=_dotted(data["mac_address"]) if data["mac_address"] else "0000.0000.0000",
            mtu=data["mtu"],
            speed_mbps=max(int(data["speed"]), 1),
            bandwidth_kbit=round(data["speed"] * 1000),
        )
        for name, data in real.items()
    )
    return ShowContext(**{**BASE.__dict__, "interfaces": views})


def _counters(real: dict[str, dict[str, int]]) -> ShowContext:
    views = tuple(
        InterfaceView(
            name,
            counters=InterfaceCounters(
                rx_packets=c["rx_unicast_packets"],
                tx_packets=c["tx_unicast_packets"],
                rx_bytes=c["rx_octets"],
                tx_bytes=c["tx_octets"],
                rx_broadcast=max(c["rx_broadcast_packets"], 0),
                rx_multicast=max(c["rx_multicast_packets"], 0),
                rx_errors=c["rx_errors"],
                tx_errors=c["tx_errors"],
                rx_discards=max(c["rx_discards"], 0),
                tx_discards=max(c["tx_discards"], 0),
            ),
        )
        for name, c in real.items()
    )
    return ShowContext(**{**BASE.__dict__, "interfaces": views})


def _lldp(real: dict[str, list[dict[str, str]]]) -> ShowContext:
    neighbors = tuple(
        LldpNeighborView(local, n["hostname"], n["port"])
        for local, entries in real.items()
        for n in entries
    )
    return ShowContext(**{**BASE.__dict__, "lldp_neighbors": neighbors})


def _users(real: dict[str, dict[str, Any]]) -> ShowContext:
    lines: list[str] = []
    for name, user in real.items():
        privilege = f" privilege {user['level']}" if user["level"] != 1 else ""
        secret = f" secret 5 {user['password']}" if user["password"] else ""
        lines.append(f"username {name}{privilege}{secret}")
    lines.append("ip ssh pubkey-chain")
    for name, user in real.items():
        if user["sshkeys"]:
            lines.append(f"  username {name}")
            lines += [f"   key-hash {key}" for key in user["sshkeys"]]
    return ShowContext(**{**BASE.__dict__, "running_config": "\n".join(lines) + "\n"})


BUILDERS: dict[str, Builder] = {
    "get_arp_table": _arp,
    "get_config": _config,
    "get_environment": _environment,
    "get_facts": _facts,
    "get_interfaces": _interfaces,
    "get_interfaces_counters": _counters,
    "get_lldp_neighbors": _lldp,
    "get_users": _users,
}
# Values that name the real device's build or NVRAM and so differ by design: the
# simulator's image is not the real one, and IOS prefixes the startup config with
# "Using N out of M bytes" where the recorded device (a CSR) did not.
DIFFERENT_BY_DESIGN: dict[str, set[str]] = {
    "get_facts": {"os_version"},
    "get_config": {"startup"},
}


def _cases() -> list[tuple[str, Path]]:
    if not DEVICE_OUTPUTS.is_dir():
        return []
    folders = sorted({path.parent for path in DEVICE_OUTPUTS.glob("*/**/expected_result.json")})
    cases = []
    for folder in folders:
        test_name = folder.relative_to(DEVICE_OUTPUTS).parts[0]
        cases.append((test_name.removeprefix("test_"), folder))
    return cases


CASES = _cases()
CASE_IDS = [
    "/".join((getter, *folder.relative_to(DEVICE_OUTPUTS).parts[1:])) for getter, folder in CASES
]


def shape(value: Any) -> Any:
    """The keys and value types of a getter result, recursively (values dropped)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


def _masked(getter: str, result: Any) -> Any:
    ignored = DIFFERENT_BY_DESIGN.get(getter, set())
    if isinstance(result, dict):
        return {key: value for key, value in result.items() if key not in ignored}
    return result


def _parse_both(getter: str, folder: Path) -> tuple[Any, Any]:
    real = getattr(file_driver(folder), getter)()
    builder = BUILDERS.get(getter)
    if builder is None:
        pytest.fail(f"no comparable simulator context for {getter} ({folder}): add a builder")
    simulated = getattr(sim_driver(builder(real)), getter)()
    return real, simulated


@pytest.mark.parametrize(("getter", "folder"), CASES, ids=CASE_IDS)
def test_real_output_parses_as_napalm_expects(getter: str, folder: Path) -> None:
    """The harness itself: NAPALM's parse of the real files is the recorded expectation."""
    real = getattr(file_driver(folder), getter)()
    expected = json.loads((folder / "expected_result.json").read_text())
    assert json.loads(json.dumps(real)) == expected


@pytest.mark.parametrize(("getter", "folder"), CASES, ids=CASE_IDS)
def test_simulator_parse_has_the_same_keys_and_types(getter: str, folder: Path) -> None:
    real, simulated = _parse_both(getter, folder)
    assert shape(simulated) == shape(real)


@pytest.mark.parametrize(("getter", "folder"), CASES, ids=CASE_IDS)
def test_simulator_parse_has_the_same_values(getter: str, folder: Path) -> None:
    real, simulated = _parse_both(getter, folder)
    assert _masked(getter, simulated) == _masked(getter, real)


# Lines that carry no data (table headings, fixed wording) must be the device's own.
HEADINGS = [
    ("test_get_arp_table", "show arp | exclude Incomplete", "show_arp___exclude_Incomplete", [0]),
    ("test_get_facts", "show ip interface brief", "show_ip_interface_brief", [0]),
    ("test_get_lldp_neighbors", "show lldp neighbors", "show_lldp_neighbors", [0, 1, 2, 3, 4]),
    (
        "test_get_interfaces_counters",
        "show interface summary",
        "show_interface_summary",
        [*range(9)],
    ),
    ("test_get_environment", "show proc cpu", "show_proc_cpu", [1]),
    ("test_get_environment", "show env temperature status", "show_env_temperature_status", [2, 3]),
]


@pytest.mark.parametrize(
    ("case", "command", "stem", "indexes"), HEADINGS, ids=[row[2] for row in HEADINGS]
)
def test_fixed_lines_match_the_real_device(
    case: str, command: str, stem: str, indexes: list[int]
) -> None:
    path = DEVICE_OUTPUTS / case / f"{stem}.txt"
    if not path.exists():
        pytest.skip(f"no recorded output {path}")
    real = getattr(file_driver(path.parent), case.removeprefix("test_"))()
    builder = BUILDERS[case.removeprefix("test_")]
    real_lines = path.read_text().strip().splitlines()
    simulated_lines = run_show(command, builder(real)).strip().splitlines()
    for index in indexes:
        assert simulated_lines[index] == real_lines[index], f"line {index} of {command!r}"
