"""The typed render context: everything the ``ios_baseline`` templates read about one device.

:class:`DeviceContext` is one frozen model (nested frozen models where the data
is structured), built from the validated inventory by :func:`build_context`.
The templates do not see the model itself but its plain data,
:meth:`DeviceContext.template_data` (``model_dump(mode="json")``): that is what
``netwarden render`` passes to Jinja and what the role's lookup plugin hands to
Ansible, so both routes render the very same values. The one entry point for
both is :func:`netwarden.render.device_context` (this builder plus the
render-time guard).

Secrets leave their ``SecretStr`` only here, already hashed (type 9), encoded
(type 7) or localised (SNMPv3 keys); the fields that hold them are left out of
the models' ``repr`` (a type 7 key is reversible) and nothing here logs a
context.

The models declare types, not content rules: a value that slipped past the
inventory models (a line break, a control character) must reach the guard
(:func:`netwarden.render.guard.check_template_vars`), which names device and
variable, rather than fail here with a pydantic error.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from netwarden.basemodel import FrozenModel
from netwarden.errors import RenderError
from netwarden.inventory.models import (
    Device,
    Interface,
    InterfaceMode,
    Inventory,
    Platform,
    Site,
)
from netwarden.ios import secrets as ios_secrets
from netwarden.render.clock import ios_clock

USER_ZONES = ("staff", "guests", "voice")
"""Zones whose VLANs get DHCP snooping and dynamic ARP inspection."""
MGMT_ZONE = "mgmt"
MGMT_ACL = "NW-MGMT-ACCESS"
BANNER_DELIMITER = "^C"


class SiteInfo(FrozenModel):
    """The device's site, as the header comment and the motd banner show it."""

    name: str
    code: str
    city: str
    role: str


class SummerTime(FrozenModel):
    """``clock summer-time <zone> recurring <rule>``."""

    zone: str
    rule: str


class Clock(FrozenModel):
    """``clock timezone <zone> <hours> <minutes>`` and the summer time, if the zone has one."""

    zone: str
    hours: int
    minutes: int
    summer: SummerTime | None


class Vlan(FrozenModel):
    """A VLAN the switch carries: ``vlan <id>`` / `` name <name>`` (the zone)."""

    id: int
    name: str


class AccessPort(FrozenModel):
    """An access port in one zone's VLAN; ``user``: the zone gets DHCP snooping and DAI."""

    name: str
    description: str
    shutdown: bool
    zone: str
    vlan: int
    user: bool


class TrunkPort(FrozenModel):
    """A trunk; ``allowed``: the VLAN list it carries (``10,20,30``)."""

    name: str
    description: str
    shutdown: bool
    allowed: str


class L3Interface(FrozenModel):
    """An SVI or a routed port, with its address."""

    name: str
    description: str
    shutdown: bool
    zone: str | None
    ip: str
    netmask: str


class Interfaces(FrozenModel):
    """The device's interfaces by kind, each in inventory order."""

    access: tuple[AccessPort, ...] = ()
    trunk: tuple[TrunkPort, ...] = ()
    svi: tuple[L3Interface, ...] = ()
    routed: tuple[L3Interface, ...] = ()


class MgmtAcl(FrozenModel):
    """The standard ACL on the vty lines: the HQ management subnet only."""

    name: str
    network: str
    wildcard: str


class LocalUser(FrozenModel):
    """``username <name> privilege <n> secret <type 9 hash>``."""

    name: str
    privilege: int
    secret: str = Field(repr=False)


class TacacsServer(FrozenModel):
    """``tacacs server <name>`` with its address and its type 7 key."""

    name: str
    address: str
    key: str = Field(repr=False)


class Ntp(FrozenModel):
    """Authenticated NTP: key id, type 7 key, server addresses."""

    key_id: int
    key: str = Field(repr=False)
    servers: tuple[str, ...]


class Syslog(FrozenModel):
    """Syslog hosts (addresses) and the trap level."""

    hosts: tuple[str, ...]
    trap: str


class SnmpUser(FrozenModel):
    """An SNMPv3 user with keys localised to the device's engine ID (IOS ``encrypted`` syntax)."""

    name: str
    auth: str
    auth_key: str = Field(repr=False)
    priv: str
    priv_key: str = Field(repr=False)


