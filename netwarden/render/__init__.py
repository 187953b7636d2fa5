"""Render the intended configuration of every ``ios`` device from the inventory.

The templates are the ``ios_baseline`` Ansible role's own
(``roles/ios_baseline/templates``): one copy, used by ``netwarden render`` here
and by the role's ``template`` task. Both sides feed them the same variables:

- the role defaults (``roles/ios_baseline/defaults/main.yml``: the
  ``ios_baseline_<thing>_enabled`` toggles and settings), and
- ``ios_baseline_device``: plain data for one device, built by
  :func:`device_context` from the validated inventory (the role gets it from its
  lookup plugin, which calls the same function).

Secrets leave their ``SecretStr`` only inside :func:`device_context`, already
hashed (type 9), encoded (type 7) or localised (SNMPv3 keys); nothing here logs
a secret or a context.

Every template variable is one line of printable text unless declared
multi-line (:data:`MULTILINE_VARS`, the banners): a line break in a value would
become a device command. The inventory models refuse such values with file and
line; :func:`check_template_vars` refuses whatever slips through (a model built
without validation, a role variable set in Ansible) with device and variable,
on both routes (``device_context`` and the role's lookup call it), and the Jinja
environment's ``finalize`` hook refuses any expression that would still print
one, naming device, template and line.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import logging
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
import yaml

from netwarden.errors import RenderError
from netwarden.inventory.models import (
    Device,
    Interface,
    InterfaceMode,
    Inventory,
    Platform,
    Site,
)
from netwarden.inventory.select import select
from netwarden.inventory.text import IOS_BANNER_DELIMITER, IOS_TEXT_MAX, text_problem
from netwarden.ios import secrets as ios_secrets

logger = logging.getLogger(__name__)

ROLE_DIR = Path(__file__).resolve().parents[2] / "roles" / "ios_baseline"
TEMPLATE_DIR = ROLE_DIR / "templates"
ROLE_DEFAULTS = ROLE_DIR / "defaults" / "main.yml"
ENTRY_TEMPLATE = "ios_baseline.j2"
DEVICE_VAR = "ios_baseline_device"
# Role defaults that are Ansible plumbing, not template input.
NON_TEMPLATE_DEFAULTS = frozenset({"ios_baseline_output_dir"})

USER_ZONES = ("staff", "guests", "voice")
"""Zones whose VLANs get DHCP snooping and dynamic ARP inspection."""
MGMT_ZONE = "mgmt"
BANNER_DELIMITER = "^C"
BANNER_LANGUAGES = ("ar", "en", "fr")
MULTILINE_VARS = frozenset(f"{DEVICE_VAR}.banners.{lang}" for lang in BANNER_LANGUAGES)
"""The template variables that may hold several lines (the only ones)."""
IN_BANNER_VARS = MULTILINE_VARS | {f"{DEVICE_VAR}.hostname", f"{DEVICE_VAR}.site.city"}
"""Variables printed inside an IOS banner, where the delimiter's first character ends it."""
_INDEX = re.compile(r"\[\d+\]")
REFERENCE_YEAR = 2025
"""The year whose transitions define ``clock summer-time`` (fixed: renders are reproducible)."""

# Jinja settings shared with the role's template task (trim_blocks, lstrip_blocks there too).
JINJA_OPTIONS: dict[str, Any] = {
    "trim_blocks": True,
    "lstrip_blocks": True,
    "keep_trailing_newline": True,
    "autoescape": False,
}


class MultiLine(str):
    """A template value declared multi-line (:data:`MULTILINE_VARS`): ``finalize`` lets its line feeds through."""

    __slots__ = ()


class UnsafeOutputError(ValueError):
    """A template expression would print a line break or a control character."""

    def __init__(self, problem: str, value: str) -> None:
        self.problem = problem
        self.value = value
        super().__init__(problem)


def _finalize(value: Any) -> Any:
    """Jinja's ``finalize``: every ``{{ }}`` output is one printable line unless declared multi-line."""
    if isinstance(value, str):
        multiline = isinstance(value, MultiLine)
        problem = text_problem(
            value, multiline=multiline, forbid=IOS_BANNER_DELIMITER if multiline else ""
        )
        if problem is not None:
            raise UnsafeOutputError(problem, value)
    return value


