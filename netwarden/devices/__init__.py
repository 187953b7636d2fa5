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
    SessionOptions,
    address_of,
    credentials_for,
    default_known_hosts,
    register_platform,
    session_for,
)
from netwarden.devices.hostkeys import HostKeyCheck, HostKeyStatus, check_host_key
from netwarden.devices.napalm_ios import NapalmIosSession
from netwarden.inventory.models import Platform

register_platform(Platform.IOS, NapalmIosSession)

__all__ = [
    "Credentials",
    "DeviceSession",
    "Facts",
    "HostKeyCheck",
    "HostKeyStatus",
    "InterfaceState",
    "NapalmIosSession",
    "PendingCommit",
    "SessionOptions",
    "address_of",
    "check_host_key",
    "credentials_for",
    "default_known_hosts",
    "register_platform",
    "session_for",
]
