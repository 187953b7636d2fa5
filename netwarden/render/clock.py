"""IOS ``clock timezone`` and ``clock summer-time`` settings from an IANA time zone.

Offsets and daylight-saving rules are read from the time zone database for one
fixed year (:data:`REFERENCE_YEAR`), so a render is reproducible whatever the
date it runs on.
"""

from __future__ import annotations

import functools
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from netwarden.errors import RenderError

REFERENCE_YEAR = 2025
"""The year whose transitions define ``clock summer-time`` (fixed: renders are reproducible)."""


@functools.cache
def ios_clock(tz_name: str, fallback_zone: str) -> dict[str, Any]:
    """``clock timezone`` and ``clock summer-time`` settings for an IANA time zone.

    Offsets and daylight-saving rules are read from the time zone database for
    :data:`REFERENCE_YEAR`; a zone abbreviation that IOS cannot take (``+03``)
    becomes ``fallback_zone`` (the site code).

    Examples:
        >>> ios_clock("Europe/Zurich", "GVA")["summer"]
        {'zone': 'CEST', 'rule': 'last Sun Mar 2:00 last Sun Oct 3:00'}
        >>> ios_clock("Asia/Riyadh", "JED")
        {'zone': 'JED', 'hours': 3, 'minutes': 0, 'summer': None}
    """
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise RenderError(f"time zone {tz_name!r} is not in the time zone database") from exc

    def name(abbr: str | None) -> str:
        return abbr if abbr and abbr.isalpha() and len(abbr) <= 7 else fallback_zone

    start = datetime(REFERENCE_YEAR, 1, 1, tzinfo=UTC)
    hours = [start + timedelta(hours=h) for h in range(366 * 24)]
    offsets = [(t, t.astimezone(tz).utcoffset() or timedelta()) for t in hours]
    std_offset = min(o for _, o in offsets)
    std_at = next(t for t, o in offsets if o == std_offset)
    total = int(std_offset.total_seconds()) // 60
    sign = -1 if total < 0 else 1
    clock: dict[str, Any] = {
        "zone": name(std_at.astimezone(tz).tzname()),
        "hours": sign * (abs(total) // 60),
        "minutes": abs(total) % 60,
        "summer": None,
    }
    changes = [(t, prev, off) for (_, prev), (t, off) in itertools.pairwise(offsets) if off != prev]
    if len(changes) != 2:
        return clock
    begin = next(c for c in changes if c[2] > c[1])
    end = next(c for c in changes if c[2] < c[1])
    dst_offset = begin[2]

    def when(instant: datetime, local_offset: timedelta) -> str:
        local = (instant + local_offset).replace(tzinfo=None)
        month_end = (local.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        week = "last" if local.day + 7 > month_end.day else str((local.day - 1) // 7 + 1)
        return f"{week} {local:%a} {local:%b} {local.hour}:{local:%M}"

    rule = f"{when(begin[0], std_offset)} {when(end[0], dst_offset)}"
    extra = int((dst_offset - std_offset).total_seconds()) // 60
    if extra != 60:
        rule += f" {extra}"
    clock["summer"] = {"zone": name(begin[0].astimezone(tz).tzname()), "rule": rule}
    return clock
