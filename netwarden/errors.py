"""Every failure netwarden reports, one class each, under :class:`NetwardenError`.

A message says what was wrong, where (file and key, or device and command) and
what was expected.
"""

from __future__ import annotations


class NetwardenError(Exception):
    """Base class of every error netwarden raises on purpose."""


class InventoryError(NetwardenError):
    """The inventory cannot be read at all (missing path, unparsable YAML, bad vault password)."""


class InventoryInvalidError(InventoryError):
    """The inventory was read but failed validation; ``problems`` lists every finding."""

    def __init__(self, problems: list[object]) -> None:
        self.problems = problems
        super().__init__(f"the inventory has {len(problems)} problem(s)")


class VaultError(InventoryError):
    """The vault could not be opened (no password, wrong password)."""


class GenerateError(NetwardenError):
    """A synthetic inventory could not be generated as asked."""


class RenderError(NetwardenError):
    """An intended config could not be rendered (unsupported interface, bad banner, template error)."""


class DeviceError(NetwardenError):
    """A device operation failed; the message names the device and what was being done."""

    def __init__(self, device: str, message: str) -> None:
        self.device = device
        super().__init__(f"{device}: {message}")


class DeviceConnectionError(DeviceError):
    """A session to a device could not be opened (unreachable, refused login, timeout)."""


class HostKeyError(DeviceConnectionError):
    """A device's SSH host key is unknown or has changed; nothing was sent to it."""


class BackupError(NetwardenError):
    """The backup repository cannot be created, read or committed to."""


class SessionLostError(DeviceError):
    """The session died during an operation (dropped, reset, timed out): its effect is unknown."""


class LockError(NetwardenError):
    """The apply lock of an inventory or a device is held by another run (the message names it)
    or cannot be taken (lock directory not writable)."""


class LimitError(NetwardenError):
    """A ``--limit`` term selects nothing: the message names the terms and what they could match."""


class LabError(NetwardenError):
    """The namespace lab cannot be built, read or removed (the message says which step and why)."""


class LabNotFoundError(LabError):
    """The directory given holds no lab (no marker, no state)."""


class LabPlanError(LabError):
    """The inventory describes something the namespace lab cannot build."""


class LabNeedsRootError(LabError):
    """The namespace lab needs root (network namespaces, veths, nftables)."""


class LabBusyError(LabError):
    """Another ``lab up`` or ``lab down`` is working on the same lab directory."""


class LabCommandError(LabError):
    """A command building or removing the lab failed (``ip``, ``tc``, ``nft``, ``sysctl``)."""


class LabServiceError(LabError):
    """A lab part (server holder, daemon, VPN, simulated switches) did not start or answer."""
