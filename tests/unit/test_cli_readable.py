"""Terminal output is wrapped or folded, never cropped; a pipe gets full width (issue 11 point 7).

The consoles of :mod:`netwarden.cli.common` print every command's tables: the
tables here are shaped like the ones that were cut (the auditor's incidents with
``no_wrap`` address columns, a device error holding host-key fingerprints),
printed at 80 and 100 columns and to a pipe, and the real ``inventory show``
is run on a pty and piped.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.table import Table

from netwarden.cli.common import PIPE_WIDTH, ReadableConsole
from tests.unit.terminal import ANSI, MODE_IDS, MODES, column_text, run, whole

SRC = "10.11.40.66 (nyc/guests)"
DST = "10.10.20.15 (jed/servers)"
SUMMARY = "10.11.40.66 (nyc/guests) scanned 1,024 ports of 10.10.20.15 (jed/servers) in 12 s"
OLD_KEY = "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8"
NEW_KEY = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"
HOST_KEY_CHANGED = (
    f"jed-core-sw1: HOST KEY CHANGED for 10.10.10.2: known_hosts.txt has ssh-ed25519 {OLD_KEY}, "
    f"the device offers ssh-ed25519 {NEW_KEY}; refusing to connect (a replaced device or a man "
    "in the middle). If the change is expected, verify the new key and replace the line in "
    "known_hosts.txt; --trust-on-first-use never accepts a changed key"
)


def _console(columns: int, *, tty: bool) -> tuple[ReadableConsole, io.StringIO]:
    out = io.StringIO()
    environ = {"COLUMNS": str(columns)} if columns else {}
    return ReadableConsole(file=out, force_terminal=tty, _environ=environ), out


def _incidents() -> Table:
    """The auditor's incident table as it was when the issue was filed (no_wrap addresses)."""
    table = Table(title="auditor: 1,000 packets, 1 incident(s)")
    table.add_column("severity", no_wrap=True)
    table.add_column("detector", no_wrap=True)
    table.add_column("src", no_wrap=True)
    table.add_column("dst", no_wrap=True)
    table.add_column("count", justify="right")
    table.add_column("summary", overflow="fold", min_width=30, ratio=1)
    table.add_row("high", "portscan", SRC, DST, "1024", SUMMARY)
    return table


def _apply_results() -> Table:
    """A device's error in a table cell, as apply and backup print it."""
    table = Table(title="apply by alice")
    for col in ("device", "wave", "result", "reason", "s"):
        table.add_column(col, no_wrap=col in ("device", "result"))
    table.add_row("jed-core-sw1", "1", "unreachable", HOST_KEY_CHANGED, "0.4")
    return table


def test_a_pipe_has_no_edge_unless_columns_says_so() -> None:
    assert _console(0, tty=False)[0].width == PIPE_WIDTH
    assert _console(100, tty=False)[0].width == 100  # $COLUMNS: someone asked for that width
    assert _console(80, tty=True)[0].width == 80  # a terminal: its width


@pytest.mark.parametrize(("columns", "tty"), MODES, ids=MODE_IDS)
def test_the_incident_table_keeps_addresses_and_summaries_whole(columns: int, tty: bool) -> None:
    console, out = _console(columns, tty=tty)
    console.print(_incidents())
    text = ANSI.sub("", out.getvalue())
    assert "…" not in text
    assert whole(SRC) in column_text(text, "src")
    assert whole(DST) in column_text(text, "dst")
    assert whole(SUMMARY) in column_text(text, "summary")
    if columns:
        assert max(len(line) for line in text.splitlines()) <= columns
    else:  # no edge: one line per row, every value whole on it
        (row,) = [line for line in text.splitlines() if line.startswith("│ high")]
        assert all(value in row for value in (SRC, DST, SUMMARY))


@pytest.mark.parametrize(("columns", "tty"), MODES, ids=MODE_IDS)
def test_a_host_key_changed_reason_keeps_both_fingerprints(columns: int, tty: bool) -> None:
    console, out = _console(columns, tty=tty)
    console.print(_apply_results())
    text = ANSI.sub("", out.getvalue())
    assert "…" not in text
    reason = column_text(text, "reason")
    assert whole(HOST_KEY_CHANGED) in reason
    assert OLD_KEY in reason
    assert NEW_KEY in reason
    assert "unreachable" in column_text(text, "result")
    if not columns:
        assert any(HOST_KEY_CHANGED in line for line in text.splitlines())


def test_no_wrap_columns_stay_on_one_line_when_the_table_can_fit_them() -> None:
    console, out = _console(100, tty=True)
    table = Table()
    table.add_column("rule", no_wrap=True)
    table.add_column("finding")
    table.add_row("ios-snmp-no-default-community", "a well-known SNMP community is set " * 4)
    console.print(table)
    assert "ios-snmp-no-default-community" in out.getvalue()


def test_a_rule_on_a_pipe_is_not_pipe_wide() -> None:
    console, out = _console(0, tty=False)
    console.rule("jed-core-sw1: 3 command(s)")
    (line,) = out.getvalue().splitlines()
    assert "jed-core-sw1: 3 command(s)" in line
    assert len(line) == 100


@pytest.mark.parametrize(("columns", "tty"), MODES, ids=MODE_IDS)
def test_inventory_show_is_never_cropped(example_inventory: Path, columns: int, tty: bool) -> None:
    code, out, _ = run(["inventory", "show", "-i", str(example_inventory)], columns, tty=tty)
    assert code == 0, out
    assert "…" not in out
    assert whole("bru-sensor1jed-core-sw1") not in column_text(out, "device")  # sanity
    for value in ("bru-sensor1", "jed-core-sw1", "kbl-acc-sw1"):
        assert value in column_text(out, "device")
    assert "10.13.10.201" in column_text(out, "management")
    assert whole("Europe/Brussels") in column_text(out, "timezone")
    if not columns:
        (row,) = [line for line in out.splitlines() if line.startswith("│ bru-sensor1 ")]
        assert "10.13.10.201" in row
