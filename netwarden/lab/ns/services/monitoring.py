"""Prometheus's parts for ``node-exporter`` (tcp/9100) and ``prometheus-federate`` (tcp/9090).

Both take one listen address: they listen on every address of the server's
namespace, which are exactly the server's. The lab Prometheus scrapes itself and
the server's own node exporter, nothing outside the lab.
"""

from __future__ import annotations

import logging

from netwarden.lab.ns.services.base import LAB_ETC, Daemon, Listen, ServiceContext, register

logger = logging.getLogger(__name__)

NODE_EXPORTER_PORT = 9100
PROMETHEUS_PORT = 9090


@register(
    "node-exporter",
    daemon="prometheus-node-exporter",
    binary="/usr/bin/prometheus-node-exporter",
    package="prometheus-node-exporter",
    order=60,
)
def node_exporter(ctx: ServiceContext) -> Daemon:
    """The node exporter, its defaults (``/proc`` and ``/sys`` are the server's)."""
    return Daemon(
        name="prometheus-node-exporter",
        argv=(
            "/usr/bin/prometheus-node-exporter",
            f"--web.listen-address=0.0.0.0:{NODE_EXPORTER_PORT}",
            "--no-collector.textfile",
        ),
        listens=tuple(Listen("tcp", NODE_EXPORTER_PORT, a) for a in ctx.addresses),
        user="prometheus",
    )


@register(
    "prometheus-federate",
    daemon="prometheus",
    binary="/usr/bin/prometheus",
    package="prometheus",
    order=70,
)
def prometheus(ctx: ServiceContext) -> Daemon:
    """Prometheus with its ``/federate`` endpoint; its data in the server's overlay."""
    config = f"{LAB_ETC}/prometheus.yml"
    targets = [f"127.0.0.1:{PROMETHEUS_PORT}"]
    if "node-exporter" in ctx.provides:
        targets.append(f"127.0.0.1:{NODE_EXPORTER_PORT}")
    lines = [
        "# netwarden lab: written by the server's holder at start",
        "global:",
        "  scrape_interval: 30s",
        "scrape_configs:",
        f"  - job_name: {ctx.hostname}",
        "    static_configs:",
        f"      - targets: [{', '.join(repr(t) for t in targets)}]",
    ]
    ctx.write(config, "\n".join(lines) + "\n")
    data = ctx.directory("/var/lib/netwarden-lab/prometheus", 0o750, owner="prometheus")
    return Daemon(
        name="prometheus",
        argv=(
            "/usr/bin/prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={'/' + str(data.relative_to(ctx.root))}",
            "--storage.tsdb.retention.time=2d",
            f"--web.listen-address=0.0.0.0:{PROMETHEUS_PORT}",
        ),
        listens=tuple(Listen("tcp", PROMETHEUS_PORT, a) for a in ctx.addresses),
        check=("/usr/bin/promtool", "check", "config", config),
        user="prometheus",
    )
