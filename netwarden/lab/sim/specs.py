"""What a simulated device is made of: its spec, its faults and its first config.

Examples:
    >>> spec = synthetic_spec(3, password="pw", enable_secret="en")
    >>> spec.hostname, spec.interfaces[0].name
    ('sim-sw003', 'GigabitEthernet1/0/1')
    >>> "hostname sim-sw003" in initial_config(spec, "9 $9$x$y", "9 $9$x$z")
    True
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from netwarden.lab.sim.showmodel import ArpEntryView, LldpNeighborView
from netwarden.lab.sim.shows_util import prefix_to_netmask

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InterfaceSpec:
    """A physical or logical interface the device has from boot."""

    name: str
    connected: bool = True  # link up when not shut down
    speed_mbps: int = 1000
    description: str = ""
    switchport: bool = True
    access_vlan: int | None = None
    trunk: bool = False
    ipv4: tuple[str, int] | None = None  # (address, prefix length)
    shutdown: bool = False


# The software each model family runs in the lab: (model prefix, version, image on flash:).
# Catalyst 9000s run IOS XE 17 in install mode (flash:packages.conf); the older
# Catalysts run IOS 15.2 from a bundle image. The first matching prefix wins.
SOFTWARE: tuple[tuple[str, str, str], ...] = (
    ("C9200", "17.9.4a", "packages.conf"),
    ("C9300", "17.9.4a", "packages.conf"),
    ("C9400", "17.9.4a", "packages.conf"),
    ("C9500", "17.9.4a", "packages.conf"),
    ("WS-C2960X", "15.2(7)E8", "c2960x-universalk9-mz.152-7.E8.bin"),
    ("WS-C2960", "15.0(2)SE11", "c2960-lanbasek9-mz.150-2.SE11.bin"),
    ("WS-C3850", "16.12.10a", "packages.conf"),
    ("WS-C3750", "15.2(4)E10", "c3750e-universalk9-mz.152-4.E10.bin"),
)
_DEFAULT_SOFTWARE = ("15.2(4)E10", "c3750e-universalk9-mz.152-4.E10.bin")


def software_for(model: str) -> tuple[str, str]:
    """``(version, image)`` a device of ``model`` runs, so that ``show version`` is coherent.

    Examples:
        >>> software_for("C9300-48P")
        ('17.9.4a', 'packages.conf')
        >>> software_for("WS-C3750X-24P")
        ('15.2(4)E10', 'c3750e-universalk9-mz.152-4.E10.bin')
    """
    upper = model.upper()
    for prefix, version, image in SOFTWARE:
        if upper.startswith(prefix):
            return version, image
    return _DEFAULT_SOFTWARE


@dataclass(frozen=True)
class DeviceSpec:
    """Everything that makes one simulated device (secrets are never in its repr)."""

    name: str  # inventory name
    hostname: str
    interfaces: tuple[InterfaceSpec, ...]
    address: str = "127.0.0.1"
    port: int = 0  # 0: any free port
    model: str = "WS-C3750X-24P"
    serial: str = "FDO0000X000"
    os_version: str = ""  # "": what the model runs (software_for)
    image: str = ""  # "": what the model runs (software_for)
    username: str = "netwarden"
    password: str = field(default="", repr=False)
    enable_secret: str = field(default="", repr=False)
    user_privilege: int = 1
    authorized_keys: tuple[str, ...] = ()  # "ssh-ed25519 AAAA..." public keys of the user
    domain_name: str = "lab.netwarden.test"
    timezone: str = "UTC"
    ntp_servers: tuple[str, ...] = ("10.0.0.1", "10.0.0.2")
    vlans: tuple[tuple[int, str], ...] = ((10, "mgmt"), (20, "staff"))
    lldp_neighbors: tuple[LldpNeighborView, ...] = ()
    arp: tuple[ArpEntryView, ...] = ()
    base_mac: str = "0011.2200.0000"
    snmp_location: str = "lab"
    snmp_contact: str = "noc@lab.netwarden.test"
    initial_config: str | None = None  # the config it boots with; generated when None
    time_scale: float = 1.0
    memory_total_bytes: int = 512 * 1024 * 1024

    def __post_init__(self) -> None:
        version, image = software_for(self.model)
        if not self.os_version:
            object.__setattr__(self, "os_version", version)
        if not self.image:
            object.__setattr__(self, "image", image)


@dataclass
class Faults:
    """Faults injected into one device; tests set and clear them at run time."""

    refuse_login: bool = False
    delay_seconds: float = 0.0  # before each command's output
    drop_on_commit: bool = False  # close the session once a commit is applied
    invalid_commands: set[str] = field(default_factory=set)  # answered "% Invalid input"
    hang: bool = False  # accept TCP, never answer

    def clear(self) -> None:
        self.refuse_login = False
        self.delay_seconds = 0.0
        self.drop_on_commit = False
        self.invalid_commands = set()
        self.hang = False


def mac_for(base: str, index: int) -> str:
    """The Cisco dotted MAC ``index`` addresses after ``base``."""
    value = int(base.replace(".", ""), 16) + index
    digits = f"{value:012x}"
    return f"{digits[0:4]}.{digits[4:8]}.{digits[8:12]}"


def synthetic_spec(
    number: int,
    *,
    password: str,
    enable_secret: str,
    username: str = "netwarden",
    access_ports: int = 24,
) -> DeviceSpec:
    """A plausible access switch numbered ``number`` (on 127.0.0.1, any free port)."""
    seed = hashlib.sha256(f"sim-{number}".encode()).hexdigest()
    interfaces = [
        InterfaceSpec(
            name=f"GigabitEthernet1/0/{port_no}",
            connected=port_no % 3 != 0,
            access_vlan=20,
        )
        for port_no in range(1, access_ports + 1)
    ]
    interfaces += [
        InterfaceSpec(name=f"GigabitEthernet1/1/{n}", connected=n == 1, trunk=True)
        for n in range(1, 5)
    ]
    interfaces += [
        InterfaceSpec(name="Vlan1", switchport=False, connected=False),
        InterfaceSpec(
            name="Vlan10",
            switchport=False,
            description="management",
            ipv4=(f"10.10.{number // 250}.{number % 250 + 2}", 24),
        ),
    ]
    return DeviceSpec(
        name=f"sim-sw{number:03d}",
        hostname=f"sim-sw{number:03d}",
        interfaces=tuple(interfaces),
        serial=f"FOC{int(seed[:8], 16) % 10**4:04d}X{seed[8:11].upper()}",
        username=username,
        password=password,
        enable_secret=enable_secret,
        base_mac=mac_for("0011.2200.0000", number * 256),
        lldp_neighbors=(
            LldpNeighborView(
                local_interface="GigabitEthernet1/1/1",
                remote_hostname="sim-core01",
                remote_port="Gi1/0/" + str(number),
                remote_port_description=f"to sim-sw{number:03d}",
                remote_chassis_id=mac_for("00aa.bb00.0000", 1),
                remote_system_description=system_description("C9300-48P"),
                capabilities=("B", "R"),
                remote_management_address=f"10.10.{number // 250}.1",
                remote_platform="C9300-48P",
                remote_version=software_for("C9300-48P")[0],
            ),
        ),
        arp=(
            ArpEntryView(
                address=f"10.10.{number // 250}.1",
                mac=mac_for("00aa.bb00.0000", 1),
                interface="Vlan10",
                age_minutes=3,
            ),
        ),
    )


def initial_config(spec: DeviceSpec, user_secret: str, enable_secret: str) -> str:
    """The config a device boots with (``*_secret`` are hashed, ``9 $9$...``)."""
    if spec.initial_config is not None:
        return spec.initial_config
    train = re.match(r"\d+\.\d+", spec.os_version)
    lines = [
        f"version {train.group(0) if train else '15.2'}",
        "no service pad",
        "service timestamps debug datetime msec",
        "service timestamps log datetime msec",
        "service password-encryption",
        f"hostname {spec.hostname}",
        "boot-start-marker",
        "boot-end-marker",
        "logging buffered 16384",
        f"enable secret {enable_secret}",
        f"username {spec.username} privilege {spec.user_privilege} secret {user_secret}",
        "no aaa new-model",
        f"clock timezone {spec.timezone} 0 0",
        f"ip domain name {spec.domain_name}",
        "ip scp server enable",
        "archive",
        " path flash:archive",
        " maximum 14",
        "spanning-tree mode rapid-pvst",
    ]
    for vlan_id, name in spec.vlans:
        lines += [f"vlan {vlan_id}", f" name {name}"]
    for itf in spec.interfaces:
        lines.append(f"interface {itf.name}")
        if itf.description:
            lines.append(f" description {itf.description}")
        if itf.switchport and itf.trunk:
            lines.append(" switchport mode trunk")
        elif itf.switchport:
            lines.append(" switchport mode access")
            if itf.access_vlan:
                lines.append(f" switchport access vlan {itf.access_vlan}")
        if not itf.switchport:
            if itf.ipv4:
                lines.append(f" ip address {itf.ipv4[0]} {prefix_to_netmask(itf.ipv4[1])}")
            else:
                lines.append(" no ip address")
        if itf.shutdown or (not itf.connected and itf.name.startswith("Vlan")):
            lines.append(" shutdown")
    lines += [
        "ip http server",
        "ip ssh version 2",
        f"snmp-server location {spec.snmp_location}",
        f"snmp-server contact {spec.snmp_contact}",
    ]
    lines += [f"ntp server {server}" for server in spec.ntp_servers]
    lines += [
        "line con 0",
        " logging synchronous",
        "line vty 0 4",
        " exec-timeout 10 0",
        " login local",
        " transport input ssh",
        "line vty 5 15",
        " login local",
        " transport input ssh",
    ]
    return "\n".join(lines) + "\nend\n"


def system_description(model: str, version: str = "", image: str = "") -> str:
    """The first lines of ``show version`` of a ``model``: what LLDP and CDP advertise.

    Examples:
        >>> system_description("WS-C3750X-24P").splitlines()[0]
        'Cisco IOS Software, C3750E Software (C3750E-UNIVERSALK9-M), Version 15.2(4)E10, RELEASE SOFTWARE (fc2)'
        >>> system_description("C9300-48P").splitlines()[0].split(", ")[1]
        'Catalyst L3 Switch Software (CAT9K_IOSXE)'
    """
    default_version, default_image = software_for(model)
    version = version or default_version
    image = image or default_image
    if image.endswith("packages.conf"):
        return "\n".join(
            [
                (
                    "Cisco IOS Software [Cupertino], Catalyst L3 Switch Software (CAT9K_IOSXE), "
                    f"Version {version}, RELEASE SOFTWARE (fc5)"
                ),
                "Technical Support: http://www.cisco.com/techsupport",
                "Copyright (c) 1986-2023 by Cisco Systems, Inc.",
                "Compiled Fri 20-Oct-23 10:44 by mcpre",
            ]
        )
    parts = image.split("-")
    family = parts[0].upper()
    return "\n".join(
        [
            (
                f"Cisco IOS Software, {family} Software ({family}-{parts[1].upper()}-M), "
                f"Version {version}, RELEASE SOFTWARE (fc2)"
            ),
            "Technical Support: http://www.cisco.com/techsupport",
            "Copyright (c) 1986-2020 by Cisco Systems, Inc.",
            "Compiled Tue 31-Mar-20 22:39 by prod_rel_team",
        ]
    )


def chassis_mac(base: str, interface_names: list[str]) -> str:
    """The MAC a device reports as its own (``show version``, LLDP chassis ID, bridge ID).

    It is the MAC of its first port or SVI, as :mod:`~netwarden.lab.sim.context`
    numbers interface MACs (``base`` + position + 1). The one rule: the device's
    own show context (``ShowContext.base_mac``) and what its LLDP peers learn
    (:mod:`~netwarden.lab.sim.fleet`) both come from here, so they agree.

    Examples:
        >>> chassis_mac("0011.2200.0000", ["Loopback0", "GigabitEthernet1/0/1"])
        '0011.2200.0002'
    """
    logical = ("Loopback", "Port-channel", "Tunnel", "BDI", "Null")
    for index, name in enumerate(interface_names):
        if not name.startswith(logical):
            return mac_for(base, index + 1)
    return base


def specs_to_json(specs: list[DeviceSpec]) -> str:
    """Device specs as JSON (secrets included: write it 0600), for a simulator process.

    Examples:
        >>> spec = synthetic_spec(1, password="pw", enable_secret="en")
        >>> specs_from_json(specs_to_json([spec])) == [spec]
        True
    """
    return json.dumps([dataclasses.asdict(s) for s in specs])


def specs_from_json(text: str) -> list[DeviceSpec]:
    """The specs :func:`specs_to_json` wrote (no inventory read: a light simulator process)."""
    return [_decode(DeviceSpec, item) for item in json.loads(text)]


def _decode(kind: Any, value: Any) -> Any:
    """``value`` (from JSON) as ``kind``: dataclasses, tuples, optionals, plain values."""
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        hints = typing.get_type_hints(kind)
        return kind(**{k: _decode(hints[k], v) for k, v in value.items()})
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if value is None or origin is None:
        return value
    if origin in (typing.Union, types.UnionType):
        return _decode(next(a for a in args if a is not type(None)), value)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return tuple(_decode(args[0], v) for v in value)
    if origin is tuple:
        return tuple(_decode(a, v) for a, v in zip(args, value, strict=True))
    return origin(value)
