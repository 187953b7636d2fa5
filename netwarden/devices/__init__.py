"""Device sessions: the only package that imports NAPALM, Netmiko and paramiko.

Workflows (plan, apply, backup, drift) open sessions with :func:`session_for`
and use nothing but the :class:`DeviceSession` protocol.
"""

from __future__ import annotations

from netwarden.devices.base import (
    Credentials,
    DeviceSession,
    Facts,
    InterfaceState,
    PendingCommit,
    ReusableSession,
    SessionOptions,
    address_of,
    credentials_for,
    default_known_hosts,
    has_session,
    register_platform,
    session_for,
)
from netwarden.devices.health import DeviceHealth, HealthSource, InterfaceHealth
from netwarden.devices.hostkeys import HostKeyCheck, HostKeyStatus, check_host_key
from netwarden.devices.linux import has_linux_session, linux_session
from netwarden.devices.linux_nft import NftablesSession, is_nftables_firewall
from netwarden.devices.linux_server import LinuxServerSession, is_linux_server
from netwarden.devices.napalm_ios import NapalmIosSession
from netwarden.inventory.models import Platform

register_platform(Platform.IOS, NapalmIosSession)
# linux: by function; firewalls running nftables and servers (sensors: no session yet)
register_platform(Platform.LINUX, linux_session, handles=has_linux_session)

__all__ = [
    "Credentials",
    "DeviceHealth",
    "DeviceSession",
    "Facts",
    "HealthSource",
    "HostKeyCheck",
    "HostKeyStatus",
    "InterfaceHealth",
    "InterfaceState",
    "LinuxServerSession",
    "NapalmIosSession",
    "NftablesSession",
    "PendingCommit",
    "ReusableSession",
    "SessionOptions",
    "address_of",
    "check_host_key",
    "credentials_for",
    "default_known_hosts",
    "has_session",
    "is_linux_server",
    "is_nftables_firewall",
    "register_platform",
    "session_for",
]
