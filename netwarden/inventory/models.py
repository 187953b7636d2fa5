"""Typed, frozen models of the inventory: sites, zones, devices, services, flow policy.

These are the boundary between Ansible's YAML and the rest of netwarden. The
loader (``loader.py``) builds them from Ansible's variables; nothing else parses
inventory YAML. Every entity carries ``src``, the file and line it came from, so
a finding can name where to fix it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from netwarden.basemodel import FrozenModel
from netwarden.inventory.text import IOS_BANNER_DELIMITER, IOS_TEXT_MAX, text_problem

EXTERNAL_ZONE = "internet"
"""The pseudo-zone for everything outside the organisation."""

SITE_GROUP_PREFIX = "site_"
FUNCTION_GROUPS = {
    "switches": "switch",
    "firewalls": "firewall",
    "servers": "server",
    "sensors": "sensor",
}


@dataclass(frozen=True)
class Text:
    """How a string field's characters are checked (``Annotated`` metadata; see ``text.py``).

    Without it a string (or each string in a tuple or mapping, keys included) is
    one line of printable text. ``multiline`` allows line feeds and tabs;
    ``forbid`` refuses more characters; ``checked=False`` exempts the field
    (file paths, which never reach a device).
    """

    multiline: bool = False
    forbid: str = ""
    checked: bool = True


SINGLE_LINE = Text()
IN_BANNER = Text(forbid=IOS_BANNER_DELIMITER)
"""One line that is also shown inside an IOS banner (device name, city)."""
BANNER_TEXT = Text(multiline=True, forbid=IOS_BANNER_DELIMITER)
"""Banner text: several lines allowed, the banner delimiter not."""
NOT_CHECKED = Text(checked=False)


def _text_errors(value: object, rule: Text, where: str = "") -> str | None:
    """The first refused character in the strings of ``value`` (walking tuples and mappings)."""
    if isinstance(value, str):
        problem = text_problem(value, multiline=rule.multiline, forbid=rule.forbid)
        return f"{where} {problem}".lstrip() if problem else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = _text_errors(key, SINGLE_LINE, f"key {key!r}") or _text_errors(
                item, rule, f"[{key!r}]"
            )
            if found:
                return found
    elif isinstance(value, tuple | list):
        for i, item in enumerate(value):
            found = _text_errors(item, rule, f"[{i}]")
            if found:
                return found
    return None


class Model(FrozenModel):
    """Base of every inventory model: immutable, unknown keys rejected, strings printable.

    Every string field is one line of printable text unless its annotation says
    otherwise (:class:`Text`): inventory values end up in device configurations,
    where a line break starts a new command.
    """

    model_config = ConfigDict(str_strip_whitespace=True)  # frozen, extra="forbid": FrozenModel

    @field_validator("*", mode="after")
    @classmethod
    def _printable_text(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name is None or isinstance(value, BaseModel):
            return value
        field = cls.model_fields.get(info.field_name)
        rule = next(
            (m for m in (field.metadata if field else ()) if isinstance(m, Text)), SINGLE_LINE
        )
        if rule.checked:
            problem = _text_errors(value, rule)
            if problem:
                raise ValueError(problem)
        return value


class Source(Model):
    """Where an entity was defined: a file and a line (1-based, 0 when unknown)."""

    file: Annotated[str, NOT_CHECKED] = ""
    line: int = 0

    def __str__(self) -> str:
        if not self.file:
            return "<unknown>"
        return f"{self.file}:{self.line}" if self.line else self.file


NO_SOURCE = Source()
SourceField = Annotated[Source, Field(default=NO_SOURCE, exclude=True, repr=False)]


class Platform(StrEnum):
    """Device platforms netwarden manages. Adding one is templates + rules + simulator data."""

    IOS = "ios"
    LINUX = "linux"


class Function(StrEnum):
    """What a device does, from its function group (switches, firewalls, servers, sensors)."""

    SWITCH = "switch"
    FIREWALL = "firewall"
    SERVER = "server"
    SENSOR = "sensor"


class SiteRole(StrEnum):
    HQ = "hq"
    FIELD = "field"


class Protocol(StrEnum):
    TCP = "tcp"
    UDP = "udp"
    ICMP = "icmp"


_PORT_RE = re.compile(r"^(?P<proto>tcp|udp)/(?P<lo>\d{1,5})(?:-(?P<hi>\d{1,5}))?$")


class PortRange(Model):
    """One protocol and port range of a service, written ``tcp/443``, ``udp/16384-32767`` or ``icmp``.

    Examples:
        >>> PortRange.parse("udp/16384-32767")
        PortRange(proto=<Protocol.UDP: 'udp'>, first=16384, last=32767)
        >>> PortRange.parse("tcp/22").contains(Protocol.TCP, 22)
        True
    """

    proto: Protocol
    first: int | None = None
    last: int | None = None

    @classmethod
    def parse(cls, text: str) -> PortRange:
        text = text.strip().lower()
        if text == "icmp":
            return cls(proto=Protocol.ICMP)
        m = _PORT_RE.match(text)
        if not m:
            raise ValueError(
                f"{text!r} is not a port spec; expected tcp/PORT, udp/PORT[-PORT] or icmp"
            )
        lo = int(m["lo"])
        hi = int(m["hi"]) if m["hi"] else lo
        if not (1 <= lo <= hi <= 65535):
            raise ValueError(f"{text!r}: ports must be 1-65535 and first <= last")
        return cls(proto=Protocol(m["proto"]), first=lo, last=hi)

    def contains(self, proto: Protocol, port: int | None) -> bool:
        if proto != self.proto:
            return False
        if self.proto is Protocol.ICMP:
            return True
        return (
            port is not None
            and self.first is not None
            and self.last is not None
            and (self.first <= port <= self.last)
        )

    def __str__(self) -> str:
        if self.proto is Protocol.ICMP:
            return "icmp"
        if self.first == self.last:
            return f"{self.proto}/{self.first}"
        return f"{self.proto}/{self.first}-{self.last}"


class Service(Model):
    name: str
    ports: tuple[PortRange, ...]
    src: SourceField


class Zone(Model):
    name: str
    description: str = ""
    hq_only: bool = False
    external: bool = False
    src: SourceField


class ZoneSubnet(Model):
    """A site's subnet for one zone: VLAN, prefix and default gateway."""

    zone: str
    vlan: int = Field(ge=1, le=4094)
    subnet: IPv4Network
    gateway: IPv4Address
    src: SourceField

    @model_validator(mode="after")
    def _gateway_inside(self) -> ZoneSubnet:
        if self.gateway not in self.subnet:
            raise ValueError(f"gateway {self.gateway} is outside subnet {self.subnet}")
        return self