class Snmp(FrozenModel):
    """SNMPv3 authPriv: engine ID, group, users, manager addresses."""

    engine_id: str
    group: str
    users: tuple[SnmpUser, ...]
    managers: tuple[str, ...]


class Ssh(FrozenModel):
    """``ip ssh time-out`` and ``ip ssh authentication-retries``."""

    timeout: int
    retries: int


class Banners(FrozenModel):
    """The login banner's three languages (the only multi-line template values)."""

    ar: str
    en: str
    fr: str


class DeviceContext(FrozenModel):
    """Everything the ``ios_baseline`` templates read about one device (``ios_baseline_device``).

    The role's defaults (toggles and settings) are the templates' other input;
    see :func:`netwarden.render.template_vars`.
    """

    hostname: str
    domain: str
    model: str
    role: str
    site: SiteInfo
    clock: Clock
    dns_servers: tuple[str, ...]
    vlans: tuple[Vlan, ...]
    user_vlans: str
    interfaces: Interfaces
    mgmt_interface: str
    default_gateway: str
    mgmt_acl: MgmtAcl
    enable_secret: str = Field(repr=False)
    users: tuple[LocalUser, ...]
    tacacs: tuple[TacacsServer, ...]
    ntp: Ntp
    syslog: Syslog
    snmp: Snmp
    ssh: Ssh
    exec_timeout: int
    banner_delimiter: str
    banners: Banners

    def template_data(self) -> dict[str, Any]:
        """The plain data the templates read: what Jinja and Ansible both receive."""
        return self.model_dump(mode="json")


def vlan_list(vlans: list[int] | set[int]) -> str:
    """``[30, 10, 20]`` -> ``10,20,30`` (how IOS lists VLANs, without ranges).

    Examples:
        >>> vlan_list({50, 30, 40})
        '30,40,50'
    """
    return ",".join(str(v) for v in sorted(vlans))


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


def _interfaces(inv: Inventory, device: Device, vlans: set[int]) -> Interfaces:
    site = inv.site_of(device)
    access: list[AccessPort] = []
    trunk: list[TrunkPort] = []
    svi: list[L3Interface] = []
    routed: list[L3Interface] = []
    for iface in device.interfaces:
        zone = site.zones.get(iface.zone) if iface.zone else None
        name, description, shutdown = iface.name, iface.description, iface.shutdown
        if iface.mode is InterfaceMode.ACCESS:
            if zone is None:
                raise RenderError(
                    f"{device.name}: access port {iface.name} has zone {iface.zone!r}, "
                    f"which has no VLAN at site {site.name}"
                )
            access.append(
                AccessPort(
                    name=name,
                    description=description,
                    shutdown=shutdown,
                    zone=zone.zone,
                    vlan=zone.vlan,
                    user=zone.zone in USER_ZONES,
                )
            )
        elif iface.mode is InterfaceMode.TRUNK:
            allowed = vlan_list(_trunk_allowed(inv, device, iface, vlans))
            trunk.append(
                TrunkPort(name=name, description=description, shutdown=shutdown, allowed=allowed)
            )
        elif iface.mode in (InterfaceMode.SVI, InterfaceMode.ROUTED, InterfaceMode.WAN):
            # A switch's `wan` port is a routed port facing the WAN: rendered as `routed`,
            # the mode only tells the exporter which link is the site's WAN (decision 98).
            if iface.address is None:
                raise RenderError(
                    f"{device.name}: {iface.mode.value} interface {iface.name} has no address"
                )
            l3 = L3Interface(
                name=name,
                description=description,
                shutdown=shutdown,
                zone=iface.zone,
                ip=str(iface.address.ip),
                netmask=str(iface.address.netmask),
            )
            (svi if iface.mode is InterfaceMode.SVI else routed).append(l3)
        else:
            raise RenderError(
                f"{device.name}: interface {iface.name} has mode {iface.mode.value!r}, "
                "which the ios_baseline templates do not render "
                "(expected access, trunk, svi, routed or wan)"
            )
    return Interfaces(
        access=tuple(access), trunk=tuple(trunk), svi=tuple(svi), routed=tuple(routed)
    )


