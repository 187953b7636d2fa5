"""Secrets out of configs before they are stored: every secret value becomes ``<removed>``.

Backups live in a git repository that many people read; a hash (type 9), an
encoding (type 7) or a localised SNMPv3 key is still a secret there. What is
removed: ``secret``/``password`` values (enable, users, lines), ``key`` values
(TACACS+/RADIUS servers, ``key-string``, IKE keys), NTP and OSPF authentication
keys, SNMP communities and SNMPv3 user keys. The structure of each line stays, so a diff
still shows that a secret line was added or removed.

:data:`SECRET_PATTERNS` is the one table of secrets in the code base: evidence
(:func:`netwarden.compliance.redact.redact_line`) uses it too, through
:func:`replace_secrets`, with its own replacement text and the default SNMP
communities kept visible.

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
    >>> sanitize_line("snmp-server host 10.0.0.5 traps s3cr3t")
    'snmp-server host 10.0.0.5 traps <removed>'
    >>> replace_secrets("snmp-server community public RO", "<hidden>", keep={"public"})
    'snmp-server community public RO'
"""

from __future__ import annotations

import logging
import re
from collections.abc import Set
from functools import partial
from typing import NamedTuple

logger = logging.getLogger(__name__)

REMOVED = "<removed>"

# An encryption/hash type word between a keyword and its value.
_TYPE_WORD = r"(?:[05679]|md5|sha|sha1|sha256|hmac-sha-256|encrypted|cleartext)"
# Optional type words between a keyword and its value.
_TYPE = rf"(?: {_TYPE_WORD})*"


class SecretPattern(NamedTuple):
    """One kind of secret: ``regex`` captures ``pre`` (kept) and ``val`` (replaced).

    ``keyword`` is a substring every matching line contains (a cheap pre-filter);
    ``community`` marks an SNMP community, the only value a caller may keep visible.
    """

    keyword: str
    regex: re.Pattern[str]
    community: bool = False


SECRET_PATTERNS: tuple[SecretPattern, ...] = (
    # enable/username/line/neighbor/ppp ... password|secret [level N] [type] VALUE
    SecretPattern(
        "password", re.compile(rf"(?P<pre>\bpassword(?: level \d+)?{_TYPE}) (?P<val>\S+)")
    ),
    SecretPattern("secret", re.compile(rf"(?P<pre>\bsecret(?: level \d+)?{_TYPE}) (?P<val>\S+)")),
    # key-string, server-wide and legacy per-host server keys, AAA group private servers, IKEv1
    SecretPattern(
        "key",
        re.compile(
            r"(?P<pre>\b(?:key-string|isakmp key"
            r"|(?:tacacs|radius)-server(?: host \S+(?: \S+)*?)? key|server-private \S+(?: \S+)*? key)"
            rf"{_TYPE}) (?P<val>\S+)"
        ),
    ),
    # IKE keyrings: `pre-shared-key [local|remote] [type] KEY` (IKEv2),
    # `pre-shared-key address|hostname PEER [MASK] key KEY` (IKEv1)
    SecretPattern(
        "pre-shared-key",
        re.compile(
            rf"(?P<pre>\bpre-shared-key(?: (?:local|remote))?{_TYPE})"
            r" (?P<val>(?!(?:address|hostname)\b)\S+)"
        ),
    ),
    SecretPattern(
        "pre-shared-key",
        re.compile(
            rf"(?P<pre>\bpre-shared-key (?:address|hostname)(?: \S+)+? key{_TYPE}) (?P<val>\S+)"
        ),
    ),
    # `key [type] VALUE` lines inside tacacs/radius server blocks; never `key chain X`,
    # nor a key chain's `key 1` (a number without a type is a key id, not a secret)
    SecretPattern(
        "key",
        re.compile(rf"(?P<pre>^\s*(?:no )?key(?: (?:[0-9]|{_TYPE_WORD}))+) (?P<val>\S+)$"),
    ),
    SecretPattern("key", re.compile(r"(?P<pre>^\s*(?:no )?key) (?P<val>(?!\d+$)\S+)$")),
    SecretPattern(
        "authentication-key",
        re.compile(r"(?P<pre>\bntp authentication-key \d+ \S+) (?P<val>\S+)"),
    ),
    SecretPattern(
        "ospf",
        re.compile(
            rf"(?P<pre>\bip ospf (?:authentication-key|message-digest-key \d+ md5){_TYPE})"
            r" (?P<val>\S+)"
        ),
    ),
    SecretPattern(
        "community",
        re.compile(r"(?P<pre>\bsnmp-server community) (?P<val>\S+)"),
        community=True,
    ),
    # SNMPv1/v2c trap destinations carry the community (v3 ones a user name: kept)
    SecretPattern(
        "snmp-server host",
        re.compile(
            r"(?P<pre>\bsnmp-server host \S+(?: vrf \S+)?(?: (?:traps|informs))?"
            r"(?: version (?:1|2c))?) (?P<val>(?!(?:version|traps|informs|vrf)\b)\S+)"
        ),
        community=True,
    ),
    # SNMPv3 user keys (`snmp-server user NAME GROUP [remote ...] v3 [encrypted] auth ALG KEY`)
    SecretPattern(
        "snmp-server user",
        re.compile(r"(?P<pre>\bsnmp-server user \S+ \S+ .*?\bauth \S+) (?P<val>\S+)"),
    ),
    SecretPattern("priv ", re.compile(r"(?P<pre>\bpriv (?:des|3des|aes(?: \d+)?)) (?P<val>\S+)")),
)
"""Every secret the code base knows; see :func:`replace_secrets`."""

_KEYWORDS = {p.keyword for p in SECRET_PATTERNS}
_HINT_RE = re.compile(
    "|".join(
        sorted(re.escape(k) for k in _KEYWORDS if not any(o != k and o in k for o in _KEYWORDS))
    )
)
"""Any keyword of :data:`SECRET_PATTERNS`: lines without one are returned untouched at once."""


def replace_secrets(line: str, replacement: str, keep: Set[str] = frozenset()) -> str:
    """``line`` with every secret value replaced by ``replacement``.

    ``keep``: SNMP community values left visible (``public``/``private`` in evidence).
    A value that already is ``replacement`` stays, so replacing is idempotent.

    Examples:
        >>> replace_secrets("username a password sha 1234", "***")
        'username a password sha ***'
        >>> replace_secrets("snmp-server host 10.0.0.5 private", "***", keep={"public", "private"})
        'snmp-server host 10.0.0.5 private'
        >>> replace_secrets("username public password 0 public", "***", keep={"public"})
        'username public password 0 ***'
    """
    if _HINT_RE.search(line) is None:
        return line
    plain = community = partial(_replace, replacement, frozenset())
    if keep:
        community = partial(_replace, replacement, keep)
    for secret in SECRET_PATTERNS:
        if secret.keyword in line:
            line = secret.regex.sub(community if secret.community else plain, line)
    return line


def _replace(replacement: str, keep: Set[str], match: re.Match[str]) -> str:
    if match["val"] == replacement or match["val"] in keep:
        return match[0]
    return f"{match['pre']} {replacement}"


def sanitize_line(line: str) -> str:
    """One config line with its secret values replaced by ``<removed>``."""
    return replace_secrets(line, REMOVED)


def sanitize_config(text: str) -> str:
    """A whole config, line by line (banner text included: it holds no secrets, and is kept)."""
    return "\n".join(sanitize_line(line) for line in text.splitlines()) + (
        "\n" if text.endswith("\n") else ""
    )