@functools.cache
def environment() -> jinja2.Environment:
    """The Jinja environment over the role's templates.

    StrictUndefined: a typo fails the render. ``finalize``: an expression that
    would print a line break or a control character fails it too.
    """
    return jinja2.Environment(  # noqa: S701  (configs, not HTML: escaping would corrupt them)
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        **JINJA_OPTIONS,
    )


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, string) for every string in ``value``, mapping keys included."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(key, f"{path} (key)")
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _strings(item, f"{path}[{i}]")


def check_template_vars(device: str, variables: Mapping[str, Any]) -> None:
    """Refuse any template variable that is not one printable line (unless declared multi-line).

    The render-time guard behind the inventory models' own checks: it names the
    device and the variable, and it runs on both routes (``netwarden render``
    and the role's lookup plugin).

    Raises:
        RenderError: a variable holds a line break, a control character, the
            banner delimiter where it would end a banner, or (one-line values)
            more than :data:`~netwarden.inventory.text.IOS_TEXT_MAX` characters.
    """
    for path, text in _strings(variables, ""):
        generic = _INDEX.sub("", path)
        multiline = generic in MULTILINE_VARS
        problem = text_problem(
            text,
            multiline=multiline,
            forbid=IOS_BANNER_DELIMITER if generic in IN_BANNER_VARS else "",
            max_length=None if multiline else IOS_TEXT_MAX,
        )
        if problem is not None:
            raise RenderError(
                f"{device}: template variable {path} {problem}; refusing to render it "
                f"(got {text[:80]!r}{'...' if len(text) > 80 else ''})"
            )


