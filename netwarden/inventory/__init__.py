"""The inventory: the one place the network is described, read through Ansible.

The reader (:mod:`~netwarden.inventory.loader`: YAML scanning, origins, Ansible's
loader) is imported on first use of ``load_inventory``/``read_inventory``, not with
the package: a process that only needs the models (the auditor reading a snapshot,
:mod:`~netwarden.inventory.snapshot`) does not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netwarden.inventory.models import Device, Inventory, Site
from netwarden.inventory.problems import Problem

if TYPE_CHECKING:
    from netwarden.inventory.loader import load_inventory, read_inventory

__all__ = ["Device", "Inventory", "Problem", "Site", "load_inventory", "read_inventory"]


def __getattr__(name: str) -> Any:
    if name in {"load_inventory", "read_inventory"}:
        from netwarden.inventory import loader  # noqa: PLC0415

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
