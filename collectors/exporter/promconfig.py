"""Prometheus's configuration from the inventory: ``prometheus.yml`` and file_sd target files.

Written into one folder (``netwarden monitoring config --out DIR``)::

    prometheus.yml          scrape jobs (file_sd paths relative to this file)
    rules/*.rules.yml       recording and alert rules (a copy of dashboards/rules/)
    targets/devices.json    devices the exporter probes (name as target)
    targets/sites.json      sites (the compliance module's targets)
    targets/nodes.json      servers and firewalls running node_exporter
    targets/sensors.json    sensors running the traffic auditor

Every target group carries ``__meta_netwarden_site``, ``__meta_netwarden_role`` and
``__meta_netwarden_zone``; relabelling turns them into ``site``, ``role`` and ``zone``
(the exporters never export those labels themselves; the device exporter's info
metric does, and the device jobs drop its ``exported_site``/``exported_role``
copies). The device jobs use the multi-target pattern: the device name becomes
``target`` and ``instance``, and the exporter's address ``__address__``.

Examples:
    >>> relabel_to_exporter("127.0.0.1:9430")[0]["target_label"]
    '__param_target'
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from netwarden.devices import has_session
from netwarden.inventory.flows import FlowPolicyEngine
from netwarden.inventory.models import Device, Function, Inventory, Protocol, SiteRole

logger = logging.getLogger(__name__)

TARGETS_DIR = "targets"
RULES_DIR = "rules"
RULES_SOURCE = Path(__file__).resolve().parents[2] / "dashboards" / "rules"
"""The repository's rules (issue 17), copied beside the configuration that loads them."""
_META = "__meta_netwarden_"


@dataclass(frozen=True)
class MonitoringSettings:
    """What the generated configuration scrapes, and how often.

    Attributes:
        exporter: the device exporter's HOST:PORT.
        scrape_interval / scrape_timeout: the health and compliance jobs' (seconds).
        config_interval: the config job's interval (it reads whole configs; seconds).
        node_port: node_exporter's port on servers and firewalls.
        auditor_port: the traffic auditor's metrics port on sensors.
        scheme: ``http`` or ``https`` for the exporter.
        ca_file / basic_auth_user / password_file: the exporter's TLS CA and basic auth.
        access_exporter: the access exporter's HOST:PORT (``netwarden exporter access``;
            same scheme and auth as the device exporter), None for no such job.
        alertmanager: the Alertmanager's HOST:PORT the alerts go to, None for no
            ``alerting`` block (the rules are evaluated all the same).
    """

    exporter: str = "127.0.0.1:9430"
    scrape_interval: float = 30.0
    scrape_timeout: float = 20.0
    config_interval: float = 300.0
    node_port: int = 9100
    auditor_port: int = 9101
    scheme: str = "http"
    ca_file: str | None = None
    basic_auth_user: str | None = None
    password_file: str | None = None
    access_exporter: str | None = None
    alertmanager: str | None = None


def zone_of(device: Device) -> str:
    """The zone of the device's management address (``mgmt`` unless an interface says otherwise).

    Examples:
        >>> from ipaddress import IPv4Address
        >>> zone_of(Device.model_construct(name="x", mgmt_address=IPv4Address("10.0.0.1"), interfaces=()))
        'mgmt'
    """
    for iface in device.interfaces:
        if iface.address is not None and iface.address.ip == device.mgmt_address and iface.zone:
            return iface.zone
    return "mgmt"


def _labels(device: Device) -> dict[str, str]:
    return {
        f"{_META}site": device.site,
        f"{_META}role": device.role or device.function.value,
        f"{_META}zone": zone_of(device),
    }


def _seconds(value: float) -> str:
    """A Prometheus duration: whole units only (``2.5`` is ``2500ms``; ``2.5s`` is refused)."""
    millis = round(value * 1000)
    return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"


def relabel_to_exporter(exporter: str) -> list[dict[str, Any]]:
    """The multi-target relabelling: target from the address, instance, then the exporter."""
    return [
        {"source_labels": ["__address__"], "target_label": "__param_target"},
        {"source_labels": ["__param_target"], "target_label": "instance"},
        {"target_label": "__address__", "replacement": exporter},
    ]


def _meta_relabel() -> list[dict[str, Any]]:
    return [
        {"source_labels": [f"{_META}{name}"], "target_label": name}
        for name in ("site", "role", "zone")
    ]


def _file_sd(name: str) -> list[dict[str, Any]]:
    return [{"files": [f"{TARGETS_DIR}/{name}.json"]}]


def _exporter_client(settings: MonitoringSettings) -> dict[str, Any]:
    out: dict[str, Any] = {"scheme": settings.scheme}
    if settings.ca_file:
        out["tls_config"] = {"ca_file": settings.ca_file}
    if settings.basic_auth_user:
        auth: dict[str, str] = {"username": settings.basic_auth_user}
        if settings.password_file:
            auth["password_file"] = settings.password_file
        out["basic_auth"] = auth
    return out


