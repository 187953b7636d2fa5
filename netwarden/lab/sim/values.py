"""Values IOS refuses in configuration mode, with the device's own error.

Examples:
    >>> refuse_value(["hostname", "<script>"])
    ('refused', '% Hostname contains one or more illegal characters.', 0)
    >>> refuse_value(["ip", "address", "10.0.0.300", "255.255.255.0"])
    ('invalid', '', 2)
    >>> refuse_value(["vlan", "4095"])
    ('invalid', '', 1)
    >>> refuse_value(["hostname", "sw-1.hq"]) is None
    True
"""

from __future__ import annotations

import re

_HOSTNAME_OK = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
ILLEGAL_HOSTNAME = "% Hostname contains one or more illegal characters."


def refuse_value(words: list[str]) -> tuple[str, str, int] | None:
    """``(error, message, word index)`` when IOS refuses the command's value, else None.

    ``error`` is ``refused`` (IOS prints ``message``) or ``invalid`` (IOS prints its
    caret under word number ``word index``), as :class:`~netwarden.lab.sim.config.ApplyResult`
    carries them.
    """
    if (
        words[0] == "hostname"
        and len(words) >= 2
        and (len(words) > 2 or not _HOSTNAME_OK.fullmatch(words[1]))
    ):
        return "refused", ILLEGAL_HOSTNAME, 0
    if words[:2] == ["ip", "address"] and len(words) >= 4:
        for index in (2, 3):
            parts = words[index].split(".")
            if len(parts) != 4 or not all(p.isdigit() and int(p) <= 255 for p in parts):
                return "invalid", "", index
    if (
        words[0] == "vlan"
        and len(words) == 2
        and words[1].isdigit()
        and not 1 <= int(words[1]) <= 4094
    ):
        return "invalid", "", 1
    return None
