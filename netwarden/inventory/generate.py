"""Write inventories in the same format as ``inventory/``: the example sites and synthetic fleets.

One address plan for every site (index ``k``): zone subnets ``10.k.<vlan>.0/24``
(staff ``/23``), WAN ``172.31.k.0/30``. HQ is index 10; field offices 11 and up,
so a fleet of up to 200 field offices fits in ``10.11.0.0``-``10.210.0.0``.

Examples:
    >>> plan = zone_plan(12, hq=False)
    >>> plan["staff"]["subnet"], plan["staff"]["vlan"]
    ('10.12.30.0/23', 30)
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from netwarden.errors import GenerateError
from netwarden.inventory.vault import VAULT_PASSWORD_FILENAME

HQ_INDEX = 10
MAX_FIELD_SITES = 200
ZONE_VLANS = {
    "mgmt": 10,
    "servers": 20,
    "staff": 30,
    "guests": 40,
    "voice": 50,
    "dmz": 60,
    "partners": 70,
}
HQ_ONLY = ("dmz", "partners")
ORG_FILES = ("zones.yml", "flows.yml", "policy.yml")
OPTIONAL_ORG_FILES = ("partners.yml",)  # copied when the template has them
VAULT_KEYS = (
    "vault_ntp_auth_key",
    "vault_tacacs_key",
    "vault_enable_secret",
    "vault_local_admin_secret",
    "vault_snmp_auth_pass",
    "vault_snmp_priv_pass",
)


@dataclass(frozen=True)
class ServerSpec:
    name: str
    services: tuple[str, ...]
    zone: str = "servers"


@dataclass(frozen=True)
class SiteSpec:
    """What to generate for one site."""

    name: str
    code: str
    city: str
    country: str
    timezone: str
    index: int
    hq: bool = False
    access_switches: int = 1
    servers: tuple[ServerSpec, ...] = ()
    wan_kind: str = "mpls"
    wan_provider: str = ""
    wan_mbps: int = 100
    extra: dict[str, Any] = field(default_factory=dict)


HQ = SiteSpec(
    name="jed",
    code="JED",
    city="Jeddah",
    country="SA",
    timezone="Asia/Riyadh",
    index=HQ_INDEX,
    hq=True,
    access_switches=2,
    servers=(
        ServerSpec("jed-aaa1", ("tacacs", "ldaps", "kerberos")),
        ServerSpec("jed-log1", ("syslog",)),
        ServerSpec("jed-ntp1", ("ntp",)),
        ServerSpec("jed-ntp2", ("ntp",)),
        ServerSpec("jed-dns1", ("dns",)),
        ServerSpec("jed-mon1", ("prometheus-federate", "node-exporter"), zone="mgmt"),
        ServerSpec("jed-file1", ("smb", "https")),
        ServerSpec("jed-web1", ("https",), zone="dmz"),
    ),
    wan_kind="internet",
    wan_provider="Saudi carrier (dual-homed)",
    wan_mbps=1000,
)

EXAMPLE_FIELD_OFFICES = (
    SiteSpec(
        "nyc",
        "NYC",
        "New York",
        "US",
        "America/New_York",
        11,
        access_switches=2,
        wan_provider="US MPLS",
    ),
    SiteSpec(
        "gva", "GVA", "Geneva", "CH", "Europe/Zurich", 12, access_switches=2, wan_provider="EU MPLS"
    ),
    SiteSpec("bru", "BRU", "Brussels", "BE", "Europe/Brussels", 13, wan_provider="EU MPLS"),
    SiteSpec(
        "kbl",
        "KBL",
        "Kabul",
        "AF",
        "Asia/Kabul",
        14,
        wan_kind="satellite",
        wan_provider="VSAT",
        wan_mbps=20,
    ),
)


def zone_plan(index: int, hq: bool) -> dict[str, dict[str, Any]]:
    """Subnet, VLAN and gateway per zone of the site with this index."""
    plan: dict[str, dict[str, Any]] = {}
    for zone, vlan in ZONE_VLANS.items():
        if zone in HQ_ONLY and not hq:
            continue
        prefix = 23 if zone == "staff" else 24
        plan[zone] = {
            "vlan": vlan,
            "subnet": f"10.{index}.{vlan}.0/{prefix}",
            "gateway": f"10.{index}.{vlan}.1",
        }
    return plan


def site_vars(spec: SiteSpec) -> dict[str, Any]:
    return {
        "site": {
            "name": spec.name,
            "code": spec.code,
            "city": spec.city,
            "country": spec.country,
            "role": "hq" if spec.hq else "field",
            "timezone": spec.timezone,
            "zones": zone_plan(spec.index, spec.hq),
            "wan": {
                "kind": spec.wan_kind,
                "address": f"172.31.{spec.index}.1/30",
                "peer": f"172.31.{spec.index}.2",
                "provider": spec.wan_provider,
                "bandwidth_mbps": spec.wan_mbps,
            },
        }
    }


def _ip(index: int, vlan: int, host: int) -> str:
    return f"10.{index}.{vlan}.{host}"


def site_hosts(spec: SiteSpec) -> dict[str, tuple[str, dict[str, Any]]]:
    """Devices of a site: name -> (function group, host variables)."""
    k = spec.index
    zones = zone_plan(k, spec.hq)
    mgmt_vlan = ZONE_VLANS["mgmt"]
    hosts: dict[str, tuple[str, dict[str, Any]]] = {}
    fw = f"{spec.name}-fw1"
    fw_ifaces: list[dict[str, Any]] = [
        {
            "name": f"{zone}0",
            "mode": "routed",
            "zone": zone,
            "address": f"{z['gateway']}/{z['subnet'].split('/')[1]}",
        }
        for zone, z in zones.items()
    ]
    fw_ifaces.append(
        {"name": "wan0", "mode": "wan", "address": f"172.31.{k}.1/30", "description": "WAN"}
    )
    hosts[fw] = (
        "firewalls",
        {
            "platform": "linux",
            "model": "nftables",
            "role": "firewall",
            "mgmt_address": _ip(k, mgmt_vlan, 1),
            "interfaces": fw_ifaces,
        },
    )
    uplink_to = fw
    uplinks = [fw]  # what each access switch's uplink ports (Gi1/1/1, Gi1/1/2 ...) face
    if spec.hq:
        for n in (1, 2):
            name = f"{spec.name}-core-sw{n}"
            ifaces = [
                {
                    "name": "TenGigabitEthernet1/0/1",
                    "mode": "trunk",
                    "description": f"to {fw}",
                    "peer": fw,
                },
                *(
                    {
                        "name": f"TenGigabitEthernet1/0/{i + 1}",
                        "mode": "trunk",
                        "description": f"to {spec.name}-acc-sw{i}",
                        "peer": f"{spec.name}-acc-sw{i}",
                    }
                    for i in range(1, spec.access_switches + 1)
                ),
                {  # the link between the two cores (their spanning tree needs no access switch)
                    "name": f"TenGigabitEthernet1/0/{spec.access_switches + 2}",
                    "mode": "trunk",
                    "description": f"to {spec.name}-core-sw{3 - n}",
                    "peer": f"{spec.name}-core-sw{3 - n}",
                },
                {
                    "name": f"Vlan{mgmt_vlan}",
                    "mode": "svi",
                    "zone": "mgmt",
                    "address": f"{_ip(k, mgmt_vlan, 10 + n)}/24",
                },
            ]
            hosts[name] = (
                "switches",
                {
                    "platform": "ios",
                    "model": "C9500-24Y4C",
                    "role": "core",
                    "mgmt_address": _ip(k, mgmt_vlan, 10 + n),
                    "interfaces": ifaces,
                },
            )
        uplink_to = f"{spec.name}-core-sw1"
        # the core pair is redundant: every access switch is cabled to both, and each end
        # declares the cable (inventory check warns about a link declared on one side only)
        uplinks = [f"{spec.name}-core-sw{n}" for n in (1, 2)]
    for n in range(1, spec.access_switches + 1):
        name = f"{spec.name}-acc-sw{n}"
        addr = _ip(k, mgmt_vlan, 20 + n)
        port = "GigabitEthernet1/0/{}"
        ports = [
            {
                "name": port.format(1),
                "mode": "access",
                "zone": "staff",
                "description": "staff desk",
            },
            {
                "name": port.format(2),
                "mode": "access",
                "zone": "staff",
                "description": "staff desk",
            },
            {
                "name": port.format(3),
                "mode": "access",
                "zone": "guests",
                "description": "guest wifi AP",
            },
            {"name": port.format(4), "mode": "access", "zone": "voice", "description": "IP phone"},
            {
                "name": port.format(5),
                "mode": "access",
                "zone": "servers",
                "description": "server NIC",
            },
            {
                "name": port.format(6),
                "mode": "access",
                "zone": "mgmt",
                "description": "server management NIC",
            },
            {
                "name": port.format(7),
                "mode": "access",
                "zone": "staff",
                "description": "unused",
                "shutdown": True,
            },
            *(
                {
                    "name": f"GigabitEthernet1/1/{u}",
                    "mode": "trunk",
                    "description": f"uplink to {peer}",
                    "peer": peer,
                }
                for u, peer in enumerate(uplinks, start=1)
            ),
            {"name": f"Vlan{mgmt_vlan}", "mode": "svi", "zone": "mgmt", "address": f"{addr}/24"},
        ]
        hosts[name] = (
            "switches",
            {
                "platform": "ios",
                "model": "C9300-48P" if spec.hq else "C9200L-24P-4G",
                "role": "access",
                "mgmt_address": addr,
                "interfaces": ports,
            },
        )
    servers = spec.servers or (ServerSpec(f"{spec.name}-srv1", ("smb", "dns")),)
    svc_host = {"servers": 10, "dmz": 10, "mgmt": 150}
    for n, srv in enumerate(servers, start=1):
        mgmt = _ip(k, mgmt_vlan, 100 + n)
        ifaces = [{"name": "mgmt0", "mode": "routed", "zone": "mgmt", "address": f"{mgmt}/24"}]
        if srv.zone != "mgmt":
            vlan = ZONE_VLANS[srv.zone]
            ifaces.append(
                {
                    "name": "eth0",
                    "mode": "routed",
                    "zone": srv.zone,
                    "address": f"{_ip(k, vlan, svc_host[srv.zone])}/24",
                }
            )
            svc_host[srv.zone] += 1
        hosts[srv.name] = (
            "servers",
            {
                "platform": "linux",
                "model": "Debian 12",
                "role": "server",
                "mgmt_address": mgmt,
                "provides": list(srv.services),
                "interfaces": ifaces,
            },
        )
    sensor = f"{spec.name}-sensor1"
    hosts[sensor] = (
        "sensors",
        {
            "platform": "linux",
            "model": "Debian 12",
            "role": "sensor",
            "mgmt_address": _ip(k, mgmt_vlan, 201),
            "interfaces": [
                {
                    "name": "mgmt0",
                    "mode": "routed",
                    "zone": "mgmt",
                    "address": f"{_ip(k, mgmt_vlan, 201)}/24",
                },
                {"name": "span0", "mode": "capture", "description": f"SPAN of {uplink_to}"},
            ],
        },
    )
    return hosts


def synthetic_sites(count: int) -> list[SiteSpec]:
    """``count`` field offices named ``fo001`` ..., cycling through real time zones."""
    if not 1 <= count <= MAX_FIELD_SITES:
        raise GenerateError(f"--sites must be between 1 and {MAX_FIELD_SITES}, got {count}")
    zones = (
        "Europe/Paris",
        "Africa/Cairo",
        "Asia/Dubai",
        "America/New_York",
        "Asia/Jakarta",
        "Africa/Dakar",
    )
    return [
        SiteSpec(
            name=f"fo{i:03d}",
            code=f"F{i:03d}",
            city=f"Field office {i}",
            country="ZZ",
            timezone=zones[i % len(zones)],
            index=HQ_INDEX + i,
            access_switches=1 + i % 2,
        )
        for i in range(1, count + 1)
    ]


def switch_count(sites: Iterable[SiteSpec]) -> int:
    """How many switches (ios devices) :func:`site_hosts` makes for ``sites``."""
    return sum(
        1 for spec in sites for function, _ in site_hosts(spec).values() if function == "switches"
    )


def lab_sites(switches: int) -> list[SiteSpec]:
    """Field offices that, with HQ, make a fleet of exactly ``switches`` switches.

    For ``netwarden lab sim --devices N``: one access switch per field office up to
    :data:`MAX_FIELD_SITES` offices, then more per office. HQ alone has
    ``switch_count([HQ])`` switches and there is at least one field office, so the
    smallest fleet has one more.
    """
    at_hq = switch_count([HQ])
    if switches <= at_hq:
        raise GenerateError(
            f"a lab fleet has at least {at_hq + 1} switches (HQ has {at_hq}, plus a field "
            f"office), not {switches}"
        )
    offices = min(switches - at_hq, MAX_FIELD_SITES)
    per_office, extra = divmod(switches - at_hq, offices)
    return [
        replace(spec, access_switches=per_office + (1 if i < extra else 0))
        for i, spec in enumerate(synthetic_sites(offices))
    ]


def _dump(path: Path, data: object, header: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)
    path.write_text(f"---\n# {header}\n{text}", encoding="utf-8")


def write_sites(out: Path, sites: Iterable[SiteSpec]) -> int:
    """Write hosts.yml, group_vars/site_*.yml and host_vars/*.yml for ``sites``; return the host count."""
    sites = list(sites)
    groups: dict[str, dict[str, Any]] = {
        g: {"hosts": {}} for g in ("switches", "firewalls", "servers", "sensors")
    }
    site_groups: dict[str, Any] = {}
    count = 0
    for spec in sites:
        _dump(
            out / "group_vars" / f"site_{spec.name}.yml",
            site_vars(spec),
            f"{spec.city}: address plan, WAN link",
        )
        members: dict[str, None] = {}
        for name, (function, hvars) in site_hosts(spec).items():
            groups[function]["hosts"][name] = None
            members[name] = None
            _dump(out / "host_vars" / f"{name}.yml", hvars, f"{name} ({spec.city})")
            count += 1
        site_groups[f"site_{spec.name}"] = {"hosts": members}
    hq = [f"site_{s.name}" for s in sites if s.hq]
    field_ = [f"site_{s.name}" for s in sites if not s.hq]
    tree = {
        "all": {
            "children": {
                "hq": {"children": dict.fromkeys(hq)},
                "field_offices": {"children": dict.fromkeys(field_)},
                **site_groups,
                **groups,
            }
        }
    }
    _dump(out / "hosts.yml", tree, "Sites (hq, field_offices -> site_*) and function groups")
    return count


def write_vault(out: Path) -> None:
    """A fresh vault: random secrets, encrypted with a random password in ``.vault-password`` (0600)."""
    from ansible.parsing.vault import VaultLib, VaultSecret  # noqa: PLC0415

    password = secrets.token_urlsafe(32)
    pw_file = out / VAULT_PASSWORD_FILENAME
    fd = os.open(pw_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
    plain = yaml.safe_dump({k: secrets.token_urlsafe(24) for k in VAULT_KEYS}, sort_keys=False)
    vault = VaultLib([("default", VaultSecret(password.encode()))])
    encrypted = vault.encrypt(plain)
    (out / "group_vars" / "all").mkdir(parents=True, exist_ok=True)
    (out / "group_vars" / "all" / "vault.yml").write_bytes(encrypted)


def default_template() -> Path:
    """The example inventory shipped beside the package (source of the organisation policy)."""
    return Path(__file__).resolve().parents[2] / "inventory"


def generate(out: Path, sites: int | Sequence[SiteSpec], template: Path | None = None) -> int:
    """Write a complete inventory of HQ plus field offices into ``out``.

    ``sites`` is a number of synthetic field offices (:func:`synthetic_sites`) or the
    offices themselves (e.g. :func:`lab_sites`). The organisation policy (zones,
    services, flows, policy) is copied from ``template``; the vault gets new random
    secrets and password. Returns the host count.
    """
    specs = synthetic_sites(sites) if isinstance(sites, int) else list(sites)
    template = template or default_template()
    src_all = template / "group_vars" / "all"
    missing = [f for f in ORG_FILES if not (src_all / f).is_file()]
    if missing:
        raise GenerateError(
            f"template inventory {template} lacks group_vars/all/{', '.join(missing)}"
        )
    if out.exists() and any(out.iterdir()):
        raise GenerateError(f"{out} exists and is not empty; choose a new directory")
    (out / "group_vars" / "all").mkdir(parents=True, exist_ok=True)
    for name in ORG_FILES + tuple(f for f in OPTIONAL_ORG_FILES if (src_all / f).is_file()):
        shutil.copyfile(src_all / name, out / "group_vars" / "all" / name)
    _dump(
        out / "group_vars" / "all" / "compliance.yml",
        {"compliance": {"profile": "gs-baseline-1.0", "waivers": []}},
        "Compliance profile; no waivers in a generated fleet",
    )
    write_vault(out)
    return write_sites(out, [HQ, *specs])
