"""Lookup: each monitoring server's Prometheus files, as ``netwarden monitoring config`` writes them.

The files come from :func:`collectors.exporter.promconfig.write_monitoring_config`
(``--layout single``) or :func:`~collectors.exporter.promconfig.write_federated_config`
(``--layout federated``), the functions behind the CLI, written into a temporary
folder on the controller and returned as text: the role copies them to the server,
where ``promtool check config`` validates ``prometheus.yml`` before it replaces the
live one. Which server gets which part (decision 64):

- ``single``: every monitoring server at an HQ site gets the one configuration;
- ``federated``: each site's Prometheus server (the first server of the site that
  provides ``prometheus-federate``,
  :func:`~collectors.exporter.promconfig.site_prometheus_address`; HQ's site too) gets
  ``site-<name>/``; the first other HQ server that provides ``prometheus-federate``
  gets ``hq/`` (federating every site's). With no such second HQ server it is an
  error: one Prometheus per server, on tcp/9090.
- ``auto``: ``federated`` when a server outside HQ provides ``prometheus-federate``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

DOCUMENTATION = r"""
name: netwarden_monitoring
author: netwarden
short_description: Prometheus configuration files of monitoring servers
description:
  - Reads and validates the inventory with netwarden and returns, for each host named
    in the terms, the layout, the part of it the host runs (C(single), C(hq) or
    C(site-<name>)) and the files (C(prometheus.yml), C(targets/*.json)) as text.
  - Returns a list holding one mapping of host name to those values.
options:
  _terms:
    description: Inventory host names (lists are flattened).
    required: true
  inventory:
    description: The inventory path (one source; usually C(ansible_inventory_sources[0])).
    type: str
    required: true
  layout:
    description: C(auto), C(single) or C(federated).
    type: str
    default: auto
  exporter:
    description: The device exporter's HOST:PORT, as Prometheus reaches it.
    type: str
    default: 127.0.0.1:9430
  access_exporter:
    description: The access exporter's HOST:PORT (empty for no such job).
    type: str
    default: ""
  scrape_interval:
    description: Seconds between scrapes.
    type: float
    default: 30
  scrape_timeout:
    description: Seconds a scrape may take.
    type: float
    default: 20
  config_interval:
    description: Seconds between config probes.
    type: float
    default: 300
"""

RETURN = r"""
_raw:
  description:
    - One mapping of host name to C({layout, part, files, vault_password_file,
      inventory_dir, inventory_copy}).
    - C(inventory_copy) names what the exporters need of the inventory directory (its
      YAML files, C(group_vars), C(host_vars), C(known_hosts.txt); never dot names).
  type: list
  elements: dict
"""


INVENTORY_DIRS = ("group_vars", "host_vars")
KNOWN_HOSTS_NAME = "known_hosts.txt"


def _parts(inv: Any, layout: str) -> tuple[str, dict[str, str]]:
    """(the layout, server name -> the part it runs)."""
    from collectors.exporter.promconfig import site_prometheus_address  # noqa: PLC0415
    from netwarden.inventory.models import Function, SiteRole  # noqa: PLC0415

    hq = {name for name, site in inv.sites.items() if site.role is SiteRole.HQ}
    providers = sorted(
        d.name
        for d in inv.devices.values()
        if d.function is Function.SERVER and "prometheus-federate" in d.provides
    )
    if layout == "auto":
        outside = [n for n in providers if inv.devices[n].site not in hq]
        layout = "federated" if outside else "single"
    if layout == "single":
        return layout, {n: "single" for n in providers if inv.devices[n].site in hq}
    by_address = {str(d.mgmt_address): d.name for d in inv.devices.values()}
    parts: dict[str, str] = {}
    for site in sorted(inv.sites):
        address = site_prometheus_address(inv, site).rsplit(":", 1)[0]
        parts[by_address[address]] = f"site-{site}"
    without = sorted(p[len("site-") :] for n, p in parts.items() if n not in providers)
    if without:
        raise AnsibleLookupError(
            f"federated layout: site {', '.join(without)} has no server that provides "
            "prometheus-federate (the role deploys a site's Prometheus there)"
        )
    central = [n for n in providers if inv.devices[n].site in hq and n not in parts]
    if not central:
        taken = ", ".join(f"{n} runs {parts[n]}" for n in providers if n in parts)
        raise AnsibleLookupError(
            "federated layout: HQ's federating Prometheus (hq/) needs a server at HQ that "
            f"provides prometheus-federate and is not a site's Prometheus ({taken}; one "
            "Prometheus per server, on tcp/9090), or use monitoring_layout: single"
        )
    parts[central[0]] = "hq"
    return layout, parts


class LookupModule(LookupBase):
    def run(
        self, terms: list[Any], variables: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Any]:
        self.set_options(var_options=variables, direct=kwargs)
        inventory = str(self.get_option("inventory"))
        layout = str(self.get_option("layout"))
        if layout not in {"auto", "single", "federated"}:
            raise AnsibleLookupError(f"layout {layout!r}: expected auto, single or federated")
        try:
            from collectors.exporter.promconfig import (  # noqa: PLC0415  (a clear error if netwarden is missing)
                MonitoringSettings,
                write_federated_config,
                write_monitoring_config,
            )
            from netwarden.config.ansible_api import (  # noqa: PLC0415
                controller_vault_password_file,
                lookup_errors,
                lookup_inventory,
            )
            from netwarden.inventory.select import select  # noqa: PLC0415
        except ImportError as exc:
            raise AnsibleLookupError(
                f"netwarden is not importable by Ansible's Python ({exc}); run ansible-playbook from netwarden's venv"
            ) from exc
        inv, names = lookup_inventory(inventory, terms)
        interval = float(self.get_option("scrape_interval"))
        timeout = float(self.get_option("scrape_timeout"))
        if timeout > interval:
            raise AnsibleLookupError(
                f"scrape_timeout {timeout:g} is longer than scrape_interval {interval:g}"
            )
        settings = MonitoringSettings(
            exporter=str(self.get_option("exporter")),
            scrape_interval=interval,
            scrape_timeout=timeout,
            config_interval=max(float(self.get_option("config_interval")), interval),
            access_exporter=str(self.get_option("access_exporter")) or None,
        )
        out: dict[str, Any] = {}
        with lookup_errors(), tempfile.TemporaryDirectory(prefix="netwarden-mon-") as tmp:
            try:
                layout, parts = _parts(inv, layout)
            except ValueError as exc:  # a site without any server
                raise AnsibleLookupError(f"{layout} layout: {exc}") from exc
            root = Path(tmp)
            devices = select(inv, None)
            try:
                if layout == "federated":
                    write_federated_config(inv, devices, settings, root)
                else:
                    write_monitoring_config(inv, devices, settings, root / "single")
            except ValueError as exc:
                raise AnsibleLookupError(str(exc)) from exc
            for name in names:
                if name not in inv.devices:
                    raise AnsibleLookupError(f"{name} is not a device of the inventory {inventory}")
                if name not in parts:
                    raise AnsibleLookupError(
                        f"{name} runs no Prometheus in the {layout} layout (a monitoring "
                        "server provides prometheus-federate; single: at HQ)"
                    )
                folder = root / parts[name]
                files = {
                    str(p.relative_to(folder)): p.read_text(encoding="utf-8")
                    for p in sorted(folder.rglob("*"))
                    if p.is_file()
                }
                out[name] = {"layout": layout, "part": parts[name], "files": files}
        vault = controller_vault_password_file()
        base = Path(inventory) if Path(inventory).is_dir() else Path(inventory).parent
        copy = [
            p.name
            for p in sorted(base.iterdir())
            if not p.name.startswith(".")
            and (
                p.name in INVENTORY_DIRS
                or (p.is_file() and p.suffix in {".yml", ".yaml"})
                or p.name == KNOWN_HOSTS_NAME
            )
        ]
        for values in out.values():
            values["vault_password_file"] = str(vault.resolve()) if vault else ""
            values["inventory_dir"] = str(base.resolve())
            values["inventory_copy"] = copy
        return [out]
