"""The exporter's HTTP side: ``/probe`` checked strictly, a landing page, self-metrics.

A request is refused with 400 and a one-line message when a parameter is missing,
repeated, unknown, too long or not text, when the module is unknown, or when the
target is not in the inventory (for that module); the target is never echoed
beyond its first 64 printable characters. The probe's budget is Prometheus's
``X-Prometheus-Scrape-Timeout-Seconds`` minus ``margin`` (default ``default_timeout``
without the header), at most ``max_timeout``.

Examples:
    >>> parse_query("target=a&module=health")
    {'target': 'a', 'module': 'health'}
    >>> parse_query("target=a&target=b")
    Traceback (most recent call last):
    ...
    collectors.exporter.http.BadRequestError: parameter 'target' given more than once
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from prometheus_client import ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector, CollectorRegistry

from collectors.exporter.probe import MODULES, Prober
from collectors.exporter.sessions import CLOSE_REASONS
from collectors.httpserve import MetricsServer, Request, Response, ServeLimits
from collectors.webconfig import WebConfig
from netwarden.inventory.models import Inventory

logger = logging.getLogger(__name__)

MAX_VALUE = 128
_PARAMS = ("target", "module")
_TIMEOUT_HEADER = "x-prometheus-scrape-timeout-seconds"


REJECT_REASONS = ("parameter", "module", "target", "timeout")


class BadRequestError(ValueError):
    """A request the exporter refuses (HTTP 400); the message says why, ``reason`` what kind."""

    def __init__(self, message: str, reason: str = "parameter") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Budget:
    """The probe's time budget from the scrape timeout header."""

    default_timeout: float = 10.0
    margin: float = 0.5
    max_timeout: float = 120.0

    def of(self, headers: Mapping[str, str]) -> float:
        """Seconds the probe may take.

        Raises:
            BadRequestError: the header is not a positive number.
        """
        raw = headers.get(_TIMEOUT_HEADER)
        if raw is None:
            return min(self.default_timeout, self.max_timeout)
        try:
            value = float(raw)
        except ValueError as exc:
            raise BadRequestError(
                f"{_TIMEOUT_HEADER}: not a number: {_shown(raw)!r}", "timeout"
            ) from exc
        if not value > 0 or value != value or value == float("inf"):  # noqa: PLR0124 (NaN)
            raise BadRequestError(
                f"{_TIMEOUT_HEADER}: expected a positive number, got {_shown(raw)!r}", "timeout"
            )
        return max(0.1, min(value - self.margin, self.max_timeout))


def _shown(text: str) -> str:
    return "".join(c for c in text if c.isprintable())[:64]


def parse_query(query: str) -> dict[str, str]:
    """``target`` and ``module``, each once, each at most 128 printable characters.

    Raises:
        BadRequestError: unknown, repeated, missing-value, too long or non-printable parameters.
    """
    if len(query) > 4 * MAX_VALUE:
        raise BadRequestError(f"query too long ({len(query)} characters; at most {4 * MAX_VALUE})")
    try:
        pairs = parse_qsl(
            query,
            keep_blank_values=True,
            strict_parsing=bool(query),
            errors="strict",
            max_num_fields=4,
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"malformed query string: {_shown(str(exc))}") from exc
    out: dict[str, str] = {}
    for name, value in pairs:
        if name not in _PARAMS:
            raise BadRequestError(
                f"unknown parameter {_shown(name)!r} (expected target and module)"
            )
        if name in out:
            raise BadRequestError(f"parameter {name!r} given more than once")
        if len(value) > MAX_VALUE:
            raise BadRequestError(
                f"parameter {name!r} too long ({len(value)} characters; at most {MAX_VALUE})"
            )
        if not value.isprintable():
            raise BadRequestError(f"parameter {name!r} has non-printable characters")
        out[name] = value
    return out


class ProbeRoute:
    """``GET /probe``: check the request, probe, answer the exposition (or 400 with why)."""

    def __init__(self, prober: Prober, budget: Budget | None = None) -> None:
        self.prober = prober
        self.budget = budget or Budget()

    def __call__(self, request: Request) -> Response:
        try:
            params = parse_query(request.query)
            target, module = self._checked(params)
            # the time the request waited for a worker counts against the scrape's budget
            seconds = max(
                0.1, self.budget.of(request.headers) - (time.monotonic() - request.received)
            )
        except BadRequestError as exc:
            self.prober.stats.count_rejected(exc.reason)
            return Response(400, (self.prober.scrub(str(exc)) + "\n").encode())
        families = self.prober.probe(target, module, seconds)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Families(families))
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(200, encoder(registry), (("Content-Type", content_type),))

    def _checked(self, params: dict[str, str]) -> tuple[str, str]:
        module = params.get("module")
        target = params.get("target")
        if not target:
            raise BadRequestError("parameter 'target' is missing (an inventory device name)")
        if not module:
            raise BadRequestError(f"parameter 'module' is missing (one of {', '.join(MODULES)})")
        if module not in MODULES:
            raise BadRequestError(
                f"unknown module {_shown(module)!r} (expected one of {', '.join(MODULES)})",
                "module",
            )
        if target not in self.prober.targets(module):
            raise BadRequestError(
                f"unknown target {_shown(target)!r} for module {module}: not a device of the "
                "inventory with a session class" + (" or a site" if module == "compliance" else ""),
                "target",
            )
        return target, module


