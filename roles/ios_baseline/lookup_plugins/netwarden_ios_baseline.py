"""Lookup: the ``ios_baseline_device`` template variables of inventory hosts, from netwarden's core.

The role and ``netwarden render`` render the same templates (one copy, the
package's) with the same variables because both get them from
``netwarden.render.device_context``: this lookup reads and validates the
inventory with netwarden (through Ansible's own InventoryManager and vault
support) and returns, per host, the context's plain data
(``DeviceContext.template_data()``, JSON types), which is also what
``netwarden render`` hands to Jinja.

It also holds the render-time guard on this route: ``device_context`` refuses a
variable that is not one printable line, and the role's own ``ios_baseline_*``
variables (defaults, or values the inventory sets on a host) are checked the
same way, since Ansible's template task renders them without netwarden's Jinja
environment.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

DOCUMENTATION = r"""
name: netwarden_ios_baseline
author: netwarden
short_description: ios_baseline template variables of inventory hosts
description:
  - Reads and validates the inventory with netwarden and returns, for each host
    named in the terms, the C(ios_baseline_device) mapping the templates read.
  - Returns a list holding one mapping of host name to variables.
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
  description: One mapping of host name to its C(ios_baseline_device) variables.
  type: list
  elements: dict
"""


def _hostvars(variables: dict[str, Any] | None, name: str) -> dict[str, Any]:
    """The ``ios_baseline_*`` variables the inventory sets on host ``name`` (templated by Ansible)."""
    hostvars = (variables or {}).get("hostvars") or {}
    if name not in hostvars:
        return {}
    host = hostvars[name]
    return {k: host[k] for k in host if str(k).startswith("ios_baseline_")}


class LookupModule(LookupBase):
    def run(
        self, terms: list[Any], variables: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Any]:
        self.set_options(var_options=variables, direct=kwargs)
        inventory = str(self.get_option("inventory"))
        try:
            from netwarden.config.ansible_api import lookup_per_device  # noqa: PLC0415  (a clear error if netwarden is missing)
            from netwarden.render import check_role_vars, device_context  # noqa: PLC0415  (a clear error if netwarden is missing)
        except ImportError as exc:
            raise AnsibleLookupError(
                f"netwarden is not importable by Ansible's Python ({exc}); run ansible-playbook from netwarden's venv"
            ) from exc

        def template_data(inv: Any, device: Any) -> dict[str, Any]:
            data: dict[str, Any] = device_context(inv, device).template_data()
            check_role_vars(device.name, variables or {})
            check_role_vars(device.name, _hostvars(variables, device.name))
            return data

        return lookup_per_device(inventory, terms, template_data)
