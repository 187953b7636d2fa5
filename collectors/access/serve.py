"""The access exporter's HTTP side: ``/metrics``, ``/events`` (recent events, JSON lines), ``/``."""

from __future__ import annotations

from prometheus_client import ProcessCollector
from prometheus_client.registry import CollectorRegistry

from collectors.access.ledger import AccessCollector, AccessLedger
from collectors.httpserve import MetricsServer, Request, Response
from collectors.webconfig import WebConfig

_LANDING = (
    "<!DOCTYPE html>\n<html><head><title>netwarden access exporter</title></head><body>\n"
    "<h1>netwarden access exporter</h1>\n"
    "<p>Access events from syslog (UDP and TCP on {syslog}).</p>\n"
    '<ul><li><a href="/metrics">Metrics</a></li>'
    '<li><a href="/events">Recent events</a> (JSON lines)</li></ul>\n</body></html>\n'
)


def build_server(
    ledger: AccessLedger,
    host: str,
    port: int,
    *,
    syslog: str,
    web_config: WebConfig | None = None,
) -> MetricsServer:
    """The access exporter's HTTP server (not started), with the device exporter's hardening."""
    registry = CollectorRegistry()
    registry.register(AccessCollector(ledger))
    registry.register(ProcessCollector(registry=None))

    def events(_request: Request) -> Response:
        return Response(
            200, ledger.recent_lines().encode(), (("Content-Type", "application/x-ndjson"),)
        )

    return MetricsServer(
        registry,
        host,
        port,
        web_config=web_config,
        title="netwarden access exporter",
        routes={"/events": events},
        workers=2,
        landing=_LANDING.format(syslog=syslog),
    )