@functools.cache
def role_defaults() -> dict[str, Any]:
    """The role's defaults (toggles and settings) that the templates read."""
    try:
        data = yaml.safe_load(ROLE_DEFAULTS.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RenderError(f"cannot read the role defaults {ROLE_DEFAULTS}: {exc}") from exc
    if not isinstance(data, dict):
        raise RenderError(f"{ROLE_DEFAULTS}: expected a mapping of ios_baseline_* variables")
    return {k: v for k, v in data.items() if k not in NON_TEMPLATE_DEFAULTS}


def vlan_list(vlans: list[int] | set[int]) -> str:
    """``[30, 10, 20]`` -> ``10,20,30`` (how IOS lists VLANs, without ranges).

    Examples:
        >>> vlan_list({50, 30, 40})
        '30,40,50'
    """
    return ",".join(str(v) for v in sorted(vlans))


@functools.cache
def ios_clock(tz_name: str, fallback_zone: str) -> dict[str, Any]:
    """``clock timezone`` and ``clock summer-time`` settings for an IANA time zone.

    Offsets and daylight-saving rules are read from the time zone database for
    :data:`REFERENCE_YEAR`; a zone abbreviation that IOS cannot take (``+03``)
    becomes ``fallback_zone`` (the site code).

    Examples:
        >>> ios_clock("Europe/Zurich", "GVA")["summer"]
        {'zone': 'CEST', 'rule': 'last Sun Mar 2:00 last Sun Oct 3:00'}
        >>> ios_clock("Asia/Riyadh", "JED")
        {'zone': 'JED', 'hours': 3, 'minutes': 0, 'summer': None}
    """
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise RenderError(f"time zone {tz_name!r} is not in the time zone database") from exc

    def name(abbr: str | None) -> str:
        return abbr if abbr and abbr.isalpha() and len(abbr) <= 7 else fallback_zone

    start = datetime(REFERENCE_YEAR, 1, 1, tzinfo=UTC)
    hours = [start + timedelta(hours=h) for h in range(366 * 24)]
    offsets = [(t, t.astimezone(tz).utcoffset() or timedelta()) for t in hours]
    std_offset = min(o for _, o in offsets)
    std_at = next(t for t, o in offsets if o == std_offset)
    total = int(std_offset.total_seconds()) // 60
    sign = -1 if total < 0 else 1
    clock: dict[str, Any] = {
        "zone": name(std_at.astimezone(tz).tzname()),
        "hours": sign * (abs(total) // 60),
        "minutes": abs(total) % 60,
        "summer": None,
    }
    changes = [(t, prev, off) for (_, prev), (t, off) in itertools.pairwise(offsets) if off != prev]
    if len(changes) != 2:
        return clock
    begin = next(c for c in changes if c[2] > c[1])
    end = next(c for c in changes if c[2] < c[1])
    dst_offset = begin[2]

    def when(instant: datetime, local_offset: timedelta) -> str:
        local = (instant + local_offset).replace(tzinfo=None)
        month_end = (local.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        week = "last" if local.day + 7 > month_end.day else str((local.day - 1) // 7 + 1)
        return f"{week} {local:%a} {local:%b} {local.hour}:{local:%M}"

    rule = f"{when(begin[0], std_offset)} {when(end[0], dst_offset)}"
    extra = int((dst_offset - std_offset).total_seconds()) // 60
    if extra != 60:
        rule += f" {extra}"
    clock["summer"] = {"zone": name(begin[0].astimezone(tz).tzname()), "rule": rule}
    return clock


def _site_vlans(site: Site) -> dict[int, str]:
    return {z.vlan: name for name, z in site.zones.items()}


def _device_vlans(inv: Inventory, device: Device) -> set[int]:
    """The VLANs a switch carries: all of its site's for a core switch, else those its ports use."""
    site = inv.site_of(device)
    if device.role == "core":
        return {z.vlan for z in site.zones.values()}
    vlans = {site.zones[MGMT_ZONE].vlan}
    for iface in device.interfaces:
        if iface.zone is not None and iface.zone in site.zones:
            vlans.add(site.zones[iface.zone].vlan)
    return vlans


def _trunk_allowed(inv: Inventory, device: Device, iface: Interface, own: set[int]) -> set[int]:
    """A trunk carries this switch's VLANs, narrowed to the peer's when the peer is a switch here."""
    peer = inv.devices.get(iface.peer or "")
    if peer is not None and peer.platform is Platform.IOS and peer.site == device.site:
        return own & _device_vlans(inv, peer)
    return own


def _interfaces(inv: Inventory, device: Device, vlans: set[int]) -> dict[str, list[dict[str, Any]]]:
    site = inv.site_of(device)
    out: dict[str, list[dict[str, Any]]] = {"access": [], "trunk": [], "svi": [], "routed": []}
    for iface in device.interfaces:
        zone = site.zones.get(iface.zone) if iface.zone else None
        base: dict[str, Any] = {
            "name": iface.name,
            "description": iface.description,
            "shutdown": iface.shutdown,
        }
        if iface.mode is InterfaceMode.ACCESS:
            if zone is None:
                raise RenderError(
                    f"{device.name}: access port {iface.name} has zone {iface.zone!r}, "
                    f"which has no VLAN at site {site.name}"
                )
            base |= {"zone": zone.zone, "vlan": zone.vlan, "user": zone.zone in USER_ZONES}
            out["access"].append(base)
        elif iface.mode is InterfaceMode.TRUNK:
            base["allowed"] = vlan_list(_trunk_allowed(inv, device, iface, vlans))
            out["trunk"].append(base)
        elif iface.mode in (InterfaceMode.SVI, InterfaceMode.ROUTED):
            if iface.address is None:
                raise RenderError(
                    f"{device.name}: {iface.mode.value} interface {iface.name} has no address"
                )
            base |= {
                "zone": iface.zone,
                "ip": str(iface.address.ip),
                "netmask": str(iface.address.netmask),
            }
            out["svi" if iface.mode is InterfaceMode.SVI else "routed"].append(base)
        else:
            raise RenderError(
                f"{device.name}: interface {iface.name} has mode {iface.mode.value!r}, "
                "which the ios_baseline templates do not render (expected access, trunk, svi or routed)"
            )
    return out


def _banners(inv: Inventory) -> dict[str, str]:
    banners = inv.policy.banners
    texts = {"ar": banners.ar, "en": banners.en, "fr": banners.fr}
    for lang, text in texts.items():
        if "^" in text:
            raise RenderError(
                f"policy.banners.{lang} contains '^', which would end the IOS banner "
                f"(delimiter {BANNER_DELIMITER})"
            )
    return texts


def _snmp(inv: Inventory, device: Device) -> dict[str, Any]:
    snmp = inv.policy.snmpv3
    engine_id = ios_secrets.snmp_engine_id(device.name)
    users = []
    for user in snmp.users:
        auth_key = ios_secrets.snmp_localized_key(
            user.auth_pass.get_secret_value(), bytes.fromhex(engine_id), user.auth
        )
        priv_bytes = ios_secrets.SNMP_PRIV_KEY_BYTES[user.priv]
        priv_key = ios_secrets.snmp_localized_key(
            user.priv_pass.get_secret_value(), bytes.fromhex(engine_id), user.auth
        )
        if len(priv_key) < priv_bytes:
            raise RenderError(
                f"policy.snmpv3.users[{user.name}]: priv {user.priv} needs a {priv_bytes * 8}-bit key "
                f"but auth {user.auth} localises only {len(priv_key) * 8} bits; use auth sha256 or better"
            )
        users.append(
            {
                "name": user.name,
                "auth": "sha" if user.auth == "sha" else f"sha-2 {user.auth.removeprefix('sha')}",
                "auth_key": ios_secrets.colon_hex(auth_key),
                "priv": f"aes {user.priv.removeprefix('aes')}",
                "priv_key": ios_secrets.colon_hex(priv_key[:priv_bytes]),
            }
        )
    return {
        "engine_id": engine_id,
        "group": snmp.group,
        "users": users,
        "managers": [str(inv.resolve(m)) for m in snmp.managers],
    }


def device_context(inv: Inventory, device: Device) -> dict[str, Any]:
    """Plain data for one ios device: everything the templates read besides the role defaults."""
    if device.platform is not Platform.IOS:
        raise RenderError(
            f"{device.name}: platform {device.platform.value!r} is not rendered by ios_baseline"
        )
    site = inv.site_of(device)
    hq = inv.hq()
    policy = inv.policy
    if MGMT_ZONE not in site.zones or MGMT_ZONE not in hq.zones:
        raise RenderError(f"{device.name}: site {site.name} or HQ has no {MGMT_ZONE} zone")
    vlans = _device_vlans(inv, device)
    site_vlans = _site_vlans(site)
    interfaces = _interfaces(inv, device, vlans)
    mgmt = next((i for i in interfaces["svi"] if i["zone"] == MGMT_ZONE), None)
    if mgmt is None:
        raise RenderError(
            f"{device.name}: no svi interface in zone {MGMT_ZONE} (the management interface)"
        )
    hq_mgmt = hq.zones[MGMT_ZONE].subnet
    name = device.name
    context = {
        "hostname": name,
        "domain": inv.org.domain,
        "model": device.model,
        "role": device.role,
        "site": {"name": site.name, "code": site.code, "city": site.city, "role": site.role.value},
        "clock": ios_clock(site.timezone, site.code),
        "dns_servers": [str(inv.resolve(s)) for s in policy.dns.servers],
        "vlans": [{"id": v, "name": site_vlans[v]} for v in sorted(vlans)],
        "user_vlans": vlan_list({v for v in vlans if site_vlans[v] in USER_ZONES}),
        "interfaces": interfaces,
        "mgmt_interface": mgmt["name"],
        "default_gateway": str(site.zones[MGMT_ZONE].gateway),
        "mgmt_acl": {
            "name": "NW-MGMT-ACCESS",
            "network": str(hq_mgmt.network_address),
            "wildcard": str(hq_mgmt.hostmask),
        },
        "enable_secret": ios_secrets.type9(
            policy.enable_secret.get_secret_value(), ios_secrets.derive_salt(name, "enable")
        ),
        "users": [
            {
                "name": u.name,
                "privilege": u.privilege,
                "secret": ios_secrets.type9(
                    u.secret.get_secret_value(), ios_secrets.derive_salt(name, f"user:{u.name}")
                ),
            }
            for u in policy.local_users
        ],
        "tacacs": [
            {
                "name": server,
                "address": str(inv.resolve(server)),
                "key": ios_secrets.type7(
                    policy.aaa.tacacs_key.get_secret_value(),
                    ios_secrets.derive_seed(name, f"tacacs:{server}"),
                ),
            }
            for server in policy.aaa.tacacs_servers
        ],
        "ntp": {
            "key_id": policy.ntp.auth_key_id,
            "key": ios_secrets.type7(
                policy.ntp.auth_key.get_secret_value(), ios_secrets.derive_seed(name, "ntp")
            ),
            "servers": [str(inv.resolve(s)) for s in policy.ntp.servers],
        },
        "syslog": {
            "hosts": [str(inv.resolve(s)) for s in policy.syslog.servers],
            "trap": policy.syslog.trap_level,
        },
        "snmp": _snmp(inv, device),
        "ssh": {"timeout": policy.ssh.timeout_seconds, "retries": policy.ssh.retries},
        "exec_timeout": policy.exec_timeout_minutes,
        "banner_delimiter": BANNER_DELIMITER,
        "banners": _banners(inv),
    }
    check_template_vars(name, {DEVICE_VAR: context})
    return context


def check_role_vars(device: str, variables: Mapping[str, Any]) -> None:
    """:func:`check_template_vars` on the ``ios_baseline_*`` template options among ``variables``.

    For the role's route, where Ansible supplies the options (role defaults,
    inventory or play variables) and renders without this module's environment.
    """
    check_template_vars(device, {k: v for k, v in variables.items() if k in role_defaults()})


def template_vars(
    inv: Inventory, device: Device, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Everything the templates see: role defaults (optionally overridden) plus the device."""
    unknown = sorted(k for k in overrides or {} if k not in role_defaults())
    if unknown:
        raise RenderError(
            f"unknown ios_baseline option(s) {', '.join(unknown)}; see {ROLE_DEFAULTS}"
        )
    role_vars = {**role_defaults(), **(overrides or {})}
    check_template_vars(device.name, role_vars)
    return {**role_vars, DEVICE_VAR: device_context(inv, device)}


def render_device(
    inv: Inventory, device: Device, overrides: Mapping[str, Any] | None = None
) -> str:
    """The full intended running config of one ios device, in ``show running-config`` form."""
    variables = _declare_multiline(template_vars(inv, device, overrides))
    try:
        return environment().get_template(ENTRY_TEMPLATE).render(variables)
    except UnsafeOutputError as exc:
        raise RenderError(
            f"{device.name}: {_template_line(exc)}: an expression would print a value that "
            f"{exc.problem}; refusing to render it (got {exc.value[:80]!r})"
        ) from None
    except jinja2.TemplateError as exc:
        where = (
            f"{exc.filename}:{exc.lineno}" if isinstance(exc, jinja2.TemplateSyntaxError) else ""
        )
        raise RenderError(
            f"{device.name}: template {where or ENTRY_TEMPLATE} failed: {exc.message or exc}"
        ) from exc


def _declare_multiline(variables: dict[str, Any]) -> dict[str, Any]:
    """Mark the values of :data:`MULTILINE_VARS` so ``finalize`` lets their line feeds through."""
    device = dict(variables[DEVICE_VAR])
    device["banners"] = {k: MultiLine(v) for k, v in device["banners"].items()}
    return {**variables, DEVICE_VAR: device}


def _template_line(exc: BaseException) -> str:
    """``template:line`` of the innermost template frame of ``exc`` (Jinja rewrites tracebacks)."""
    where = ENTRY_TEMPLATE
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            try:
                shown = Path(filename).resolve().relative_to(TEMPLATE_DIR)
            except ValueError:
                shown = Path(filename)
            where = f"{shown}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


def select_devices(inv: Inventory, limit: str | None = None) -> list[Device]:
    """ios devices matching ``limit`` (the grammar of :mod:`netwarden.inventory.select`).

    Device-name globs, site names (or globs), the inventory's groups (``site_<name>``,
    ``hq``, ``field_offices``, ``switches`` ...) and functions (``switch`` ...),
    comma-separated. ``None`` selects every ios device.
    """
    return [d for d in select(inv, limit) if d.platform is Platform.IOS]


def render_all(inv: Inventory, limit: str | None = None) -> dict[str, str]:
    """Intended configs of the selected ios devices, by device name (non-ios devices are skipped)."""
    configs = {d.name: render_device(inv, d) for d in select_devices(inv, limit)}
    logger.debug("rendered %d intended config(s)", len(configs))
    return configs


def fingerprint(config: str) -> str:
    """The sha256 of a rendered config (hex), to compare renders without showing them."""
    return hashlib.sha256(config.encode()).hexdigest()