class WanLink(Model):
    """The site's WAN link: our address on it, the peer, the carrier.

    ``masquerade``: the site firewall source-NATs (masquerades) traffic leaving by
    the WAN for the internet zone (off by default: the WAN carries the sites' own
    addresses).
    """

    kind: Literal["mpls", "internet-vpn", "satellite", "internet"] = "mpls"
    address: IPv4Interface
    peer: IPv4Address
    provider: str = ""
    bandwidth_mbps: int = Field(default=100, gt=0)
    masquerade: bool = False


class Partner(Model):
    """A member state's entity joined to a site over a site-to-site VPN (``partners:``).

    ``public_address`` is the partner router's address on the WAN, with the prefix of
    its link (the carrier's end takes another address of it); ``tunnel`` is the VPN's
    inner network (a /29 or /30 holding both ends); ``networks`` are the partner's own
    LAN prefixes, routed through the tunnel to the ``partners`` zone of ``site``.
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,23}$")
    description: str = ""
    site: str
    public_address: IPv4Interface
    tunnel: IPv4Network
    networks: tuple[IPv4Network, ...] = Field(min_length=1)
    src: SourceField

    @field_validator("public_address")
    @classmethod
    def _link_has_room(cls, value: IPv4Interface) -> IPv4Interface:
        if value.network.prefixlen > 30 or value.ip in (
            value.network.network_address,
            value.network.broadcast_address,
        ):
            raise ValueError(
                f"{value} must be a host address of a link of /30 or wider "
                "(the WAN end takes another address of it)"
            )
        return value

    @field_validator("tunnel")
    @classmethod
    def _tunnel_size(cls, value: IPv4Network) -> IPv4Network:
        if value.prefixlen not in (29, 30):
            raise ValueError(f"a tunnel network is a /29 or /30, not /{value.prefixlen}")
        return value

    @model_validator(mode="after")
    def _disjoint(self) -> Partner:
        nets = [("tunnel", self.tunnel)] + [
            (f"networks[{i}]", n) for i, n in enumerate(self.networks)
        ]
        nets.append(("public_address", self.public_address.network))
        for i, (a_key, a) in enumerate(nets):
            for b_key, b in nets[i + 1 :]:
                if a.overlaps(b):
                    raise ValueError(f"{b_key} {b} overlaps {a_key} {a}")
        return self


class Site(Model):
    name: str = Field(pattern=r"^[a-z][a-z0-9]{1,15}$")
    code: str = Field(pattern=r"^[A-Z][A-Z0-9]{2,5}$")
    city: Annotated[str, IN_BANNER]
    country: str = Field(pattern=r"^[A-Z]{2}$")
    role: SiteRole
    timezone: str
    zones: dict[str, ZoneSubnet]
    wan: WanLink
    src: SourceField

    @field_validator("zones", mode="before")
    @classmethod
    def _name_zones(cls, value: object) -> object:
        if isinstance(value, dict):
            return {k: {"zone": k, **v} if isinstance(v, dict) else v for k, v in value.items()}
        return value

    @property
    def group(self) -> str:
        return f"{SITE_GROUP_PREFIX}{self.name}"


class InterfaceMode(StrEnum):
    ACCESS = "access"
    TRUNK = "trunk"
    SVI = "svi"
    ROUTED = "routed"
    WAN = "wan"
    CAPTURE = "capture"


class Interface(Model):
    name: str = Field(min_length=1)
    mode: InterfaceMode
    zone: str | None = None
    description: str = Field(default="", max_length=IOS_TEXT_MAX)  # IOS's description limit
    address: IPv4Interface | None = None
    peer: str | None = None
    shutdown: bool = False
    src: SourceField


class Connection(Model):
    """How to reach a device: Ansible's connection variables, resolved per host.

    ``host`` is ``ansible_host`` (default: the management address); credentials
    come from ``ansible_user``/``ansible_password``/``ansible_become_password``
    (vault references allowed), a key from ``ansible_ssh_private_key_file``. Absent credentials are looked up by the session
    layer (environment) at connect time.
    """

    host: str
    port: int = Field(default=22, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    enable_secret: SecretStr | None = None
    key_file: str | None = None
    """``ansible_ssh_private_key_file``: the private key to log in with (Linux hosts)."""
    lab_absent: bool = False
    """``netwarden_lab_absent``: a lab inventory lists the device but the lab does not run it
    (``netwarden lab sim`` simulates switches only); device commands leave it out."""


class Device(Model):
    name: Annotated[str, IN_BANNER]
    site: str
    platform: Platform
    function: Function
    mgmt_address: IPv4Address
    model: str = ""
    role: str = ""
    provides: tuple[str, ...] = ()
    interfaces: tuple[Interface, ...] = ()
    src: SourceField
    key_src: dict[str, Source] = Field(default_factory=dict, exclude=True, repr=False)
    connection: Connection | None = Field(default=None, exclude=True)

    def where(self, key: str) -> Source:
        """Where one of this device's top-level keys was set (the device's file if unknown)."""
        return self.key_src.get(key.split("[", 1)[0].split(".", 1)[0], self.src)

    def addresses(self) -> Iterator[tuple[str, IPv4Address]]:
        """Yield (where, address) for every address this device holds."""
        yield "mgmt_address", self.mgmt_address
        for i, iface in enumerate(self.interfaces):
            if iface.address is not None and iface.address.ip != self.mgmt_address:
                yield f"interfaces[{i}].address", iface.address.ip

    def service_address(self) -> IPv4Address:
        """The address clients use for this device's services: the first non-mgmt address."""
        for iface in self.interfaces:
            if iface.address is not None and iface.zone not in (None, "mgmt"):
                return iface.address.ip
        return self.mgmt_address


