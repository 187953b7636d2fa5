"""Metric families of the ``health`` and ``config`` modules, from readings already taken.

Names follow the design's conventions: ``netwarden_`` prefix, base units, counters
end in ``_total``, facts in ``netwarden_device_info``. No label carries an address
or a credential; ``site`` and ``role`` appear only in the info metric (Prometheus's
own ``site``/``role`` come from service discovery; the generated configuration drops
the exported copies).

Examples:
    >>> from netwarden.devices.health import DeviceHealth, InterfaceHealth
    >>> h = DeviceHealth(interfaces=(InterfaceHealth("Gi1/0/1", True, False),))
    >>> [m.name for m in health_families(h, site="nyc", role="access")]
    ['netwarden_interface_admin_status', 'netwarden_interface_oper_status']
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from netutils.interface import canonical_interface_name
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from netwarden.devices.health import DeviceHealth
from netwarden.inventory.models import Interface

logger = logging.getLogger(__name__)

_COUNTERS = {
    "receive_bytes": "Bytes received on the interface.",
    "transmit_bytes": "Bytes sent on the interface.",
    "receive_packets": "Packets received on the interface (unicast, multicast, broadcast).",
    "transmit_packets": "Packets sent on the interface (unicast, multicast, broadcast).",
    "receive_errors": "Receive errors on the interface.",
    "transmit_errors": "Transmit errors on the interface.",
    "receive_discards": "Received packets discarded on the interface.",
    "transmit_discards": "Packets to send discarded on the interface.",
}


def health_families(health: DeviceHealth, *, site: str, role: str) -> Iterator[Metric]:
    """Facts, uptime, interfaces, environment and nftables rule counters of one reading."""
    if health.facts is not None:
        info = GaugeMetricFamily(
            "netwarden_device_info",
            "Device facts as reported by the device (value 1); site and role from the inventory.",
            labels=["hostname", "model", "os_version", "serial_number", "site", "role"],
        )
        f = health.facts
        info.add_metric([f.hostname, f.model, f.os_version, f.serial_number, site, role], 1)
        yield info
    if health.uptime_seconds is not None:
        yield GaugeMetricFamily(
            "netwarden_device_uptime_seconds",
            "Seconds since the device booted.",
            value=health.uptime_seconds,
        )
    yield from _interface_families(health)
    yield from _environment_families(health)
    if health.rule_counters:
        packets = CounterMetricFamily(
            "netwarden_firewall_rule_packets",
            "Packets that matched the firewall rule (named counter of the flow policy rule id).",
            labels=["rule"],
        )
        size = CounterMetricFamily(
            "netwarden_firewall_rule_bytes",
            "Bytes that matched the firewall rule (named counter of the flow policy rule id).",
            labels=["rule"],
        )
        for rule, (p, b) in sorted(health.rule_counters.items()):
            packets.add_metric([rule], p)
            size.add_metric([rule], b)
        yield packets
        yield size


def interface_info_family(
    interfaces: Iterable[Interface], health: DeviceHealth
) -> Iterator[Metric]:
    """``netwarden_interface_info{interface, mode, zone}``: what the inventory says each
    interface is (a WAN link, an access port ...), so alert rules and dashboards select
    interfaces by role (``mode="wan"``) rather than by name.

    ``interface`` is the name the device reports when it is the same interface written
    another way (``Gi1/0/1`` for ``GigabitEthernet1/0/1``), so the info joins the
    device's own series ``on (instance, interface)``; else the inventory's name.

    Examples:
        >>> from netwarden.devices.health import InterfaceHealth
        >>> from netwarden.inventory.models import Interface, InterfaceMode
        >>> wan = Interface.model_construct(
        ...     name="GigabitEthernet0/0", mode=InterfaceMode.WAN, zone="internet")
        >>> h = DeviceHealth(interfaces=(InterfaceHealth("Gi0/0", True, True),))
        >>> [s.labels for s in next(interface_info_family([wan], h)).samples]
        [{'interface': 'Gi0/0', 'mode': 'wan', 'zone': 'internet'}]
    """
    items = list(interfaces)
    if not items:
        return
    reported = {_canonical(i.name): i.name for i in health.interfaces}
    info = GaugeMetricFamily(
        "netwarden_interface_info",
        "The interface as the inventory describes it (value 1): mode (access, trunk, svi, "
        "routed, wan, capture) and zone.",
        labels=["interface", "mode", "zone"],
    )
    for iface in items:
        name = reported.get(_canonical(iface.name), iface.name)
        info.add_metric([name, str(iface.mode), iface.zone or ""], 1)
    yield info


def _canonical(name: str) -> str:
    """The interface's full IOS name (netutils); a name it does not know is kept."""
    return canonical_interface_name(name, verify=False).lower()


