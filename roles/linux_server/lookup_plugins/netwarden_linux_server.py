"""Lookup: the ``linux_server_host`` values of inventory hosts, from netwarden's core.

HQ's NTP servers and log server (the policy's names resolved to service
addresses), the networks that may use the server's services, and whether the
host serves NTP or is the log server: :func:`netwarden.render.linux_server.linux_server_context`,
the same values the namespace lab computes for its daemons. The inventory is read
and validated with netwarden (through Ansible's own InventoryManager and vault support).
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

DOCUMENTATION = r"""
name: netwarden_linux_server
author: netwarden
short_description: linux_server values of inventory hosts
description:
  - Reads and validates the inventory with netwarden and returns, for each host
    named in the terms, the C(linux_server_host) mapping the role's templates read.
  - Returns a list holding one mapping of host name to values.
options:
  _terms:
    description: Inventory host names (lists are flattened).
    required: true
  inventory:
    description: The inventory path (one source; usually C(ansible_inventory_sources[0])).
    type: str
    required: true
"""

RETURN = r"""
_raw:
  description: One mapping of host name to its C(linux_server_host) values.
  type: list
  elements: dict
"""


class LookupModule(LookupBase):
    def run(
        self, terms: list[Any], variables: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Any]:
        self.set_options(var_options=variables, direct=kwargs)
        inventory = str(self.get_option("inventory"))
        try:
            from netwarden.config.ansible_api import lookup_per_device  # noqa: PLC0415  (a clear error if netwarden is missing)
            from netwarden.render.linux_server import linux_server_context  # noqa: PLC0415  (a clear error if netwarden is missing)
        except ImportError as exc:
            raise AnsibleLookupError(
                f"netwarden is not importable by Ansible's Python ({exc}); run ansible-playbook from netwarden's venv"
            ) from exc
        return lookup_per_device(
            inventory, terms, lambda inv, device: linux_server_context(inv, device).template_data()
        )