class SiteSelector(StrEnum):
    ANY = "any"
    HQ = "hq"
    FIELD = "field"
    SAME = "same"


class FlowEndpoint(Model):
    """A zone at some sites: ``{zone: staff, site: any}``; ``site`` may also name one site."""

    zone: str
    site: str | None = None

    def matches_site(self, site: Site | None, other: Site | None) -> bool:  # noqa: PLR0911
        """Whether ``site`` is selected; ``other`` is the flow's source site (for ``same``)."""
        if self.zone == EXTERNAL_ZONE:
            return site is None
        if site is None:
            return False
        sel = self.site or SiteSelector.ANY
        if sel == SiteSelector.ANY:
            return True
        if sel == SiteSelector.HQ:
            return site.role is SiteRole.HQ
        if sel == SiteSelector.FIELD:
            return site.role is SiteRole.FIELD
        if sel == SiteSelector.SAME:
            return other is not None and other.name == site.name
        return sel == site.name


class FlowRule(Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str = ""
    src_: FlowEndpoint = Field(alias="from")
    dst: FlowEndpoint = Field(alias="to")
    services: tuple[str, ...] = Field(min_length=1)
    action: Literal["allow", "deny"] = "allow"
    log: bool = False
    src: SourceField

    model_config = ConfigDict(populate_by_name=True)  # `from`/`to` or `src_`/`dst`


class FlowPolicy(Model):
    default: Literal["deny"] = "deny"
    rules: tuple[FlowRule, ...] = ()
    src: SourceField


class NtpPolicy(Model):
    servers: tuple[str, ...] = Field(min_length=1)
    auth_key_id: int = Field(ge=1, le=65535)
    auth_key: SecretStr


class SyslogPolicy(Model):
    servers: tuple[str, ...] = Field(min_length=1)
    trap_level: Literal[
        "emergencies",
        "alerts",
        "critical",
        "errors",
        "warnings",
        "notifications",
        "informational",
        "debugging",
    ] = "informational"


class AaaPolicy(Model):
    tacacs_servers: tuple[str, ...] = Field(min_length=1)
    tacacs_key: SecretStr


class LocalUser(Model):
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,31}$")
    privilege: int = Field(default=15, ge=0, le=15)
    secret: SecretStr