class _Families(Collector):
    """One probe's families, as a collector of a fresh registry."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


class SelfCollector(Collector):
    """The exporter's own metrics: probes by module and outcome, rejected requests, in flight."""

    def __init__(self, prober: Prober) -> None:
        self.prober = prober

    def collect(self) -> Iterator[Metric]:
        stats = self.prober.stats
        with stats.lock:
            probes = dict(stats.probes)
            rejected = dict(stats.rejected)
            in_flight = stats.in_flight
        total = CounterMetricFamily(
            "netwarden_exporter_probes",
            "Probes answered, by module and result.",
            labels=["module", "result"],
        )
        for module in MODULES:
            for result in ("success", "failure"):
                total.add_metric([module, result], probes.get((module, result), 0))
        yield total
        bad = CounterMetricFamily(
            "netwarden_exporter_requests_rejected",
            "Probe requests refused with 400, by reason.",
            labels=["reason"],
        )
        for reason in REJECT_REASONS:
            bad.add_metric([reason], rejected.get(reason, 0))
        yield bad
        yield GaugeMetricFamily(
            "netwarden_exporter_probes_in_flight", "Probes running now.", value=in_flight
        )
        yield from _session_families(self.prober)


def _session_families(prober: Prober) -> Iterator[Metric]:
    """The session cache's counters: how many logins the exporter made, and saved."""
    opened, reused, closed, idle = prober.sessions.snapshot()
    yield CounterMetricFamily(
        "netwarden_exporter_sessions_opened",
        "Device sessions opened (each an SSH login).",
        value=opened,
    )
    yield CounterMetricFamily(
        "netwarden_exporter_sessions_reused",
        "Probes that used a session kept from an earlier probe of the device (no login).",
        value=reused,
    )
    gone = CounterMetricFamily(
        "netwarden_exporter_sessions_closed",
        "Device sessions closed, by reason (error, overrun, idle, max_age, dead, evicted, "
        "disabled: reuse off, shutdown).",
        labels=["reason"],
    )
    for reason in CLOSE_REASONS:
        gone.add_metric([reason], closed.get(reason, 0))
    yield gone
    yield GaugeMetricFamily(
        "netwarden_exporter_sessions_idle",
        "Device sessions kept open for the next probe now.",
        value=idle,
    )


def landing_page(prober: Prober) -> str:
    """The page on ``/``: what the exporter is, and a link per module to its first target."""
    links = []
    for module in MODULES:
        targets = prober.targets(module)
        if targets:
            first = html.escape(targets[0])
            links.append(
                f'<li><a href="/probe?target={first}&amp;module={module}">{module}</a> '
                f"({len(targets)} targets)</li>"
            )
    return (
        "<!DOCTYPE html>\n<html><head><title>netwarden device exporter</title></head><body>\n"
        "<h1>netwarden device exporter</h1>\n"
        "<p>Probe a device of the inventory: <code>/probe?target=NAME&amp;module=MODULE</code>.</p>\n"
        f"<ul>{''.join(links)}</ul>\n"
        '<p><a href="/metrics">Exporter metrics</a></p>\n</body></html>\n'
    )


def inventory_secrets(inventory: Inventory) -> list[str]:
    """Every password and enable secret the inventory holds (what :meth:`Prober.scrub` removes)."""
    out = []
    for device in inventory.devices.values():
        conn = device.connection
        if conn is None:
            continue
        for secret in (conn.password, conn.enable_secret):
            if secret is not None and secret.get_secret_value():
                out.append(secret.get_secret_value())
    return out


def build_server(
    prober: Prober,
    host: str,
    port: int,
    *,
    web_config: WebConfig | None = None,
    budget: Budget | None = None,
) -> MetricsServer:
    """The exporter's HTTP server (not started): ``/probe``, ``/metrics``, ``/``, ``/-/healthy``.

    Route workers: twice the probe concurrency, so queued probes still answer (up 0)
    when every probe thread waits on a slow device.
    """
    registry = CollectorRegistry()
    registry.register(SelfCollector(prober))
    registry.register(ProcessCollector(registry=None))
    budget = budget or Budget()
    return MetricsServer(
        registry,
        host,
        port,
        web_config=web_config,
        title="netwarden device exporter",
        routes={"/probe": ProbeRoute(prober, budget)},
        workers=max(2, 2 * prober.settings.concurrency),
        landing=landing_page(prober),
        limits=ServeLimits(route_timeout=budget.max_timeout + 10.0),
    )
