"""Lookup: the nftables ruleset of inventory firewalls, rendered by netwarden's core.

The role and ``netwarden render`` print the same ruleset because both call
``netwarden.render.platforms.render_config`` (the ``nftables`` renderer,
``netwarden/render/nftables.py``); the role passes its toggles
(``nftables_firewall_*``) as the renderer's options. The ``netwarden_config``
action plugin renders the same way on its side, with the same toggles, so what
the role writes to its output directory is what the apply installs.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

DOCUMENTATION = r"""
name: netwarden_nftables
author: netwarden
short_description: the nftables ruleset of inventory firewalls, from netwarden's flow policy
description:
  - Reads and validates the inventory with netwarden and returns, for each host named in the
    terms, its ruleset as an C(nft -f) file (what C(netwarden render) writes).
  - Returns a list holding one mapping of host name to ruleset text.
options:
  _terms:
    description: Inventory host names (lists are flattened).
    required: true
  inventory:
    description: The inventory path (one source; usually C(ansible_inventory_sources[0])).
    type: str
    required: true
  render_vars:
    description: The role's toggles (C(nftables_firewall_*)); default the full ruleset.
    type: dict
    default: {}
"""

RETURN = r"""
_raw:
  description: One mapping of host name to its ruleset.
  type: list
  elements: dict
"""


class LookupModule(LookupBase):  # type: ignore[misc]  # ansible-core ships no type information
    def run(
        self, terms: list[Any], variables: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Any]:
        self.set_options(var_options=variables, direct=kwargs)
        inventory = str(self.get_option("inventory"))
        render_vars = dict(self.get_option("render_vars") or {})
        try:
            from netwarden.config.ansible_api import lookup_per_device  # noqa: PLC0415
            from netwarden.render import render_config, renderer_for  # noqa: PLC0415
        except ImportError as exc:
            raise AnsibleLookupError(
                f"netwarden is not importable by Ansible's Python ({exc}); "
                "run ansible-playbook from netwarden's venv"
            ) from exc

        def ruleset(inv: Any, device: Any) -> str:
            renderer = renderer_for(device)
            if renderer is None or renderer.name != "nftables":
                raise ValueError(
                    f"{device.name} is not an nftables firewall of the inventory {inventory} "
                    "(platform linux, role firewall, model nftables)"
                )
            return str(render_config(inv, device, render_vars))

        return lookup_per_device(inventory, terms, ruleset)
