"""Secrets out of configs and of every output: every secret value becomes ``<removed>``.

Backups live in a git repository that many people read; a hash (type 9), an
encoding (type 7) or a localised SNMPv3 key is still a secret there. What is
removed: ``secret``/``password`` values (enable, users, lines), ``key`` values
(TACACS+/RADIUS servers, ``key-string``, IKE keys), NTP and OSPF authentication
keys, SNMP communities and SNMPv3 user keys. The structure of each line stays, so a diff
still shows that a secret line was added or removed.

:data:`SECRET_PATTERNS` is the one table of secrets in the code base, and this
module the one place that applies it. Three uses:

- :func:`sanitize_config` turns a config into what a backup stores, line by
  line with the table.
- :func:`redact_text` is the one redaction of every output (plan, apply, backup
  and drift results on the terminal, in ``--json``, result files, the Ansible
  modules' results and diffs): it understands diff markers (``+key 7 X``,
  `` +key 7 X``, ``-  password 7 X``), commands quoted in a reason
  (``...; key 7 X``), and replaces any ``$N$`` hash, colon-hex SNMPv3 key and
  type 7 string (one that decodes to text) wherever it is.
- :func:`redact_line` is :func:`redact_text` for compliance evidence, with its
  own replacement text (``<redacted>``) and the default SNMP communities kept
  visible.

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


# ------------------------------------------------------------------ outputs

_CRYPT_HASH = re.compile(r"(?<![\w$])\$(?:1|5|6|8|9|14)\$[^\s$;,]+(?:\$[^\s;,]*)?")
"""``$1$`` (type 5), ``$8$``, ``$9$`` ... hashes, wherever they are."""
_COLON_HEX_KEY = re.compile(r"(?<![\w:])[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){11,}(?![\w:])")
"""12 or more colon-separated octets: a localised SNMPv3 key (a MAC address has 6)."""
_TYPE7_AFTER = re.compile(r"(?<![\w.:/-])7 (?P<val>[01]\d(?:[0-9A-Fa-f]{2}){4,})(?![\w$])")
_TYPE7_BEFORE = re.compile(r"(?<![\w$])(?P<val>[01]\d(?:[0-9A-Fa-f]{2}){4,}) 7(?![\w.])")
"""``7 ENCODED`` and ``ENCODED 7`` (NTP) with a key of 4 or more characters: replaced only if
ENCODED decodes to printable text (the table above already covers every known config form)."""


def _is_type7(value: str) -> bool:
    from netwarden.ios.secrets import type7_decode  # noqa: PLC0415  # sanitize stays import-light

    clear = type7_decode(value)
    return clear is not None and all(" " <= c <= "~" for c in clear)


def _redact_type7(replacement: str, match: re.Match[str]) -> str:
    if not _is_type7(match["val"]):
        return match[0]
    return match[0].replace(match["val"], replacement, 1)


def _redact_segment(segment: str, replacement: str, keep: Set[str]) -> str:
    segment = replace_secrets(segment, replacement, keep)
    # Each pattern below needs a character most lines lack: test it first (substring
    # tests cost far less than a regex scan, and every evidence line comes here).
    if "$" in segment:
        segment = _CRYPT_HASH.sub(replacement, segment)
    if ":" in segment:
        segment = _COLON_HEX_KEY.sub(replacement, segment)
    if "7 " in segment:
        segment = _TYPE7_AFTER.sub(partial(_redact_type7, replacement), segment)
    if " 7" in segment:
        segment = _TYPE7_BEFORE.sub(partial(_redact_type7, replacement), segment)
    return segment


def redact_output_line(line: str, replacement: str = REMOVED, keep: Set[str] = frozenset()) -> str:
    """One line of any output with its secrets replaced; diff markers understood.

    The line may be a config line, a unified diff line (``+key 7 X``,
    ``-  password 7 X``), a line of the device's own diff (``show archive config
    differences``: `` +key 7 X``), a hier_config command (``no enable secret 9
    $9$...``) or free text that quotes commands joined by ``"; "`` (a post-check's
    reason). Beyond :data:`SECRET_PATTERNS`, any ``$N$`` hash, colon-hex SNMPv3
    key and type 7 string (one that decodes to text) is replaced wherever it is.
    ``keep``: SNMP communities left visible, as in :func:`replace_secrets`.

    Examples:
        >>> redact_output_line("+key 7 02050D480809")
        '+key 7 <removed>'
        >>> redact_output_line(" +key 7 02050D480809"), redact_output_line("+ key 7 02050D480809")
        (' +key 7 <removed>', '+ key 7 <removed>')
        >>> redact_output_line("-  password 7 02050D480809")
        '-  password 7 <removed>'
        >>> redact_output_line("no enable secret 9 $9$h36Jxk8hliFPtT$kTHCtsIRSCKc64t")
        'no enable secret 9 <removed>'
        >>> redact_output_line("+ntp authentication-key 10 md5 02050D480809 7")
        '+ntp authentication-key 10 md5 <removed> 7'
        >>> redact_output_line("2 command(s) still needed: tacacs server a; key 7 02050D480809 ...")
        '2 command(s) still needed: tacacs server a; key 7 <removed> ...'
        >>> redact_output_line("invalid input near 'md5 02050D480809 7' and $1$ab$cdef")
        "invalid input near 'md5 <removed> 7' and <removed>"
        >>> redact_output_line("+snmp-server user m G v3 encrypted auth sha " + ":".join(["0A"] * 20))
        '+snmp-server user m G v3 encrypted auth sha <removed>'
        >>> redact_output_line("+ key 1"), redact_output_line("+interface Gi1/0/7 0102"), redact_output_line("--- a/b")
        ('+ key 1', '+interface Gi1/0/7 0102', '--- a/b')
        >>> redact_output_line("vlan 7 1020304050")  # decodes to a control character: not a key
        'vlan 7 1020304050'
    """
    rest = line.lstrip()
    cut = len(line) - len(rest) + (1 if rest[:1] in ("+", "-") else 0)
    prefix, rest = line[:cut], line[cut:]
    if "; " not in rest:
        return prefix + _redact_segment(rest, replacement, keep)
    return prefix + "; ".join(_redact_segment(s, replacement, keep) for s in rest.split("; "))


def redact_text(text: str, replacement: str = REMOVED, keep: Set[str] = frozenset()) -> str:
    """:func:`redact_output_line` on every line of ``text`` (diffs, reasons, errors); layout kept.

    Every output of plan, apply, backup and drift (terminal, JSON, result files,
    Ansible results and diffs) goes through it: the report models redact their
    fields when they are built (:mod:`netwarden.config.models`).

    Examples:
        >>> print(redact_text("+tacacs server a\\n +address ipv4 10.0.0.1\\n +key 7 02050D480809\\n"))
        +tacacs server a
         +address ipv4 10.0.0.1
         +key 7 <removed>
        <BLANKLINE>
    """
    if "\n" not in text:  # one line (compliance evidence, most reasons): no split and join
        return redact_output_line(text, replacement, keep) if text else text
    return "\n".join(redact_output_line(line, replacement, keep) for line in text.split("\n"))


class RedactingFormatter(logging.Formatter):
    """A log formatter for people: secrets redacted, control characters shown escaped.

    A log line can quote a device's reason or error (``-v``), which can quote a
    config: the CLI's log handler formats through this.

    Examples:
        >>> record = logging.LogRecord("x", logging.INFO, "f", 1, "%s: %s", ("sw1", "key 7 02050D480809\\x1b[2J"), None)
        >>> RedactingFormatter("%(message)s").format(record)
        'sw1: key 7 <removed>\\\\x1b[2J'
    """

    def format(self, record: logging.LogRecord) -> str:
        from netwarden.textsafe import printable  # noqa: PLC0415  # sanitize stays import-light

        return printable(redact_text(super().format(record)))


# ------------------------------------------------------------------ evidence

REDACTED = "<redacted>"

KEPT_COMMUNITIES = frozenset({"public", "private"})
"""SNMP communities left visible: well known, not secrets, and evidence of their own finding."""


def redact_line(text: str) -> str:
    """``text`` with every secret value replaced by ``<redacted>``: compliance evidence.

    Applied to every line before it leaves the engine as evidence, so no report,
    JSON file or log ever carries a secret from a device. The well-known default
    SNMP communities ``public`` and ``private`` stay visible: they are not secrets,
    and the auditor needs to see them to confirm the finding. It is
    :func:`redact_text` with its own replacement: diff markers are understood and
    any ``$N$`` hash, SNMPv3 key or type 7 string is hidden wherever it stands.

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
    return redact_text(text, REDACTED, KEPT_COMMUNITIES)
