"""Access events in syslog text: IOS logins, config changes and SSH user auth; sshd logins.

:func:`access_event` reads a :class:`~collectors.access.syslog.SyslogMessage` and
returns an :class:`AccessEvent` (what happened, success or failure, the user and the
source address as written) or None when the message is no access event. Users and
addresses are cut to 64 printable characters; nothing else of the text is kept (a
password typed as a user name then stays out of everything but the recent-events log's
``user`` field, which is cut and never a metric label).

Examples:
    >>> from collectors.access.syslog import parse
    >>> access_event(parse(b"<38>Dec  6 05:12:01 web1 sshd[9]: Failed password for "
    ...                    b"invalid user bob from 10.0.0.9 port 22 ssh2"))
    AccessEvent(event='login', outcome='failure', user='bob', source='10.0.0.9')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from collectors.access.syslog import SyslogMessage

EVENTS: Final = ("login", "ssh_userauth", "invalid_user", "config_change")
OUTCOMES: Final = ("success", "failure")
_MAX = 64

_IOS_LOGIN = re.compile(r"\[user: (?P<user>[^\]]*)\] \[Source: (?P<source>[^\]]*)\]")
_IOS_CONFIG = re.compile(
    r"Configured from (?P<origin>\S+) by (?P<user>\S+)(?: on \S+)?(?: \((?P<source>[^)]*)\))?"
)
_IOS_SSH = re.compile(
    r"User '(?P<user>[^']*)' authentication for SSH2? Session from (?P<source>\S+).*?"
    r"(?P<verdict>Succeeded|Failed)",
    re.DOTALL,
)
_SSHD_ACCEPTED = re.compile(
    r"^Accepted (?:password|publickey|keyboard-interactive/pam) "
    r"for (?P<user>\S+) from (?P<source>\S+)"
)
_SSHD_FAILED = re.compile(
    r"^Failed (?:password|publickey|none) for (?:invalid user )?(?P<user>\S*) from (?P<source>\S+)"
)
_SSHD_INVALID = re.compile(r"^Invalid user (?P<user>\S*) from (?P<source>\S+)")


@dataclass(frozen=True)
class AccessEvent:
    """One access event: ``event`` of :data:`EVENTS`, ``outcome`` of :data:`OUTCOMES`."""

    event: str
    outcome: str
    user: str
    source: str


def _cut(text: str | None) -> str:
    return "".join(c for c in (text or "") if c.isprintable())[:_MAX]


def _made(event: str, outcome: str, found: re.Match[str]) -> AccessEvent:
    groups = found.groupdict()
    return AccessEvent(event, outcome, _cut(groups.get("user")), _cut(groups.get("source")))


def access_event(message: SyslogMessage) -> AccessEvent | None:
    """The access event ``message`` reports, None for any other message."""
    tag, text = message.app or "", message.text
    if tag.startswith("%"):
        return _ios(tag, text)
    if tag == "sshd" or tag.endswith("/sshd"):
        return _sshd(text)
    return None


def _ios(tag: str, text: str) -> AccessEvent | None:
    mnemonic = tag[1:]
    if mnemonic in ("SEC_LOGIN-5-LOGIN_SUCCESS", "SEC_LOGIN-4-LOGIN_FAILED"):
        found = _IOS_LOGIN.search(text)
        if found is None:
            return None
        return _made("login", "success" if "SUCCESS" in mnemonic else "failure", found)
    if mnemonic == "SYS-5-CONFIG_I":
        found = _IOS_CONFIG.search(text)
        return None if found is None else _made("config_change", "success", found)
    if mnemonic == "SSH-5-SSH2_USERAUTH":
        found = _IOS_SSH.search(text)
        if found is None:
            return None
        outcome = "success" if found.group("verdict") == "Succeeded" else "failure"
        return _made("ssh_userauth", outcome, found)
    return None


def _sshd(text: str) -> AccessEvent | None:
    if (found := _SSHD_ACCEPTED.match(text)) is not None:
        return _made("login", "success", found)
    if (found := _SSHD_FAILED.match(text)) is not None:
        return _made("login", "failure", found)
    if (found := _SSHD_INVALID.match(text)) is not None:
        return _made("invalid_user", "failure", found)
    return None
