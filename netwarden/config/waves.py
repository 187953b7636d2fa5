"""Rollout order: which device goes first (the canary) and which go last.

One rule, used by ``netwarden apply`` (its ``--canary N`` wave is the first N
devices in this order) and by ``playbooks/network.yml`` (its first batch of
``serial: [1, "100%"]`` is the first host in this order, through the
``netwarden_rollout_order`` lookup):

1. HQ's firewalls after every other device, and alone (:func:`alone_last`): the
   management path to every field office's devices runs through HQ's firewall,
   so HQ's firewall is never changed while another device's apply runs through
   it. ``netwarden apply`` gives each of them a final wave of its own
   (:func:`netwarden.config.apply.rollout_waves`); ``playbooks/firewalls.yml``
   converges them in a last play with ``serial: 1``.
2. the smallest blast radius first (:func:`blast_radius`): a field office's
   access switches, then its other switches, then its core switches, then HQ's
   access switches, HQ's other switches, and HQ's core switches last. A canary
   is there to fail where a failure costs least: an access switch takes down one
   office's desks; an HQ core switch takes down HQ and every path through it.
3. then by site name, then by device name, so the order (and the canary) does
   not depend on how the inventory lists its hosts and is the same on every run.

A device's site role (``hq`` or ``field``) is its site's ``role``; its switch
role is the device's ``role`` (``access``, ``core``, anything else is "other");
firewalls and servers are "other" devices of their site.
"""

from __future__ import annotations

from collections.abc import Iterable

from netwarden.inventory.models import Device, Function, Inventory, SiteRole

__all__ = [
    "ACCESS_ROLE",
    "CORE_ROLE",
    "alone_last",
    "alone_last_names",
    "blast_radius",
    "rollout_key",
    "rollout_order",
]

ACCESS_ROLE = "access"
CORE_ROLE = "core"


def blast_radius(at_hq: bool, role: str) -> int:
    """How much a failure of a switch with this ``role`` takes down: 0 (least) to 5 (most).

    Field office: access 0, other 1, core 2; HQ: access 3, other 4, core 5.

    Examples:
        >>> blast_radius(False, "access")
        0
        >>> blast_radius(False, "distribution")
        1
        >>> blast_radius(True, "access")
        3
        >>> blast_radius(True, "core")
        5
    """
    kind = role.strip().lower()
    within = 0 if kind == ACCESS_ROLE else 2 if kind == CORE_ROLE else 1
    return (3 if at_hq else 0) + within


def alone_last(inv: Inventory, device: Device) -> bool:
    """Whether ``device`` goes after all others, in a wave of its own: an HQ firewall."""
    return device.function is Function.FIREWALL and inv.site_of(device).role is SiteRole.HQ


def alone_last_names(inv: Inventory, devices: Iterable[Device]) -> frozenset[str]:
    """The names of ``devices`` that go last, one at a time (:func:`alone_last`)."""
    return frozenset(d.name for d in devices if alone_last(inv, d))


def rollout_key(inv: Inventory, device: Device) -> tuple[bool, int, str, str]:
    """The sort key of ``device`` in the rollout: (alone last, blast radius, site, name)."""
    at_hq = inv.site_of(device).role is SiteRole.HQ
    return alone_last(inv, device), blast_radius(at_hq, device.role), device.site, device.name


def rollout_order(inv: Inventory, devices: Iterable[Device]) -> list[Device]:
    """``devices`` in rollout order: the first is the canary (see the module's rule)."""
    return sorted(devices, key=lambda device: rollout_key(inv, device))
