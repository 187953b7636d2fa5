"""Outputs of plan, apply, backup and drift carry no secret, and no raw control character.

The secrets are type 7 keys (reversible: decoding gives the key back), ``$9$``
hashes and SNMPv3 localised keys, in every form they take in an output: a
unified diff line, the device's own diff (``show archive config differences``),
a hier_config command, a post-check's reason that quotes commands.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from rich.console import Console

from netwarden.cli.output import print_apply, print_backup, print_drift, print_plan
from netwarden.config.models import (
    ApplyReport,
    ApplyStatus,
    BackupReport,
    BackupStatus,
    CheckOutcome,
    DeviceApplyResult,
    DeviceBackup,
    DeviceDrift,
    DevicePlan,
    DriftReport,
    PlanReport,
)
from netwarden.ios.sanitize import REMOVED, redact_output_line, redact_text
from netwarden.ios.secrets import colon_hex, snmp_localized_key, type7, type7_decode, type9

KEY = "tacacs-key-0001"
T7 = type7(KEY, seed=3)
T7_NTP = type7("ntp-key-0001", seed=11)
HASH = type9("enable-secret-0001", "h36Jxk8hliFPtT").removeprefix("9 ")
SNMP = colon_hex(snmp_localized_key("snmp-auth-0001", bytes(12), "sha"))
SECRETS = (T7, T7_NTP, HASH, SNMP, KEY)

LINES = {
    "unified-added": f"+key 7 {T7}",
    "unified-added-indented": f"+ key 7 {T7}",
    "unified-removed-indented": f"-  password 7 {T7}",
    "unified-context": f"  key 7 {T7}",
    "archive-child": f" +key 7 {T7}",
    "archive-removed-child": f" -key 7 {T7}",
    "hier-no-secret": f"no enable secret 9 {HASH}",
    "hier-child": f"  key 7 {T7}",
    "ntp": f"+ntp authentication-key 10 md5 {T7_NTP} 7",
    "snmpv3": f"+snmp-server user nw NW-RO v3 encrypted auth sha {SNMP} priv aes 128 {SNMP}",
    "username": f"-username netwarden privilege 15 secret 9 {HASH}",
    "reason": f"post-check failed: config_matches_intended: 3 command(s) still needed: "
    f"no enable secret 9 {HASH}; tacacs server a; key 7 {T7} ...",
    "napalm-error": f"Candidate config could not be applied: key 7 {T7}\n% Invalid input",
    "type7-anywhere": f"refused 'ntp authentication-key 10 md5 {T7_NTP} 7' at line 3",
}


def test_type7_is_reversible() -> None:
    assert type7_decode(T7) == KEY  # why a type 7 string is a secret


@pytest.mark.parametrize("line", LINES.values(), ids=LINES.keys())
def test_no_secret_survives_redaction(line: str) -> None:
    out = redact_text(line)
    for secret in SECRETS:
        assert secret not in out, secret
    assert REMOVED in out
    assert redact_text(out) == out  # idempotent


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (f"+key 7 {T7}", "+key 7 <removed>"),
        (f" +key 7 {T7}", " +key 7 <removed>"),
        (f"-  password 7 {T7}", "-  password 7 <removed>"),
        (f"no enable secret 9 {HASH}", "no enable secret 9 <removed>"),
    ],
)
def test_the_line_keeps_its_diff_marker_and_structure(line: str, expected: str) -> None:
    assert redact_output_line(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "+ntp server 10.10.20.12 key 10",
        "+ key 1",
        "+key chain OSPF",
        "+interface GigabitEthernet1/0/7",
        "+switchport access vlan 7",
        "+ip address 10.0.0.7 255.255.255.0",
        "+mac address-table static 0011.2233.4455 vlan 7 interface Gi1/0/7",
        "--- intended/sw1",
        "+++ running/sw1",
        "@@ -1,3 +1,3 @@",
        "+snmp-server engineID local 80000009058DCED112386AF6",
        "+description uplink 7 to core",
    ],
)
def test_lines_without_secrets_are_left_alone(line: str) -> None:
    assert redact_output_line(line) == line


def test_every_result_model_redacts_its_text_fields() -> None:
    diff = f"+tacacs server a\n +key 7 {T7}\n-enable secret 9 {HASH}"
    commands = ("tacacs server a", f"  key 7 {T7}", f"no enable secret 9 {HASH}")
    reason = LINES["reason"]
    models = [
        DevicePlan(device="a", device_diff=diff, commands=commands, error=reason),
        DeviceApplyResult(
            device="a",
            status=ApplyStatus.ROLLED_BACK,
            reason=reason,
            commands=commands,
            device_diff=diff,
            checks=(CheckOutcome(name="config_matches_intended", passed=False, detail=reason),),
        ),
        DeviceDrift(device="a", intended_diff=diff, backup_diff=diff, error=reason),
        DeviceBackup(device="a", status=BackupStatus.UNREACHABLE, error=reason),
    ]
    for model in models:
        dumped = model.model_dump_json()
        for secret in SECRETS:
            assert secret not in dumped, (type(model).__name__, secret)
        assert REMOVED in dumped


def test_plan_still_counts_a_change_of_secret_only() -> None:
    plan = DevicePlan(device="a", commands=(f"enable secret 9 {HASH}",))
    assert plan.changed
    assert plan.commands == ("enable secret 9 <removed>",)


# ----------------------------------------------------------- terminal output

HOSTILE = "x\x1b[2J\x1b]8;;http://evil.example/\x07click\x1b]8;;\x07\u202egnp.exe\x9b31m\x7f"
RAW = ("\x1b", "\x07", "\u202e", "\x9b", "\x7f")


def _terminal() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=200, force_terminal=False, color_system=None), buf


def _assert_visible_not_raw(text: str) -> None:
    for raw in RAW:
        assert raw not in text, repr(raw)
    assert "\\x1b[2J" in text
    assert "\\u202e" in text


def test_drift_shows_control_characters_escaped() -> None:
    diff = f"--- intended/sw{HOSTILE}\n+++ running/sw\n@@ -1 +1 @@\n-description a\n+description {HOSTILE}"
    report = DriftReport(
        inventory="inv",
        devices=(
            DeviceDrift(device=f"sw{HOSTILE}", intended_diff=diff, backup_diff=diff),
            DeviceDrift(device="sw2", error=f"cannot read: banner {HOSTILE}"),
        ),
    )
    console, buf = _terminal()
    print_drift(console, report)
    _assert_visible_not_raw(buf.getvalue())


def test_plan_apply_and_backup_tables_show_control_characters_escaped() -> None:
    now = datetime.now(UTC)
    shows: tuple[Callable[[Console], None], ...] = (
        lambda c: print_plan(
            c,
            PlanReport(
                inventory="i",
                plans=(
                    DevicePlan(device=f"a{HOSTILE}", device_diff=f"+banner {HOSTILE}"),
                    DevicePlan(device="b", commands=(f"snmp-server location {HOSTILE}",)),
                    DevicePlan(device="c", error=HOSTILE),
                ),
            ),
        ),
        lambda c: print_plan(
            c,
            PlanReport(inventory="i", plans=(DevicePlan(device=f"a{HOSTILE}", error=HOSTILE),)),
            summary=True,
        ),
        lambda c: print_apply(
            c,
            ApplyReport(
                inventory="i",
                user="u",
                started_at=now,
                finished_at=now,
                confirm_timeout_minutes=1,
                results=(
                    DeviceApplyResult(
                        device=f"a{HOSTILE}", status=ApplyStatus.FAILED, reason=HOSTILE
                    ),
                ),
            ),
        ),
        lambda c: print_backup(
            c,
            BackupReport(
                repo="r",
                user="u",
                message="m",
                devices=(
                    DeviceBackup(
                        device=f"a{HOSTILE}", status=BackupStatus.UNREACHABLE, error=HOSTILE
                    ),
                ),
            ),
        ),
    )
    for show in shows:
        console, buf = _terminal()
        show(console)
        _assert_visible_not_raw(buf.getvalue())


def test_terminal_output_holds_no_secret() -> None:
    console, buf = _terminal()
    print_plan(
        console,
        PlanReport(
            inventory="i",
            plans=(
                DevicePlan(
                    device="a",
                    device_diff=f"+tacacs server a\n +key 7 {T7}",
                    commands=("tacacs server a", f" key 7 {T7}"),
                ),
            ),
        ),
    )
    out = buf.getvalue()
    assert T7 not in out
    assert "+key 7 <removed>" in out


def test_log_lines_are_redacted_and_escaped() -> None:
    import logging

    from netwarden.ios.sanitize import RedactingFormatter

    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(RedactingFormatter("%(levelname)s %(message)s"))
    log = logging.getLogger("test.redact")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("%s: rolled_back %s", "sw1", LINES["reason"])
        log.warning("read: %s", f"tacacs server a\n key 7 {T7}\n description {HOSTILE}")
    finally:
        log.removeHandler(handler)
    out = buf.getvalue()
    for secret in SECRETS:
        assert secret not in out
    for raw in RAW:
        assert raw not in out
