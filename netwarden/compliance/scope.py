"""What an audit run covered, in words: page 1 of the report and the terminal state it.

A report titled "the network" while only the switches were audited misleads its
readers; :func:`scope_of` counts the inventory's devices by kind (function and
platform), which were audited, which could not be read, and which were not
audited and why (``--limit``, a platform the live audit cannot read yet, no
config in the folder), from :attr:`AuditRun.scope <netwarden.compliance.models.AuditRun>`.

Examples:
    >>> plural("switch", 1), plural("switch", 10), plural("", 2)
    ('1 switch', '10 switches', '2 devices')
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from netwarden.compliance.models import AuditRun

_PLURALS = {"switch": "switches", "device": "devices"}


def plural(function: str, count: int) -> str:
    """``count`` devices of a function in words (``""``: devices)."""
    word = function or "device"
    return f"{count} {word if count == 1 else _PLURALS.get(word, word + 's')}"


@dataclass
class ScopeRow:
    """One kind of device (function and platform) and what became of it."""

    function: str
    platform: str
    in_inventory: int = 0
    audited: int = 0
    unread: int = 0
    not_audited: Counter[str] = field(default_factory=Counter)
    """reason -> number of devices."""
    with_inventory: bool = True

    @property
    def kind(self) -> str:
        """E.g. ``switches (ios)``; a device the inventory does not know has no function."""
        if self.function:
            word = plural(self.function, 2).split(" ", 1)[1]
        else:
            word = "devices not in the inventory" if self.with_inventory else "devices"
        return f"{word} ({self.platform})" if self.platform else word


@dataclass
class ScopeSummary:
    """The run's scope: a title, one sentence, and a row per kind of device."""

    title: str
    sentence: str
    rows: list[ScopeRow]
    complete: bool
    """Every device of the inventory was audited and read (the title may say "the network")."""
    inventory_devices: int
    audited: int
    unread: int
    not_audited: int

    def lines(self) -> list[str]:
        """Plain lines for the terminal: the sentence, then one line per reason."""
        out = [self.sentence]
        for row in self.rows:
            for reason, n in sorted(row.not_audited.items()):
                out.append(f"not audited: {plural(row.function, n)} ({row.platform}): {reason}")
        return out


def _rows(run: AuditRun) -> list[ScopeRow]:
    """One row per kind of device: the run's devices, then the inventory's it did not audit."""
    rows: dict[tuple[str, str], ScopeRow] = {}
    with_inventory = run.scope.inventory_devices > 0

    def row(function: str, platform: str) -> ScopeRow:
        key = (function, platform)
        return rows.setdefault(key, ScopeRow(function, platform, with_inventory=with_inventory))

    for d in run.devices:
        r = row(d.function, d.platform)
        r.in_inventory += d.in_inventory
        if d.error:
            r.unread += 1
        else:
            r.audited += 1
    for m in run.scope.not_audited:
        r = row(m.function, m.platform)
        r.in_inventory += 1
        r.not_audited[m.reason] += 1
    return sorted(rows.values(), key=lambda r: (-r.audited, not r.function, r.function))


def scope_of(run: AuditRun) -> ScopeSummary:
    """Count the run's devices and the inventory's devices it did not audit, by kind."""
    ordered = _rows(run)
    inventory = run.scope.inventory_devices
    audited = sum(r.audited for r in ordered)
    unread = sum(r.unread for r in ordered)
    missing = len(run.scope.not_audited)
    outside = sum(1 for d in run.devices if not d.error and not d.in_inventory) if inventory else 0
    known = audited - outside
    unread_known = sum(1 for d in run.devices if d.error and d.in_inventory)
    complete = inventory > 0 and not missing and not unread_known
    what = _join([plural(r.function, r.audited) for r in ordered if r.audited and r.function])
    stray = f"{outside} device(s) not in the inventory" if outside else ""
    if complete:
        title = "Security compliance of the network"
    elif not audited:
        title = "Security compliance: no device could be audited"
    elif not inventory:
        title = f"Security compliance of {plural('', audited)}"
    elif not known:
        title = f"Security compliance of {stray}"
    else:
        title = f"Security compliance of {what} ({known} of {inventory} devices)"
    if inventory:
        sentence = f"Scope: {known} of the inventory's {inventory} devices audited"
        sentence += f" ({what})" if what else ""
        sentence += f", and {stray}" if stray else ""
    else:
        sentence = (
            f"Scope: {audited} device(s) audited from the configs given "
            "(no inventory to compare with)"
        )
    extra = [f"{unread} could not be read"] if unread else []
    extra += [f"{missing} not audited"] if missing else []
    sentence += ("; " + ", ".join(extra) + ".") if extra else "."
    return ScopeSummary(title, sentence, ordered, complete, inventory, audited, unread, missing)


def _join(parts: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]
