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

A term that selects nothing is a mistake (a typo such as ``nyx``, a device that
does not exist): :func:`check_limit` names every such term and what the terms
could match; commands exit 2 on it rather than run on fewer devices than asked.

Examples:
    >>> limit_terms(" jed-fw1, ,switches ")
    ['jed-fw1', 'switches']
    >>> selects("jed-fw1", "jed-*")
    True
    >>> selects("jed-fw1", "switches")  # no inventory: names only
    False
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from fnmatch import fnmatchcase

from netwarden.errors import LimitError
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


def unmatched_terms(limit: str, inv: Inventory | None, names: Iterable[str] = ()) -> list[str]:
    """The terms of ``limit`` that select no device of ``inv`` and none of ``names``.

    ``names``: further device names the command knows (e.g. the config files of
    ``audit --configs``), matched like devices the inventory does not know.
    """
    pool = set(names) | (set(inv.devices) if inv is not None else set())
    return [t for t in limit_terms(limit) if not any(term_matches(n, t, inv) for n in pool)]


def vocabulary(inv: Inventory) -> dict[str, list[str]]:
    """What a ``--limit`` term can name besides device names: sites, groups, functions."""
    sites = sorted(inv.sites)
    groups = [HQ_GROUP, FIELD_GROUP, *FUNCTION_GROUPS, *sorted(s.group for s in inv.sites.values())]
    return {"sites": sites, "groups": groups, "functions": sorted(set(FUNCTION_GROUPS.values()))}


def first_few(items: list[str], most: int = 12) -> str:
    """``a, b, c``: the first ``most`` of ``items``, then ``... (N in all)`` if there are more.

    Examples:
        >>> first_few(["a", "b", "c"], 2)
        'a, b ... (3 in all)'
    """
    return ", ".join(items[:most]) + (f" ... ({len(items)} in all)" if len(items) > most else "")


def check_limit(limit: str | None, inv: Inventory | None, names: Iterable[str] = ()) -> None:
    """Raise :class:`LimitError` unless every term of ``limit`` selects something.

    ``None`` and ``""`` are "no limit". The message quotes the limit and each term
    that matched nothing, suggests close names (``nyx``: did you mean ``nyc``?) and
    lists what a term can name.

    Examples:
        >>> check_limit(None, None), check_limit("sw*", None, ["sw1"])
        (None, None)
        >>> check_limit("sw1,sw3", None, ["sw1", "sw2"])
        Traceback (most recent call last):
        ...
        netwarden.errors.LimitError: --limit 'sw1,sw3': 'sw3' matches no device (did you mean sw2, sw1?); without an inventory a term is a device name or glob: sw1, sw2
    """
    if not limit:
        return
    names = sorted(set(names))
    if not limit_terms(limit):
        raise LimitError(f"--limit {limit!r} names no device (an empty term list)")
    bad = unmatched_terms(limit, inv, names)
    if not bad:
        return
    known = sorted(set(names) | (set(inv.devices) if inv is not None else set()))
    words = known + ([w for ws in vocabulary(inv).values() for w in ws] if inv else [])
    parts = []
    for term in bad:
        close = [w for w in words if w.lower() == term.lower() and w != term]
        close += [w for w in difflib.get_close_matches(term, words, n=3) if w not in close]
        hint = f" (did you mean {', '.join(close[:3])}?)" if close else ""
        what = "no device, site or group" if inv is not None else "no device"
        parts.append(f"{term!r} matches {what}{hint}")
    if inv is not None:
        vocab = vocabulary(inv)
        lists = (
            f"a term is a device name or glob, a site ({first_few(vocab['sites'])}), "
            f"a group ({first_few(vocab['groups'])}) or a function ({', '.join(vocab['functions'])})"
        )
    else:
        lists = f"without an inventory a term is a device name or glob: {first_few(known)}"
    raise LimitError(f"--limit {limit!r}: {'; '.join(parts)}; {lists}")
