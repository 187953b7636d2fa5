"""Secrets out of evidence: passwords, secrets, keys and SNMP communities become ``<redacted>``.

Applied to every line before it leaves the engine as evidence, so no report,
JSON file or log ever carries a secret from a device. The well-known default
SNMP communities ``public`` and ``private`` stay visible: they are not secrets,
and the auditor needs to see them to confirm the finding.

Examples:
    >>> redact_line("username admin privilege 15 secret 9 $9$abc$def")
    'username admin privilege 15 secret 9 <redacted>'
    >>> redact_line(" password 7 0822455D0A16")
    ' password 7 <redacted>'
    >>> redact_line("snmp-server community s3cr3t RO 10")
    'snmp-server community <redacted> RO 10'
    >>> redact_line("snmp-server community public RO")
    'snmp-server community public RO'
    >>> redact_line("ntp authentication-key 10 md5 1234ABCD 7")
    'ntp authentication-key 10 md5 <redacted> 7'
    >>> redact_line(" key 7 0822455D0A16")
    ' key 7 <redacted>'
    >>> redact_line("ntp server 10.10.20.11 key 10")
    'ntp server 10.10.20.11 key 10'
    >>> redact_line("interface GigabitEthernet1/0/1")
    'interface GigabitEthernet1/0/1'
"""

from __future__ import annotations

import re

REDACTED = "<redacted>"

_T = r"(?: (?:[05679]|md5|sha1|sha256|hmac-sha-256|cleartext|encrypted))*"
# (keyword that must be in the line, pattern): a pattern runs only on lines with its keyword.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # password/secret [type] VALUE: username, enable, line, neighbor, tacacs/radius ...
    ("password", re.compile(rf"(?P<pre>\b(?:password|pre-shared-key){_T}) (?P<val>\S+)")),
    ("secret", re.compile(rf"(?P<pre>\bsecret{_T}) (?P<val>\S+)")),
    ("pre-shared-key", re.compile(rf"(?P<pre>\bpre-shared-key{_T}) (?P<val>\S+)")),
    # keys: key-string, tacacs/radius/isakmp key, a line that starts with `key [type] VALUE`
    (
        "key",
        re.compile(
            rf"(?P<pre>\b(?:key-string|(?:tacacs|radius)-server key|isakmp key){_T}) (?P<val>\S+)"
        ),
    ),
    ("key", re.compile(rf"(?P<pre>^\s*key{_T}) (?P<val>\S+)$")),
    ("authentication-key", re.compile(r"(?P<pre>\bntp authentication-key \d+ \S+) (?P<val>\S+)")),
    (
        "ospf",
        re.compile(
            rf"(?P<pre>\bip ospf (?:authentication-key|message-digest-key \d+ md5){_T}) (?P<val>\S+)"
        ),
    ),
    (
        "community",
        re.compile(r"(?P<pre>\bsnmp-server community) (?P<val>(?!(?:public|private)\b)\S+)"),
    ),
    (
        "snmp-server user",
        re.compile(
            r"(?P<pre>\bsnmp-server user \S+ \S+(?: remote \S+)? v3(?: encrypted)? auth \S+) (?P<val>\S+)"
        ),
    ),
    ("priv ", re.compile(r"(?P<pre>\bpriv (?:des|3des|aes(?: \d+)?)) (?P<val>\S+)")),
    (
        "snmp-server host",
        re.compile(
            r"(?P<pre>\bsnmp-server host \S+(?: (?:traps|informs))? version (?:1|2c)) (?P<val>\S+)"
        ),
    ),
)
_HINT_RE = re.compile(r"password|secret|key|community|snmp-server|priv ")


def redact_line(text: str) -> str:
    """``text`` with every secret value replaced by ``<redacted>``."""
    if _HINT_RE.search(text) is None:
        return text
    for word, pat in _PATTERNS:
        if word in text:
            text = pat.sub(_sub, text)
    return text


def _sub(m: re.Match[str]) -> str:
    if m["val"] == REDACTED:
        return m[0]
    return f"{m['pre']} {REDACTED}"
