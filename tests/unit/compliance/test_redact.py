"""One table of secrets for evidence and backups: ``redact_line`` and ``sanitize_line`` agree.

Both are thin calls of :func:`netwarden.ios.sanitize.replace_secrets`; the only
differences allowed are the replacement text and the default SNMP communities
(``public``/``private``), which evidence keeps visible.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netwarden.ios.sanitize import REDACTED, REMOVED, SECRET_PATTERNS, redact_line, sanitize_line

DATA = Path(__file__).resolve().parents[2] / "data"

# (line, the line with every secret value as {X}): at least one line per pattern.
SECRET_LINES: list[tuple[str, str]] = [
    # password [level N] [type] VALUE
    ("username legacy password 0 cleartext!", "username legacy password 0 {X}"),
    ("username a password sha 1234", "username a password sha {X}"),
    (" password 7 0822455D0A16", " password 7 {X}"),
    ("enable password level 5 7 0822455D0A16", "enable password level 5 7 {X}"),
    (" neighbor 10.0.0.2 password 7 0822455D0A16", " neighbor 10.0.0.2 password 7 {X}"),
    # secret [level N] [type] VALUE
    ("enable secret 9 $9$h36Jxk8hliFPtT$kTHCtsIRSCKc64t", "enable secret 9 {X}"),
    ("enable secret level 5 5 $1$mERr$abc", "enable secret level 5 5 {X}"),
    (
        "username admin privilege 15 algorithm-type sha256 secret 0 s3cr3t",
        "username admin privilege 15 algorithm-type sha256 secret 0 {X}",
    ),
    ("username u secret hmac-sha-256 s3cr3t", "username u secret hmac-sha-256 {X}"),
    # key-string, server-wide keys, per-host server keys, AAA private servers, IKEv1
    ("  key-string 7 104D000A0618", "  key-string 7 {X}"),
    ("tacacs-server key 7 045802150C2E", "tacacs-server key 7 {X}"),
    ("radius-server key 0 plaintext", "radius-server key 0 {X}"),
    (
        "radius-server host 10.0.0.1 auth-port 1645 acct-port 1646 key 7 0822455D0A16",
        "radius-server host 10.0.0.1 auth-port 1645 acct-port 1646 key 7 {X}",
    ),
    (" server-private 10.0.0.1 key 7 0822455D0A16", " server-private 10.0.0.1 key 7 {X}"),
    (
        "crypto isakmp key 0 s3cr3t address 10.0.0.1",
        "crypto isakmp key 0 {X} address 10.0.0.1",
    ),
    # pre-shared-key: IKEv2 keyring peers, IKEv1 keyrings
    (" pre-shared-key local 0 s3cr3t", " pre-shared-key local 0 {X}"),
    (" pre-shared-key s3cr3t", " pre-shared-key {X}"),
    (
        " pre-shared-key address 10.0.0.0 255.0.0.0 key 0 s3cr3t",
        " pre-shared-key address 10.0.0.0 255.0.0.0 key 0 {X}",
    ),
    # `key [type] VALUE` in tacacs/radius server blocks (and its negation in a plan)
    (" key 7 032A56212735154A4B25", " key 7 {X}"),
    (" no key 7 032A56212735154A4B25", " no key 7 {X}"),
    (" key s3cr3t", " key {X}"),
    # NTP
    ("ntp authentication-key 10 md5 1057071E01395F32 7", "ntp authentication-key 10 md5 {X} 7"),
    # OSPF
    (" ip ospf message-digest-key 1 md5 7 0822455D0A16", " ip ospf message-digest-key 1 md5 7 {X}"),
    (" ip ospf message-digest-key 1 md5 s3cr3t", " ip ospf message-digest-key 1 md5 {X}"),
    (" ip ospf authentication-key 7 0822455D0A16", " ip ospf authentication-key 7 {X}"),
    # SNMP communities
    ("snmp-server community s3cr3t RO NW-SNMP", "snmp-server community {X} RO NW-SNMP"),
    ("no snmp-server community s3cr3t", "no snmp-server community {X}"),
    ("snmp-server host 10.0.0.5 s3cr3t", "snmp-server host 10.0.0.5 {X}"),
    ("snmp-server host 10.0.0.5 traps s3cr3t", "snmp-server host 10.0.0.5 traps {X}"),
    ("snmp-server host 10.0.0.5 version 2c s3cr3t", "snmp-server host 10.0.0.5 version 2c {X}"),
    (
        "snmp-server host 10.0.0.5 informs version 1 s3cr3t udp-port 162",
        "snmp-server host 10.0.0.5 informs version 1 {X} udp-port 162",
    ),
    (
        "snmp-server host 10.0.0.5 vrf MGMT traps version 2c s3cr3t",
        "snmp-server host 10.0.0.5 vrf MGMT traps version 2c {X}",
    ),
    # SNMPv3 user keys
    (
        "snmp-server user mon NW-RO v3 encrypted auth sha 02:8C:4C priv aes 128 83:04:B3",
        "snmp-server user mon NW-RO v3 encrypted auth sha {X} priv aes 128 {X}",
    ),
    (
        "snmp-server user mon NW-RO remote 10.0.0.9 v3 auth md5 s3cr3t priv des s3cr3t",
        "snmp-server user mon NW-RO remote 10.0.0.9 v3 auth md5 {X} priv des {X}",
    ),
]

# Lines without a secret: neither function changes them.
CLEAN_LINES = [
    "service password-encryption",
    "key chain OSPF",
    " key 1",
    " key 10",
    "ntp server 10.10.20.12 key 10",
    "ntp trusted-key 10",
    "snmp-server host 10.0.0.6 version 3 priv nw-monitor",
    "snmp-server host 10.0.0.6 informs version 3 auth nw-monitor",
    "snmp-server host 10.0.0.6 vrf MGMT version 3 noauth nw-monitor",
    "snmp-server group NW-RO v3 priv access NW-SNMP-MANAGERS",
    "router ospf 1",
    " ip ospf authentication message-digest",
    "tacacs-server host 10.0.0.1",
    "interface GigabitEthernet1/0/1",
    "aaa authentication enable default group tacacs+ enable",
    "banner motd ^C",
]

# The three leaks found through redact_line before the tables were one.
LEAKS = [
    ("snmp-server host 10.0.0.5 s3cr3t", "s3cr3t"),
    ("snmp-server host 10.0.0.5 traps s3cr3t", "s3cr3t"),
    ("username a password sha 1234", "1234"),
]


@pytest.mark.parametrize(("line", "secret"), LEAKS)
def test_known_leaks_are_closed(line: str, secret: str) -> None:
    assert secret not in redact_line(line)
    assert secret not in sanitize_line(line)
    assert redact_line(line).endswith(f" {REDACTED}")
    assert sanitize_line(line).endswith(f" {REMOVED}")


@pytest.mark.parametrize(("line", "expected"), SECRET_LINES, ids=[c[0] for c in SECRET_LINES])
def test_each_secret_is_replaced_by_both_functions(line: str, expected: str) -> None:
    assert sanitize_line(line) == expected.format(X=REMOVED)
    assert redact_line(line) == expected.format(X=REDACTED)


@pytest.mark.parametrize("line", CLEAN_LINES)
def test_lines_without_secrets_are_kept_by_both(line: str) -> None:
    assert sanitize_line(line) == line
    assert redact_line(line) == line


@pytest.mark.parametrize("index", range(len(SECRET_PATTERNS)))
def test_every_pattern_has_a_secret_line(index: int) -> None:
    pattern = SECRET_PATTERNS[index]
    assert any(pattern.regex.search(line) for line, _ in SECRET_LINES), pattern.regex.pattern


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ("snmp-server community public RO", "snmp-server community public RO"),
        ("snmp-server community private RW 10", "snmp-server community private RW 10"),
        (
            "snmp-server host 10.0.0.5 version 2c public",
            "snmp-server host 10.0.0.5 version 2c public",
        ),
        ("snmp-server host 10.0.0.5 traps private", "snmp-server host 10.0.0.5 traps private"),
    ],
)
def test_default_communities_stay_visible_in_evidence_only(line: str, kept: str) -> None:
    assert redact_line(line) == kept
    assert REMOVED in sanitize_line(line)
    assert "public" not in sanitize_line(line)
    assert "private" not in sanitize_line(line)


def test_a_default_word_as_a_password_is_still_redacted() -> None:
    assert redact_line("username u password 0 public") == f"username u password 0 {REDACTED}"


def _corpus() -> list[str]:
    lines = [line for line, _ in SECRET_LINES] + CLEAN_LINES
    lines += ["snmp-server community public RO", "snmp-server host 10.0.0.5 private"]
    for path in sorted(DATA.rglob("*.cfg")):
        lines += path.read_text(encoding="utf-8").splitlines()
    return sorted(set(lines))


def test_both_functions_change_the_same_lines_the_same_way() -> None:
    """Apart from the replacement text and the public/private communities evidence keeps."""
    changed = 0
    for line in _corpus():
        redacted, sanitized = redact_line(line), sanitize_line(line)
        changed += sanitized != line
        if redacted == sanitized.replace(REMOVED, REDACTED):
            continue
        r_words, s_words = redacted.split(" "), sanitized.split(" ")
        assert len(r_words) == len(s_words), line
        for r_word, s_word in zip(r_words, s_words, strict=True):
            if r_word != s_word.replace(REMOVED, REDACTED):
                assert (s_word, r_word) in ((REMOVED, "public"), (REMOVED, "private")), line
    assert changed > len(SECRET_LINES)  # the corpus holds secrets beyond the table's examples


def test_redacting_is_idempotent() -> None:
    for line in _corpus():
        once = redact_line(line)
        assert redact_line(once) == once
        assert sanitize_line(sanitize_line(line)) == sanitize_line(line)