def _interface_families(health: DeviceHealth) -> Iterator[Metric]:
    if not health.interfaces:
        return
    admin = GaugeMetricFamily(
        "netwarden_interface_admin_status",
        "1 if the interface is administratively enabled (no shutdown), else 0.",
        labels=["interface"],
    )
    oper = GaugeMetricFamily(
        "netwarden_interface_oper_status",
        "1 if the interface is operationally up, else 0.",
        labels=["interface"],
    )
    speed = GaugeMetricFamily(
        "netwarden_interface_speed_bytes",
        "Interface speed in bytes per second (as the device reports it).",
        labels=["interface"],
    )
    counters = {
        key: CounterMetricFamily(f"netwarden_interface_{key}", text, labels=["interface"])
        for key, text in _COUNTERS.items()
    }
    for iface in health.interfaces:
        admin.add_metric([iface.name], 1 if iface.admin_up else 0)
        oper.add_metric([iface.name], 1 if iface.oper_up else 0)
        if iface.speed_bytes is not None:
            speed.add_metric([iface.name], iface.speed_bytes)
        for key, value in iface.counters.items():
            if key in counters:
                counters[key].add_metric([iface.name], value)
    yield admin
    yield oper
    for family in (speed, *counters.values()):
        if family.samples:
            yield family


def _environment_families(health: DeviceHealth) -> Iterator[Metric]:
    if health.cpu_ratio:
        cpu = GaugeMetricFamily(
            "netwarden_device_cpu_usage_ratio",
            "CPU usage (0-1) as the device reports it.",
            labels=["cpu"],
        )
        for name, ratio in sorted(health.cpu_ratio.items()):
            cpu.add_metric([name], ratio)
        yield cpu
    if health.memory_used_bytes is not None:
        yield GaugeMetricFamily(
            "netwarden_device_memory_used_bytes", "Memory in use.", value=health.memory_used_bytes
        )
    if health.memory_available_bytes is not None:
        yield GaugeMetricFamily(
            "netwarden_device_memory_available_bytes",
            "Memory available (as the device reports it).",
            value=health.memory_available_bytes,
        )
    if health.temperature_celsius:
        temp = GaugeMetricFamily(
            "netwarden_device_temperature_celsius", "Temperature of a sensor.", labels=["sensor"]
        )
        for name, value in sorted(health.temperature_celsius.items()):
            temp.add_metric([name], value)
        yield temp


@dataclass(frozen=True)
class ConfigState:
    """What the ``config`` module found for one device (None: not known)."""

    intended_diff_lines: int | None = None
    backup_diff_lines: int | None = None
    last_backup: float | None = None
    """Unix time of the last backup run that read the device."""
    last_change: float | None = None
    """Unix time of the last commit that changed the device's backup."""
    last_change_user: str = ""
    now: float = 0.0


def config_families(state: ConfigState) -> Iterator[Metric]:
    """Drift against intended and backup, backup age, last change time and user."""
    drift = GaugeMetricFamily(
        "netwarden_config_drift",
        "1 if the running config differs from the compared one (intended or last backup), else 0.",
        labels=["against"],
    )
    lines = GaugeMetricFamily(
        "netwarden_config_drift_lines",
        "Changed lines (+/-) between the running config and the compared one.",
        labels=["against"],
    )
    for against, count in (
        ("intended", state.intended_diff_lines),
        ("backup", state.backup_diff_lines),
    ):
        if count is not None:
            drift.add_metric([against], 1 if count else 0)
            lines.add_metric([against], count)
    if drift.samples:
        yield drift
        yield lines
    if state.last_backup is not None:
        yield GaugeMetricFamily(
            "netwarden_config_last_backup_timestamp_seconds",
            "Unix time of the last backup run that read this device.",
            value=state.last_backup,
        )
        yield GaugeMetricFamily(
            "netwarden_config_backup_age_seconds",
            "Seconds since the last backup run that read this device.",
            value=max(0.0, state.now - state.last_backup),
        )
    if state.last_change is not None:
        yield GaugeMetricFamily(
            "netwarden_config_last_change_timestamp_seconds",
            "Unix time of the last recorded change of the device's config (backup history).",
            value=state.last_change,
        )
        who = GaugeMetricFamily(
            "netwarden_config_last_change_info",
            "Who made the last recorded change of the device's config (value 1).",
            labels=["user"],
        )
        who.add_metric([state.last_change_user or "unknown"], 1)
        yield who


def diff_lines(diff: str) -> int:
    """Changed lines of a unified diff (``+``/``-`` lines, headers not counted).

    Examples:
        >>> diff_lines("--- a\\n+++ b\\n@@ -1 +1 @@\\n-x\\n+y\\n z")
        2
    """
    return sum(
        1
        for line in diff.splitlines()
        if line[:1] in {"+", "-"} and not line.startswith(("+++", "---"))
    )
