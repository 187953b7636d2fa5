"""Secrets out of evidence: passwords, secrets, keys and SNMP communities become ``<redacted>``.

Applied to every line before it leaves the engine as evidence, so no report,
JSON file or log ever carries a secret from a device. The well-known default
SNMP communities ``public`` and ``private`` stay visible: they are not secrets,
and the auditor needs to see them to confirm the finding.

The secrets are those of :data:`netwarden.ios.sanitize.SECRET_PATTERNS`, the
table backups and diffs use, through the same output redaction as plan, apply and
drift (:func:`netwarden.ios.sanitize.redact_text`): diff markers are
understood and any ``$N$`` hash, SNMPv3 key or type 7 string is hidden wherever
it stands in the line.

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
    >>> redact_line("snmp-server host 10.0.0.5 traps s3cr3t")
    'snmp-server host 10.0.0.5 traps <redacted>'
    >>> redact_line("+key 7 02050D480809"), redact_line("banner: key 7 02050D480809 set")
    ('+key 7 <redacted>', 'banner: key 7 <redacted> set')
"""

from __future__ import annotations

from netwarden.ios.sanitize import redact_text

REDACTED = "<redacted>"

KEPT_COMMUNITIES = frozenset({"public", "private"})
"""SNMP communities left visible: well known, not secrets, and evidence of their own finding."""


def redact_line(text: str) -> str:
    """``text`` with every secret value replaced by ``<redacted>``."""
    return redact_text(text, REDACTED, KEPT_COMMUNITIES)
