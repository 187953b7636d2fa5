"""Secrets out of configs before they are stored: every secret value becomes ``<removed>``.

Backups live in a git repository that many people read; a hash (type 9), an
encoding (type 7) or a localised SNMPv3 key is still a secret there. What is
removed: ``secret``/``password`` values (enable, users, lines), ``key`` values
(TACACS+/RADIUS servers, ``key-string``), NTP authentication keys, SNMP
communities and SNMPv3 user keys. The structure of each line stays, so a diff
still shows that a secret line was added or removed.

Examples:
    >>> sanitize_line("enable secret 9 $9$h36Jxk8hliFPtT$kTHCtsIRSCKc64t")
    'enable secret 9 <removed>'
    >>> sanitize_line("username netwarden privilege 15 secret 9 $9$x5q$mmLr")
    'username netwarden privilege 15 secret 9 <removed>'
    >>> sanitize_line(" password 7 0822455D0A16")
    ' password 7 <removed>'
    >>> sanitize_line(" key 7 032A56212735154A4B25")
    ' key 7 <removed>'
    >>> sanitize_line("tacacs-server key 7 032A5621")
    'tacacs-server key 7 <removed>'
    >>> sanitize_line("ntp authentication-key 10 md5 1057071E01395F32 7")
    'ntp authentication-key 10 md5 <removed> 7'
    >>> sanitize_line("snmp-server community s3cr3t RO NW-SNMP")
    'snmp-server community <removed> RO NW-SNMP'
    >>> sanitize_line("snmp-server user mon NW-RO v3 encrypted auth sha 02:8C:4C priv aes 128 83:04:B3")
    'snmp-server user mon NW-RO v3 encrypted auth sha <removed> priv aes 128 <removed>'
    >>> sanitize_line("snmp-server host 10.0.0.5 version 2c s3cr3t")
    'snmp-server host 10.0.0.5 version 2c <removed>'
    >>> sanitize_line("snmp-server host 10.0.0.5 version 3 priv nw-monitor")
    'snmp-server host 10.0.0.5 version 3 priv nw-monitor'
    >>> sanitize_line("service password-encryption")
    'service password-encryption'
    >>> sanitize_line(" key 1"), sanitize_line("key chain OSPF")
    (' key 1', 'key chain OSPF')
    >>> sanitize_line("ntp server 10.10.20.12 key 10")
    'ntp server 10.10.20.12 key 10'
"""

from __future__ import annotations

import logging
import re

logger = logging.getLogger(__name__)

REMOVED = "<removed>"

# Optional encryption type words between a keyword and its value.
_TYPE = r"(?: (?:[05679]|md5|sha|sha1|sha256|encrypted|cleartext))*"

SECRET_PATTERNS: tuple[re.Pattern[str], ...] = (
    # enable/username/line/neighbor ... secret|password [type] VALUE
    re.compile(rf"(?P<pre>\b(?:secret|password){_TYPE}) (?P<val>\S+)"),
    # `key [type] VALUE` inside tacacs/radius server blocks (not `key chain X`, not a chain's `key 1`)
    re.compile(r"(?P<pre>^\s+key [0-9]) (?P<val>\S+)$"),
    re.compile(r"(?P<pre>^\s+key) (?P<val>(?!\d+$)\S+)$"),
    # key-string, server-wide keys, IKE keys
    re.compile(
        rf"(?P<pre>\b(?:key-string|(?:tacacs|radius)-server key|isakmp key|pre-shared-key){_TYPE}) (?P<val>\S+)"
    ),
    re.compile(r"(?P<pre>\bntp authentication-key \d+ \S+) (?P<val>\S+)"),
    re.compile(
        r"(?P<pre>\bip ospf (?:authentication-key|message-digest-key \d+ md5)(?: [07])?) (?P<val>\S+)"
    ),
    re.compile(r"(?P<pre>^snmp-server community) (?P<val>\S+)"),
    # SNMPv1/v2c trap destinations carry the community (v3 ones a user name: kept)
    re.compile(
        r"(?P<pre>^snmp-server host \S+(?: (?:traps|informs))?(?: version (?:1|2c))?) (?P<val>(?!version\b)\S+)"
    ),
    re.compile(r"(?P<pre>^snmp-server user .*?\bauth \S+) (?P<val>\S+)"),
    re.compile(r"(?P<pre>^snmp-server user .*?\bpriv (?:des|3des|aes(?: \d+)?)) (?P<val>\S+)"),
)
"""Each pattern captures ``pre`` (kept) and ``val`` (replaced by ``<removed>``)."""


def sanitize_line(line: str) -> str:
    """One config line with its secret values replaced by ``<removed>``."""
    for pattern in SECRET_PATTERNS:
        line = pattern.sub(_replace, line)
    return line


def _replace(match: re.Match[str]) -> str:
    return f"{match['pre']} {REMOVED}"


def sanitize_config(text: str) -> str:
    """A whole config, line by line (banner text included: it holds no secrets, and is kept)."""
    return "\n".join(sanitize_line(line) for line in text.splitlines()) + (
        "\n" if text.endswith("\n") else ""
    )