def _banners(inv: Inventory) -> Banners:
    banners = inv.policy.banners
    texts = {"ar": banners.ar, "en": banners.en, "fr": banners.fr}
    for lang, text in texts.items():
        if "^" in text:
            raise RenderError(
                f"policy.banners.{lang} contains '^', which would end the IOS banner "
                f"(delimiter {BANNER_DELIMITER})"
            )
    return Banners(ar=banners.ar, en=banners.en, fr=banners.fr)


def _snmp(inv: Inventory, device: Device) -> Snmp:
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
            SnmpUser(
                name=user.name,
                auth="sha" if user.auth == "sha" else f"sha-2 {user.auth.removeprefix('sha')}",
                auth_key=ios_secrets.colon_hex(auth_key),
                priv=f"aes {user.priv.removeprefix('aes')}",
                priv_key=ios_secrets.colon_hex(priv_key[:priv_bytes]),
            )
        )
    return Snmp(
        engine_id=engine_id,
        group=snmp.group,
        users=tuple(users),
        managers=tuple(str(inv.resolve(m)) for m in snmp.managers),
    )


def build_context(inv: Inventory, device: Device) -> DeviceContext:
    """The context of one ios device, from the validated inventory (the guard not yet run).

    Callers use :func:`netwarden.render.device_context`, which runs this and
    then the render-time guard on its :meth:`~DeviceContext.template_data`.

    Raises:
        RenderError: the device is not ios, or the inventory lacks what the
            templates need (a management zone or SVI, a zone VLAN, an address),
            or a banner holds the delimiter, or an SNMPv3 user's keys are too short.
    """
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
    mgmt = next((i for i in interfaces.svi if i.zone == MGMT_ZONE), None)
    if mgmt is None:
        raise RenderError(
            f"{device.name}: no svi interface in zone {MGMT_ZONE} (the management interface)"
        )
    hq_mgmt = hq.zones[MGMT_ZONE].subnet
    name = device.name
    return DeviceContext(
        hostname=name,
        domain=inv.org.domain,
        model=device.model,
        role=device.role,
        site=SiteInfo(name=site.name, code=site.code, city=site.city, role=site.role.value),
        clock=Clock.model_validate(ios_clock(site.timezone, site.code)),
        dns_servers=tuple(str(inv.resolve(s)) for s in policy.dns.servers),
        vlans=tuple(Vlan(id=v, name=site_vlans[v]) for v in sorted(vlans)),
        user_vlans=vlan_list({v for v in vlans if site_vlans[v] in USER_ZONES}),
        interfaces=interfaces,
        mgmt_interface=mgmt.name,
        default_gateway=str(site.zones[MGMT_ZONE].gateway),
        mgmt_acl=MgmtAcl(
            name=MGMT_ACL,
            network=str(hq_mgmt.network_address),
            wildcard=str(hq_mgmt.hostmask),
        ),
        enable_secret=ios_secrets.type9(
            policy.enable_secret.get_secret_value(), ios_secrets.derive_salt(name, "enable")
        ),
        users=tuple(
            LocalUser(
                name=u.name,
                privilege=u.privilege,
                secret=ios_secrets.type9(
                    u.secret.get_secret_value(), ios_secrets.derive_salt(name, f"user:{u.name}")
                ),
            )
            for u in policy.local_users
        ),
        tacacs=tuple(
            TacacsServer(
                name=server,
                address=str(inv.resolve(server)),
                key=ios_secrets.type7(
                    policy.aaa.tacacs_key.get_secret_value(),
                    ios_secrets.derive_seed(name, f"tacacs:{server}"),
                ),
            )
            for server in policy.aaa.tacacs_servers
        ),
        ntp=Ntp(
            key_id=policy.ntp.auth_key_id,
            key=ios_secrets.type7(
                policy.ntp.auth_key.get_secret_value(), ios_secrets.derive_seed(name, "ntp")
            ),
            servers=tuple(str(inv.resolve(s)) for s in policy.ntp.servers),
        ),
        syslog=Syslog(
            hosts=tuple(str(inv.resolve(s)) for s in policy.syslog.servers),
            trap=policy.syslog.trap_level,
        ),
        snmp=_snmp(inv, device),
        ssh=Ssh(timeout=policy.ssh.timeout_seconds, retries=policy.ssh.retries),
        exec_timeout=policy.exec_timeout_minutes,
        banner_delimiter=BANNER_DELIMITER,
        banners=_banners(inv),
    )