def prometheus_config(
    settings: MonitoringSettings, external_labels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The ``prometheus.yml`` document (``external_labels``: a site Prometheus's name)."""
    drop_exported = [{"action": "labeldrop", "regex": "exported_(site|role)"}]

    def device_job(module: str, interval: float, timeout: float, sd: str) -> dict[str, Any]:
        return {
            "job_name": f"netwarden_{module}",
            "metrics_path": "/probe",
            "params": {"module": [module]},
            "scrape_interval": _seconds(interval),
            "scrape_timeout": _seconds(timeout),
            **_exporter_client(settings),
            "file_sd_configs": _file_sd(sd),
            "relabel_configs": [*relabel_to_exporter(settings.exporter), *_meta_relabel()],
            "metric_relabel_configs": drop_exported,
        }

    glob: dict[str, Any] = {
        "scrape_interval": _seconds(settings.scrape_interval),
        "scrape_timeout": _seconds(settings.scrape_timeout),
        "evaluation_interval": _seconds(settings.scrape_interval),
    }
    if external_labels:
        glob["external_labels"] = dict(external_labels)
    access: list[dict[str, Any]] = []
    if settings.access_exporter:
        access.append(
            {
                "job_name": "netwarden_access",
                **_exporter_client(settings),
                "static_configs": [{"targets": [settings.access_exporter]}],
            }
        )
    alerting: dict[str, Any] = {}
    if settings.alertmanager:
        alerting["alerting"] = {
            "alertmanagers": [{"static_configs": [{"targets": [settings.alertmanager]}]}]
        }
    return {
        "global": glob,
        "rule_files": [f"{RULES_DIR}/*.rules.yml"],
        **alerting,
        "scrape_configs": [
            device_job("health", settings.scrape_interval, settings.scrape_timeout, "devices"),
            device_job(
                "config",
                settings.config_interval,
                min(settings.config_interval, max(settings.scrape_timeout, 60.0)),
                "devices",
            ),
            device_job("compliance", settings.scrape_interval, settings.scrape_timeout, "sites"),
            {
                "job_name": "netwarden_exporter",
                **_exporter_client(settings),
                "static_configs": [{"targets": [settings.exporter]}],
            },
            {
                "job_name": "node",
                "file_sd_configs": _file_sd("nodes"),
                "relabel_configs": _meta_relabel(),
            },
            {
                "job_name": "netwarden_auditor",
                "file_sd_configs": _file_sd("sensors"),
                "relabel_configs": _meta_relabel(),
            },
            *access,
        ],
    }


def target_groups(
    inv: Inventory, devices: Sequence[Device], settings: MonitoringSettings
) -> dict[str, list[dict[str, Any]]]:
    """The file_sd target groups by file name (one group per device, one per site).

    Node and sensor targets are scraped at the inventory's addresses, so a device a lab
    inventory marks absent (``netwarden_lab_absent``: the simulated fleet runs switches
    only) gets none: nothing listens for it, and its address is no lab's. The device
    exporter's targets stay (it reaches an absent device where the lab inventory says,
    and answers ``netwarden_up 0``).
    """
    probed = [d for d in devices if has_session(d)]
    present = [d for d in devices if d.connection is None or not d.connection.lab_absent]
    nodes = [d for d in present if d.function in {Function.SERVER, Function.FIREWALL}]
    sensors = [d for d in present if d.function is Function.SENSOR]
    sites = sorted({d.site for d in devices})
    return {
        "devices": [{"targets": [d.name], "labels": _labels(d)} for d in probed],
        "sites": [
            {
                "targets": [site],
                "labels": {
                    f"{_META}site": site,
                    f"{_META}role": inv.sites[site].role.value,
                    f"{_META}zone": "",
                },
            }
            for site in sites
        ],
        "nodes": [
            {"targets": [f"{address}:{settings.node_port}"], "labels": _labels(d)}
            for d, address in zip(
                nodes, node_addresses(inv, nodes, settings.node_port), strict=True
            )
        ],
        "sensors": [
            {"targets": [f"{d.mgmt_address}:{settings.auditor_port}"], "labels": _labels(d)}
            for d in sensors
        ],
    }


_HEADER = (
    "# Generated by netwarden monitoring config from the inventory; regenerate, do not edit.\n"
)


def _write_targets(path: Path, groups: list[dict[str, Any]]) -> Path:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(groups, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)  # file_sd reads whole files: never a half-written one
    return path


def write_monitoring_config(
    inv: Inventory,
    devices: Sequence[Device],
    settings: MonitoringSettings,
    out: Path,
    external_labels: Mapping[str, str] | None = None,
) -> list[Path]:
    """Write ``prometheus.yml``, the target files and the rules into ``out``; the paths written."""
    (out / TARGETS_DIR).mkdir(parents=True, exist_ok=True)
    (out / RULES_DIR).mkdir(exist_ok=True)
    rules = [
        Path(shutil.copyfile(src, out / RULES_DIR / src.name))
        for src in sorted(RULES_SOURCE.glob("*.rules.yml"))
    ]
    if not rules:
        logger.warning("no rule files in %s: the configuration loads none", RULES_SOURCE)
    config = out / "prometheus.yml"
    config.write_text(
        _HEADER + yaml.safe_dump(prometheus_config(settings, external_labels), sort_keys=False),
        encoding="utf-8",
    )
    written = [config, *rules]
    for name, groups in target_groups(inv, devices, settings).items():
        written.append(_write_targets(out / TARGETS_DIR / f"{name}.json", groups))
    return written


FEDERATE_MATCH = '{job=~"netwarden_.+|node"}'
"""What HQ pulls from each site Prometheus: the exporters' series (not Prometheus's own)."""


def node_addresses(inv: Inventory, nodes: Sequence[Device], port: int) -> list[str]:
    """Where HQ's Prometheus scrapes each node's exporter: the first of a server's
    addresses (management first, then its interfaces') the flow policy lets ``tcp/port``
    reach from HQ's Prometheus server, else the management address.

    A field server's management address sits in its site's ``mgmt`` zone, which the
    policy may close to ``node-exporter`` (only ``monitoring-servers`` opens it, to the
    ``servers`` zone): the scrape then goes to the server's ``servers`` address.
    """
    hq = [name for name, site in inv.sites.items() if site.role is SiteRole.HQ]
    try:
        scraper = site_prometheus_address(inv, hq[0]).rsplit(":", 1)[0] if hq else None
    except ValueError:
        scraper = None
    engine = FlowPolicyEngine(inv) if scraper is not None else None
    out = []
    for device in nodes:
        if device.function is not Function.SERVER:  # a firewall answers on its management address
            out.append(str(device.mgmt_address))
            continue
        candidates = [str(device.mgmt_address)] + [
            str(i.address.ip) for i in device.interfaces if i.address is not None
        ]
        allowed = (
            [a for a in candidates if engine.decide(scraper, a, Protocol.TCP, port).allowed]
            if engine is not None and scraper is not None
            else []
        )
        out.append(allowed[0] if allowed else candidates[0])
    return out


def site_prometheus_address(inv: Inventory, site: str, port: int = 9090) -> str:
    """Where a site's Prometheus listens: a server that provides ``prometheus-federate``,
    else the site's first server (by name)."""
    servers = sorted(
        (d for d in inv.devices.values() if d.site == site and d.function is Function.SERVER),
        key=lambda d: ("prometheus-federate" not in d.provides, d.name),
    )
    if not servers:
        raise ValueError(f"site {site} has no server to run its Prometheus on")
    return f"{servers[0].mgmt_address}:{port}"


def federation_config(settings: MonitoringSettings) -> dict[str, Any]:
    """HQ's ``prometheus.yml``: one federation job over every site Prometheus."""
    return {
        "global": {
            "scrape_interval": _seconds(settings.scrape_interval),
            "scrape_timeout": _seconds(settings.scrape_timeout),
            "evaluation_interval": _seconds(settings.scrape_interval),
            "external_labels": {"prometheus": "hq"},
        },
        "scrape_configs": [
            {
                "job_name": "federate",
                "honor_labels": True,
                "metrics_path": "/federate",
                "params": {"match[]": [FEDERATE_MATCH]},
                "file_sd_configs": _file_sd("federate"),
                "relabel_configs": [
                    {"source_labels": [f"{_META}site"], "target_label": "federated_site"}
                ],
            }
        ],
    }


def write_federated_config(
    inv: Inventory,
    devices: Sequence[Device],
    settings: MonitoringSettings,
    out: Path,
    site_prometheus: Mapping[str, str] | None = None,
) -> list[Path]:
    """One Prometheus per site (``site-<name>/``) and HQ's federating them (``hq/``).

    ``site_prometheus`` overrides where a site's Prometheus listens (site -> HOST:PORT;
    default: :func:`site_prometheus_address`).

    Raises:
        ValueError: a site without a server and without an override.
    """
    overrides = dict(site_prometheus or {})
    sites = sorted({d.site for d in devices})
    written: list[Path] = []
    federate = []
    for site in sites:
        here = [d for d in devices if d.site == site]
        written += write_monitoring_config(
            inv, here, settings, out / f"site-{site}", {"prometheus": f"site-{site}"}
        )
        address = overrides.get(site) or site_prometheus_address(inv, site)
        federate.append({"targets": [address], "labels": {f"{_META}site": site}})
    hq = out / "hq"
    (hq / TARGETS_DIR).mkdir(parents=True, exist_ok=True)
    config = hq / "prometheus.yml"
    config.write_text(
        _HEADER + yaml.safe_dump(federation_config(settings), sort_keys=False), encoding="utf-8"
    )
    written += [config, _write_targets(hq / TARGETS_DIR / "federate.json", federate)]
    return written
