"""Waivers from the inventory: which (device, rule) failures are accepted, until when.

A waiver names one rule and a scope (one device, one site, or an fnmatch
pattern on device names), a justification, an approver and an expiry date.
An active waiver turns a failure into ``waived``; an expired one stops
applying: the result stays ``fail`` and carries the expired waiver, so the
report shows both the failure and the lapsed exemption.

Examples:
    >>> book = WaiverBook(None, date(2026, 1, 1))
    >>> bool(book), book.match("sw1", "jed", "ios-aaa-new-model")
    (False, (None, None))
"""

from __future__ import annotations

from datetime import date
from fnmatch import fnmatchcase

from netwarden.compliance.models import WaiverRef
from netwarden.inventory.models import Inventory, Waiver


def scope_text(w: Waiver) -> str:
    s = w.scope
    if s.device is not None:
        return f"device {s.device}"
    if s.site is not None:
        return f"site {s.site}"
    return f"pattern {s.pattern}"


def _covers(w: Waiver, device: str, site: str) -> bool:
    s = w.scope
    if s.device is not None:
        return s.device == device
    if s.site is not None:
        return s.site == site
    return s.pattern is not None and fnmatchcase(device, s.pattern)


def to_ref(w: Waiver, today: date) -> WaiverRef:
    return WaiverRef(
        rule=w.rule,
        scope=scope_text(w),
        justification=w.justification,
        approver=w.approver,
        expires=w.expires,
        expired=w.expired(today),
        source=str(w.src) if w.src.file else "",
    )


class WaiverBook:
    """The inventory's waivers, indexed by rule, evaluated on one date."""

    def __init__(self, inventory: Inventory | None, today: date) -> None:
        self.today = today
        self._by_rule: dict[str, list[Waiver]] = {}
        if inventory is not None:
            for w in inventory.compliance.waivers:
                self._by_rule.setdefault(w.rule, []).append(w)

    def __bool__(self) -> bool:
        return bool(self._by_rule)

    def match(self, device: str, site: str, rule: str) -> tuple[WaiverRef | None, WaiverRef | None]:
        """(active waiver, expired waiver) covering this device and rule; active wins."""
        active = expired = None
        for w in self._by_rule.get(rule, ()):
            if not _covers(w, device, site):
                continue
            if w.expired(self.today):
                expired = expired or to_ref(w, self.today)
            else:
                active = active or to_ref(w, self.today)
        return active, None if active is not None else expired

    def refs(self, rules: set[str] | None = None) -> tuple[WaiverRef, ...]:
        """Every waiver (naming one of ``rules`` when given), soonest expiry first."""
        out = [
            to_ref(w, self.today)
            for rule, ws in self._by_rule.items()
            if rules is None or rule in rules
            for w in ws
        ]
        return tuple(sorted(out, key=lambda r: (r.expires, r.rule)))