class SnmpV3User(Model):
    name: str
    auth: Literal["sha", "sha256", "sha384", "sha512"] = "sha"
    priv: Literal["aes128", "aes192", "aes256"] = "aes128"
    auth_pass: SecretStr
    priv_pass: SecretStr


class SnmpV3Policy(Model):
    group: str
    users: tuple[SnmpV3User, ...] = Field(min_length=1)
    managers: tuple[str, ...] = ()


class SshPolicy(Model):
    timeout_seconds: int = Field(default=60, ge=1, le=120)
    retries: int = Field(default=3, ge=0, le=5)


class Banners(Model):
    """The legal banner in three languages: several lines allowed, but not the IOS delimiter."""

    ar: Annotated[str, BANNER_TEXT] = Field(min_length=1)
    en: Annotated[str, BANNER_TEXT] = Field(min_length=1)
    fr: Annotated[str, BANNER_TEXT] = Field(min_length=1)


class DnsPolicy(Model):
    servers: tuple[str, ...] = Field(min_length=1)


class Policy(Model):
    """Organisation policy from ``group_vars/all``: servers are inventory host names."""

    dns: DnsPolicy
    ntp: NtpPolicy
    syslog: SyslogPolicy
    aaa: AaaPolicy
    enable_secret: SecretStr
    local_users: tuple[LocalUser, ...] = Field(min_length=1)
    snmpv3: SnmpV3Policy
    ssh: SshPolicy = SshPolicy()
    exec_timeout_minutes: int = Field(default=10, ge=1, le=60)
    banners: Banners
    src: SourceField


class Org(Model):
    name: str
    domain: str = Field(pattern=r"^[a-z0-9.-]+\.[a-z]{2,}$")


class WaiverScope(Model):
    """Exactly one of device, site or pattern (an fnmatch pattern on device names)."""

    device: str | None = None
    site: str | None = None
    pattern: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> WaiverScope:
        given = [v for v in (self.device, self.site, self.pattern) if v is not None]
        if len(given) != 1:
            raise ValueError("a waiver scope names exactly one of device, site or pattern")
        return self


class Waiver(Model):
    rule: str
    scope: WaiverScope
    justification: str = Field(min_length=10)
    approver: str = Field(min_length=1)
    expires: date
    src: SourceField

    def expired(self, today: date) -> bool:
        return today > self.expires


class Compliance(Model):
    profile: str
    waivers: tuple[Waiver, ...] = ()


class Inventory(Model):
    """The whole network, validated. Build it with :func:`netwarden.inventory.load_inventory`."""

    path: Annotated[str, NOT_CHECKED]
    org: Org
    policy: Policy
    zones: dict[str, Zone]
    services: dict[str, Service]
    flow_policy: FlowPolicy
    compliance: Compliance
    sites: dict[str, Site]
    devices: dict[str, Device]
    partners: dict[str, Partner] = Field(default_factory=dict)

    def site_of(self, device: Device) -> Site:
        return self.sites[device.site]

    def devices_at(self, site: str) -> list[Device]:
        return [d for d in self.devices.values() if d.site == site]

    def hq(self) -> Site:
        for site in self.sites.values():
            if site.role is SiteRole.HQ:
                return site
        raise LookupError("the inventory has no HQ site")

    def resolve(self, host: str) -> IPv4Address:
        """The service address of an inventory host named by the policy."""
        return self.devices[host].service_address()
