"""What the access exporter counts and remembers, and the metric families of it.

:class:`AccessLedger` takes a received message (bytes and the sender's address),
parses it, labels the access event and counts it:

- ``device``: the inventory device the sender's address belongs to (management
  address or connection host). When several devices share the address (a
  simulated fleet on 127.0.0.1) the message's hostname picks one of *those*; a
  name alone is never trusted: an unknown sender, or a name that is not one of the
  devices at that address, is ``unknown`` (site ``unknown``). A message from a
  *relay* (a log host the settings name, forwarding what the servers sent it, as
  HQ's ``jed-log1`` does) names its device by its hostname, which must be an
  inventory device's name; any other name is ``unknown``.
- ``user_class``: ``automation`` for the inventory's connection users (and those
  given), ``other`` otherwise: never the user name (cardinality, privacy).
- ``source_zone``: the zone of the login's source address in the flow policy's map
  (:class:`~netwarden.inventory.flows.FlowPolicyEngine`, as the auditor places
  addresses): ``site/zone``, ``internet`` or ``unknown``.

The recent events are a bounded deque and, when a path is given, a JSON-lines file
rotated once (``.1``) at ``max_log_bytes``. Nothing of an unparsed message is kept
but its count by reason.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from ipaddress import ip_address
from pathlib import Path
from typing import Final

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from collectors.access.events import access_event
from collectors.access.syslog import UnparsedError, parse
from netwarden.inventory.flows import FlowPolicyEngine
from netwarden.inventory.models import Inventory

logger = logging.getLogger(__name__)

UNKNOWN: Final = "unknown"
UNPARSED_REASONS: Final = ("syslog", "oversize", "framing")
TRANSPORTS: Final = ("udp", "tcp")


@dataclass(frozen=True)
class LedgerSettings:
    recent: int = 1000
    events_log: Path | None = None
    max_log_bytes: int = 10 * 1024 * 1024
    automation_users: frozenset[str] = frozenset()
    relays: frozenset[str] = frozenset()
    """Inventory names of log hosts whose forwarded messages are named by their hostname."""


def _addresses_of(inv: Inventory, names: frozenset[str]) -> frozenset[str]:
    """Every address (management, connection, interfaces) of the named devices.

    Raises:
        ValueError: a name is not an inventory device.
    """
    unknown = sorted(n for n in names if n not in inv.devices)
    if unknown:
        raise ValueError(
            f"relay {', '.join(unknown)}: not an inventory device (expected a log host's name)"
        )
    found: set[str] = set()
    for name in names:
        device = inv.devices[name]
        found.add(str(device.mgmt_address))
        if device.connection is not None:
            found.add(device.connection.host)
        found.update(str(i.address.ip) for i in device.interfaces if i.address is not None)
    return frozenset(found)


class AccessLedger:
    """Counters and recent events of access messages (thread-safe)."""

    def __init__(self, inv: Inventory, settings: LedgerSettings | None = None) -> None:
        self.settings = settings or LedgerSettings()
        self.lock = threading.Lock()
        self.by_address: dict[str, list[tuple[str, str]]] = {}
        for device in inv.devices.values():
            addresses = {str(device.mgmt_address)}
            if device.connection is not None:
                addresses.add(device.connection.host)
            for address in addresses:
                self.by_address.setdefault(address, []).append((device.name, device.site))
        self.by_name = {d.name.lower(): (d.name, d.site) for d in inv.devices.values()}
        self.relay_addresses = _addresses_of(inv, self.settings.relays)
        users = {d.connection.username for d in inv.devices.values() if d.connection}
        self.automation = frozenset(u for u in users if u) | self.settings.automation_users
        self.policy = FlowPolicyEngine(inv)
        self.events: Counter[tuple[str, str, str, str, str, str]] = Counter()
        self.messages: Counter[tuple[str, str]] = Counter()
        self.unparsed: Counter[str] = Counter()
        self.recent: deque[dict[str, str]] = deque(maxlen=self.settings.recent)

    # ------------------------------------------------------------ labels
    def device_of(self, sender: str, hostname: str | None) -> tuple[str, str]:
        """(device, site) of a message from ``sender`` naming ``hostname``."""
        if sender in self.relay_addresses:
            found = self.by_name.get(hostname.lower()) if hostname is not None else None
            return found if found is not None else (UNKNOWN, UNKNOWN)
        candidates = self.by_address.get(sender, [])
        if len(candidates) == 1:
            return candidates[0]
        for name, site in candidates:
            if hostname is not None and hostname.lower() == name.lower():
                return name, site
        return UNKNOWN, UNKNOWN

    def zone_of(self, source: str) -> str:
        try:
            address = ip_address(source)
        except ValueError:
            return UNKNOWN
        if address.version != 4:
            return UNKNOWN
        placement = self.policy.place(str(address))
        return placement.label

    # ----------------------------------------------------------- counting
    def count_unparsed(self, reason: str, transport: str) -> None:
        with self.lock:
            self.unparsed[reason] += 1
            self.messages[(transport, "unparsed")] += 1

    def receive(self, data: bytes, sender: str, transport: str) -> None:
        """Count one message (never raises for its content)."""
        try:
            message = parse(data)
        except UnparsedError as exc:
            logger.debug("unparsed syslog message from %s (%d bytes): %s", sender, len(data), exc)
            self.count_unparsed("syslog", transport)
            return
        event = access_event(message)
        if event is None:
            with self.lock:
                self.messages[(transport, "other")] += 1
            return
        device, site = self.device_of(sender, message.hostname)
        user_class = "automation" if event.user in self.automation else "other"
        zone = self.zone_of(event.source)
        record = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "device": device,
            "site": site,
            "sender": sender,
            "event": event.event,
            "outcome": event.outcome,
            "user": event.user,
            "user_class": user_class,
            "source": event.source,
            "source_zone": zone,
        }
        with self.lock:
            self.messages[(transport, "access")] += 1
            self.events[(device, site, event.event, event.outcome, user_class, zone)] += 1
            self.recent.append(record)
            self._write(record)

    def _write(self, record: dict[str, str]) -> None:
        path = self.settings.events_log
        if path is None:
            return
        try:
            if path.exists() and path.stat().st_size >= self.settings.max_log_bytes:
                path.replace(path.with_name(path.name + ".1"))
            # user names and addresses: readable by the owner only
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as out:
                out.write(json.dumps(record, sort_keys=True) + "\n")
        except OSError as exc:
            logger.warning("cannot write the access events log %s: %s", path, exc)

    def recent_lines(self) -> str:
        with self.lock:
            return "".join(json.dumps(r, sort_keys=True) + "\n" for r in self.recent)


class AccessCollector(Collector):
    """``netwarden_access_*``: events by labels, messages by transport and result, unparsed."""

    def __init__(self, ledger: AccessLedger) -> None:
        self.ledger = ledger

    def collect(self) -> Iterator[Metric]:
        ledger = self.ledger
        with ledger.lock:
            events = dict(ledger.events)
            messages = dict(ledger.messages)
            unparsed = dict(ledger.unparsed)
            recent = len(ledger.recent)
        family = CounterMetricFamily(
            "netwarden_access_events",
            "Access events from syslog (logins, SSH user auth, invalid users, config changes).",
            labels=["device", "site", "event", "outcome", "user_class", "source_zone"],
        )
        for labels, value in sorted(events.items()):
            family.add_metric(list(labels), value)
        yield family
        received = CounterMetricFamily(
            "netwarden_access_syslog_messages",
            "Syslog messages received, by transport and result (access, other, unparsed).",
            labels=["transport", "result"],
        )
        for transport in TRANSPORTS:
            for result in ("access", "other", "unparsed"):
                received.add_metric([transport, result], messages.get((transport, result), 0))
        yield received
        bad = CounterMetricFamily(
            "netwarden_access_syslog_unparsed",
            "Syslog messages not understood, by reason (syslog format, oversize, framing).",
            labels=["reason"],
        )
        for reason in UNPARSED_REASONS:
            bad.add_metric([reason], unparsed.get(reason, 0))
        yield bad
        yield GaugeMetricFamily(
            "netwarden_access_recent_events", "Events in the recent-events log.", value=recent
        )
