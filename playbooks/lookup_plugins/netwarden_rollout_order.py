"""Lookup: inventory hosts in netwarden's rollout order (the canary first).

``playbooks/network.yml`` runs its hosts in this order, so its first batch of
``serial: [1, "100%"]`` is the same device as ``netwarden apply --canary 1``'s
canary wave: both call :func:`netwarden.config.waves.rollout_order` (a field
office's access switch first, HQ's core switches last; see that module).
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

DOCUMENTATION = r"""
name: netwarden_rollout_order
author: netwarden
short_description: inventory hosts in netwarden's rollout order, the canary first
description:
  - Reads and validates the inventory with netwarden and returns the host names
    given as terms sorted by C(netwarden.config.waves.rollout_order) (a field
    office's access switch first, HQ's core switches last).
  - Use C(query) (or C(wantlist=true)) to get a list.
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
  description: The host names, the canary first.
  type: list
  elements: str
"""


class LookupModule(LookupBase):  # type: ignore[misc]  # ansible-core ships no type information
    def run(
        self, terms: list[Any], variables: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[str]:
        self.set_options(var_options=variables, direct=kwargs)
        inventory = str(self.get_option("inventory"))
        try:
            from netwarden.config.ansible_api import lookup_inventory  # noqa: PLC0415
            from netwarden.config.waves import rollout_order  # noqa: PLC0415
        except ImportError as exc:
            raise AnsibleLookupError(
                f"netwarden is not importable by Ansible's Python ({exc}); "
                "run ansible-playbook from netwarden's venv"
            ) from exc
        inv, names = lookup_inventory(inventory, terms)
        names = list(dict.fromkeys(names))
        unknown = [name for name in names if name not in inv.devices]
        if unknown:
            raise AnsibleLookupError(
                f"{', '.join(unknown)}: not a device of the inventory {inventory} "
                "(netwarden orders the rollout by its devices' sites and roles)"
            )
        return [device.name for device in rollout_order(inv, (inv.devices[n] for n in names))]
