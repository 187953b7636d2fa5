"""``platform: linux`` sessions by function: nftables firewalls and servers.

The registry (:func:`~netwarden.devices.base.register_platform`) holds one factory per
platform; linux devices differ by what they do, so :func:`linux_session` chooses
(:class:`~netwarden.devices.linux_nft.NftablesSession` for a firewall running
nftables, :class:`~netwarden.devices.linux_server.LinuxServerSession` for a server)
and :func:`has_linux_session` says which linux devices have one (sensors: not yet).
"""

from __future__ import annotations

from netwarden.devices.base import DeviceSession, SessionOptions
from netwarden.devices.linux_nft import NFT_MODEL, NftablesSession, is_nftables_firewall
from netwarden.devices.linux_server import LinuxServerSession, is_linux_server
from netwarden.errors import DeviceConnectionError
from netwarden.inventory.models import Device


def has_linux_session(device: Device) -> bool:
    """Whether a linux device has a session: an nftables firewall or a server."""
    return is_nftables_firewall(device) or is_linux_server(device)


def linux_session(device: Device, options: SessionOptions) -> DeviceSession:
    """The session of a ``linux`` device, by what it does.

    Raises:
        DeviceConnectionError: a linux device that is neither (a sensor, a firewall
            that does not run nftables).
    """
    if is_nftables_firewall(device):
        return NftablesSession(device, options)
    if is_linux_server(device):
        return LinuxServerSession(device, options)
    raise DeviceConnectionError(
        device.name,
        f"linux {device.function.value}s have no session class (linux sessions serve "
        f"servers and firewalls with model {NFT_MODEL!r})",
    )
