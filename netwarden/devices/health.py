"""What a device reports about its health, as plain data: the exporter's ``health`` module reads it.

A session that can report health satisfies :class:`HealthSource` besides
:class:`~netwarden.devices.base.DeviceSession`: IOS through NAPALM's getters
(``get_facts``, ``get_interfaces``, ``get_interfaces_counters``, ``get_environment``),
an nftables firewall through ``ip -j -s link`` and its named counters (one per flow
policy rule, named after the rule id). Each reading is taken on its own: one that
fails is recorded in :attr:`DeviceHealth.failed` (by reading name) and the others
are still reported.

Examples:
    >>> iface = interface_from_napalm("Gi1/0/1", {"is_enabled": True, "is_up": False, "speed": 1000.0}, {})
    >>> (iface.admin_up, iface.oper_up, iface.speed_bytes)
    (True, False, 125000000.0)
    >>> nft_counters('{"nftables": [{"counter": {"name": "web_in", "packets": 3, "bytes": 180}}]}')
    {'web_in': (3, 180)}
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from netwarden.devices.base import Facts

logger = logging.getLogger(__name__)

_MBIT_BYTES = 1_000_000 / 8


@dataclass(frozen=True)
class InterfaceHealth:
    """One interface: state, speed (bytes per second, None if unknown) and counters.

    ``counters`` holds whatever the platform counts, by the exporter's names:
    ``receive_bytes``, ``transmit_bytes``, ``receive_packets``, ``transmit_packets``,
    ``receive_errors``, ``transmit_errors``, ``receive_discards``, ``transmit_discards``.
    """

    name: str
    admin_up: bool
    oper_up: bool
    speed_bytes: float | None = None
    counters: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class DeviceHealth:
    """One device's health reading. ``None``/empty: the platform does not report it."""

    facts: Facts | None = None
    uptime_seconds: float | None = None
    interfaces: tuple[InterfaceHealth, ...] = ()
    cpu_ratio: Mapping[str, float] = field(default_factory=dict)
    memory_used_bytes: float | None = None
    memory_available_bytes: float | None = None
    temperature_celsius: Mapping[str, float] = field(default_factory=dict)
    rule_counters: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """Named nftables counters: name -> (packets, bytes)."""
    readings: tuple[str, ...] = ()
    """The readings tried, in order (``facts``, ``interfaces``, ``counters`` ...)."""
    failed: Mapping[str, str] = field(default_factory=dict)
    """Reading -> why it failed (a device error message; never a credential)."""


@runtime_checkable
class HealthSource(Protocol):
    """A session that reports :class:`DeviceHealth` (an open session; never changes the device)."""

    def get_health(self) -> DeviceHealth: ...


_NAPALM_COUNTERS = {
    "rx_octets": "receive_bytes",
    "tx_octets": "transmit_bytes",
    "rx_errors": "receive_errors",
    "tx_errors": "transmit_errors",
    "rx_discards": "receive_discards",
    "tx_discards": "transmit_discards",
}
_PACKETS = ("unicast", "multicast", "broadcast")


def interface_from_napalm(
    name: str, iface: Mapping[str, Any], counters: Mapping[str, Any]
) -> InterfaceHealth:
    """An :class:`InterfaceHealth` from NAPALM's ``get_interfaces`` and ``get_interfaces_counters``
    entries (speed in Mbit/s; negative or missing counters are left out)."""
    speed = iface.get("speed")
    out: dict[str, float] = {}
    for key, metric in _NAPALM_COUNTERS.items():
        value = counters.get(key)
        if isinstance(value, int | float) and value >= 0:
            out[metric] = float(value)
    for way, prefix in (("receive", "rx"), ("transmit", "tx")):
        parts = [counters.get(f"{prefix}_{kind}_packets") for kind in _PACKETS]
        if any(isinstance(p, int | float) and p >= 0 for p in parts):
            out[f"{way}_packets"] = float(
                sum(p for p in parts if isinstance(p, int | float) and p >= 0)
            )
    return InterfaceHealth(
        name=name,
        admin_up=bool(iface.get("is_enabled")),
        oper_up=bool(iface.get("is_up")),
        speed_bytes=float(speed) * _MBIT_BYTES
        if isinstance(speed, int | float) and speed > 0
        else None,
        counters=out,
    )


def environment_from_napalm(
    env: Mapping[str, Any],
) -> tuple[dict[str, float], float | None, float | None, dict[str, float]]:
    """CPU ratios by CPU, used and available memory (bytes), temperatures by sensor (°C)."""
    cpu = {
        str(k): float(v["%usage"]) / 100
        for k, v in (env.get("cpu") or {}).items()
        if isinstance(v, Mapping) and isinstance(v.get("%usage"), int | float)
    }
    memory = env.get("memory") or {}
    used = memory.get("used_ram")
    available = memory.get("available_ram")
    temps = {
        str(k): float(v["temperature"])
        for k, v in (env.get("temperature") or {}).items()
        if isinstance(v, Mapping) and isinstance(v.get("temperature"), int | float)
    }
    return (
        cpu,
        float(used) if isinstance(used, int | float) and used >= 0 else None,
        float(available) if isinstance(available, int | float) and available >= 0 else None,
        temps,
    )


def nft_counters(text: str) -> dict[str, tuple[int, int]]:
    """Named counters from ``nft -j list counters``: name -> (packets, bytes).

    Raises:
        ValueError: the text is not nft's JSON.
    """
    data = json.loads(text)
    out: dict[str, tuple[int, int]] = {}
    for item in data.get("nftables", []):
        counter = item.get("counter") if isinstance(item, dict) else None
        if isinstance(counter, dict) and "name" in counter:
            out[str(counter["name"])] = (
                int(counter.get("packets", 0)),
                int(counter.get("bytes", 0)),
            )
    return out


def links_from_ip(text: str) -> tuple[InterfaceHealth, ...]:
    """Interfaces from ``ip -j -s link show`` (state and the kernel's counters).

    Raises:
        ValueError: the text is not ip's JSON.
    """
    links: list[dict[str, Any]] = json.loads(text)
    out = []
    for link in links:
        if "ifname" not in link:
            continue
        flags = link.get("flags", [])
        stats = link.get("stats64") or {}
        counters: dict[str, float] = {}
        for way, key in (("receive", "rx"), ("transmit", "tx")):
            s = stats.get(key) or {}
            for src, metric in (
                ("bytes", "bytes"),
                ("packets", "packets"),
                ("errors", "errors"),
                ("dropped", "discards"),
            ):
                if isinstance(s.get(src), int):
                    counters[f"{way}_{metric}"] = float(s[src])
        out.append(
            InterfaceHealth(
                name=str(link["ifname"]),
                admin_up="UP" in flags,
                oper_up="LOWER_UP" in flags and link.get("operstate") != "DOWN",
                counters=counters,
            )
        )
    return tuple(out)
