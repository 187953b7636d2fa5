"""``--limit``: the one grammar every netwarden command uses to pick devices.

A limit is a comma-separated list of terms (blanks around a term are ignored,
empty terms skipped); a device is selected when any term matches it. A term
matches a device when it is

- a glob (:func:`fnmatch.fnmatchcase`, so case-sensitive) on the device name:
  ``jed-fw1``, ``*core*``, ``nyc-*``;
- a glob on its site name: ``gva``, ``g*``;
- one of the Ansible groups the device is in: its site group (``site_gva``),
  ``hq`` or ``field_offices`` (from the site's role), its function group
  (``switches``, ``firewalls``, ``servers``, ``sensors``);
- its function: ``switch``, ``firewall``, ``server``, ``sensor``.

Without an inventory, or for a device the inventory does not know, only the
name glob applies.

Examples:
    >>> limit_terms(" jed-fw1, ,switches ")
    ['jed-fw1', 'switches']
    >>> selects("jed-fw1", "jed-*")
    True
    >>> selects("jed-fw1", "switches")  # no inventory: names only
    False
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from netwarden.inventory.models import FUNCTION_GROUPS, Device, Inventory, SiteRole

HQ_GROUP = "hq"
"""The Ansible group whose child is the HQ site's group (``hosts.yml``: ``hq: {children: {site_jed}}``)."""
FIELD_GROUP = "field_offices"
"""The Ansible group whose children are the other sites' groups."""


def limit_terms(limit: str) -> list[str]:
    """The terms of a ``--limit``, in order, without blanks."""
    return [t for t in (p.strip() for p in limit.split(",")) if t]


def device_groups(inv: Inventory, device: Device) -> set[str]:
    """The names (besides its own) that select ``device`` exactly: groups and function."""
    function = device.function.value
    names = {
        device.site,
        *(group for group, f in FUNCTION_GROUPS.items() if f == function),
        function,
    }
    site = inv.sites.get(device.site)
    if site is not None:
        names |= {site.group, HQ_GROUP if site.role is SiteRole.HQ else FIELD_GROUP}
    return names


def term_matches(name: str, term: str, inv: Inventory | None = None) -> bool:
    """Whether one ``--limit`` term selects the device called ``name``."""
    if fnmatchcase(name, term):
        return True
    if inv is None or (device := inv.devices.get(name)) is None:
        return False
    return term in device_groups(inv, device) or fnmatchcase(device.site, term)


def selects(name: str, limit: str, inv: Inventory | None = None) -> bool:
    """Whether a term of ``limit`` selects the device called ``name`` (a limit without terms: none).

    Callers treat an absent (or empty) ``--limit`` as "every device" before asking.
    """
    return any(term_matches(name, term, inv) for term in limit_terms(limit))


def select(inv: Inventory, limit: str | None) -> list[Device]:
    """The inventory's devices that ``limit`` selects, in name order (no limit: all of them)."""
    return [d for name, d in sorted(inv.devices.items()) if not limit or selects(name, limit, inv)]
