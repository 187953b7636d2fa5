"""The inventory: the one place the network is described, read through Ansible."""

from __future__ import annotations

from netwarden.inventory.loader import load_inventory, read_inventory
from netwarden.inventory.models import Device, Inventory, Site
from netwarden.inventory.problems import Problem

__all__ = ["Device", "Inventory", "Problem", "Site", "load_inventory", "read_inventory"]
