"""Auditor events as Elastic Common Schema (ECS 8.x) documents, for a SIEM to ingest unchanged.

``--events-format ecs`` (the JSON-lines file) and ``--syslog-format ecs`` (the
syslog MSG) write :func:`ecs_document` instead of the event's own JSON. Every field
used is an ECS field, checked against the ECS reference (event, rule, source,
destination, observer, related, labels, user, ecs); what ECS has no field for is
under ``netwarden.*`` (custom fields go under a name of one's own, as ECS advises),
so nothing of the event is lost: ``netwarden.count``, ``netwarden.severity`` (our
word), ``netwarden.evidence``, ``netwarden.schema_version``.

Documents are nested objects (``{"event": {"kind": "alert"}}``), the form ECS
documents and Elasticsearch stores; dotted names in a query (``event.kind``) find
them. The mapping table is in ``docs/auditor.md`` (section "Events to HQ").
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from collectors.auditor.events import Event, Severity

ECS_VERSION = "8.11.0"
"""The ECS version the documents follow (``ecs.version``)."""

ECS_SEVERITY = {
    Severity.INFO: 1,
    Severity.LOW: 2,
    Severity.MEDIUM: 3,
    Severity.HIGH: 4,
    Severity.CRITICAL: 5,
}
"""``event.severity``: ECS leaves the scale to the source; ours grows with the severity."""

_MAC = re.compile(r"^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$")


def _timestamp(event_time: Any) -> str:
    return str(event_time.isoformat(timespec="microseconds").replace("+00:00", "Z"))


def _endpoint(address: str) -> dict[str, Any]:
    """``{"ip": ...}`` or ``{"mac": ...}`` (ECS: upper case, hyphens) for an event's src/dst."""
    if not address:
        return {}
    try:
        return {"ip": str(ipaddress.ip_address(address))}
    except ValueError:
        pass
    if _MAC.match(address):
        return {"mac": address.upper().replace(":", "-")}
    return {"address": address}


def ecs_document(event: Event) -> dict[str, Any]:
    """The ECS document of an event (see the module docstring and docs/auditor.md).

    Examples:
        >>> from datetime import UTC, datetime
        >>> t = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        >>> ev = Event(id="i", ts=t, first_seen=t, last_seen=t, detector="port_scan",
        ...            severity=Severity.HIGH, src="10.0.0.1", summary="scan", count=3)
        >>> doc = ecs_document(ev)
        >>> doc["event"]["kind"], doc["rule"]["name"], doc["source"], doc["netwarden"]["count"]
        ('alert', 'port_scan', {'ip': '10.0.0.1'}, 3)
    """
    source, destination = _endpoint(event.src), _endpoint(event.dst)
    evidence = event.evidence
    port = evidence.get("port")
    if destination and isinstance(port, int) and not isinstance(port, bool):
        destination["port"] = port
    doc: dict[str, Any] = {
        "@timestamp": _timestamp(event.ts),
        "ecs": {"version": ECS_VERSION},
        "message": event.summary,
        "event": {
            "kind": "alert",
            "category": ["network", "intrusion_detection"],
            "type": ["info"],
            "id": event.id,
            "severity": ECS_SEVERITY[event.severity],
            "start": _timestamp(event.first_seen),
            "end": _timestamp(event.last_seen),
            "module": "netwarden",
            "dataset": "netwarden.auditor",
        },
        "rule": {"name": event.detector},
        "observer": {"type": "sensor", "vendor": "netwarden", "product": "netwarden auditor"},
        "netwarden": {
            "schema_version": event.schema_version,
            "severity": event.severity.value,
            "count": event.count,
            "evidence": evidence,
        },
    }
    if event.sensor:
        doc["observer"]["name"] = event.sensor
    if event.site:
        doc["labels"] = {"site": event.site}
    if source:
        doc["source"] = source
    if destination:
        doc["destination"] = destination
    ips = [e["ip"] for e in (source, destination) if "ip" in e]
    if ips:
        doc["related"] = {"ip": list(dict.fromkeys(ips))}
    user = evidence.get("user")
    if isinstance(user, str) and user:
        doc["user"] = {"name": user}
    return doc


def ecs_json(event: Event) -> str:
    """:func:`ecs_document` as one line of JSON (non-ASCII kept; the sinks make it terminal-safe)."""
    return json.dumps(ecs_document(event), ensure_ascii=False, separators=(",", ":"), default=str)
