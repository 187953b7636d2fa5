"""SNMPv3 users: accepted in configuration mode, kept outside the running config.

Real IOS stores ``snmp-server user`` apart from the configuration (its keys are
localised to the engine ID): ``show running-config`` never prints the users,
``show snmp user`` lists them, and they survive ``configure replace`` and a
rollback, which work on the config text. The simulator does the same: the lines
live in :attr:`ConfigTree.snmp_users <netwarden.lab.sim.config.ConfigTree>`, keyed
by user name and remote engine (a user of a remote host is another user).

Examples:
    >>> users: dict[tuple[str, str], str] = {}
    >>> store(users, "snmp-server user ops OPS v3 auth sha a1234567".split())
    ('', 0)
    >>> store(users, "snmp-server user ops".split())
    ('incomplete', 0)
    >>> store(users, "snmp-server user ops OPS v4".split())
    ('invalid', 4)
    >>> remove(users, "snmp-server user ops OPS v3".split()), users
    (True, {})
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

_VERSIONS = ("v1", "v2c", "v3")
_FIRST_ARGUMENT = 2  # snmp-server user NAME: the index of NAME


def _key(words: list[str]) -> tuple[str, str]:
    """(user, remote host or "") of ``snmp-server user NAME GROUP [remote HOST] ...``."""
    remote = words[5] if words[4:5] == ["remote"] and len(words) > 5 else ""
    return words[_FIRST_ARGUMENT], remote


def _version_index(words: list[str]) -> int:
    """Where the version word stands: after GROUP, or after the ``remote`` clause."""
    index = 4
    if words[index : index + 1] == ["remote"]:
        index += 2
        while words[index : index + 1] in (["udp-port"], ["vrf"]):
            index += 2
    return index


def store(users: dict[tuple[str, str], str], words: list[str]) -> tuple[str, int]:
    """``snmp-server user ...``: add or replace the user; ("" | error, word of the caret)."""
    index = _version_index(words) if len(words) > 4 else 4
    if len(words) <= index:
        return "incomplete", 0
    if words[index].lower() not in _VERSIONS:
        return "invalid", index
    users[_key(words)] = " ".join(words)
    logger.debug("SNMP user %s stored outside the running config", words[_FIRST_ARGUMENT])
    return "", 0


def remove(users: dict[tuple[str, str], str], words: list[str]) -> bool:
    """``no snmp-server user NAME [GROUP ...]`` (``words`` without ``no``): whether one went."""
    if len(words) <= _FIRST_ARGUMENT:
        return False
    name = words[_FIRST_ARGUMENT]
    remote = _key(words)[1] if len(words) > 4 else None
    gone = [k for k in users if k[0] == name and (remote is None or k[1] == remote)]
    for key in gone:
        del users[key]
    return bool(gone)
