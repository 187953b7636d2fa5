"""Hostile bytes in human output: control characters shown escaped, CSV cells never formulas."""

from __future__ import annotations

import csv
import io

import pytest

from netwarden.textsafe import FORMULA_STARTS, csv_cell, printable

CONTROLS = [chr(c) for c in range(0x20) if chr(c) not in "\n\t"] + [
    chr(c) for c in range(0x7F, 0xA0)
]
BIDI = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]


@pytest.mark.parametrize("char", CONTROLS + BIDI, ids=lambda c: f"U+{ord(c):04X}")
def test_every_control_and_bidi_character_is_shown_escaped(char: str) -> None:
    out = printable(f"a{char}b")
    assert char not in out
    assert out == f"a\\x{ord(char):02x}b" if ord(char) < 0x100 else f"a\\u{ord(char):04x}b"


def test_layout_is_kept_in_multiline_text_only() -> None:
    assert printable("a\n\tb") == "a\n\tb"
    assert printable("a\n\tb", multiline=False) == "a\\x0a\\x09b"


def test_ordinary_text_is_unchanged() -> None:
    text = "interface Gi1/0/1 \u062a\u0646\u0628\u064a\u0647 AVERTISSEMENT : réservé \\x1b"
    assert printable(text) == text


@pytest.mark.parametrize(
    "value",
    ['=HYPERLINK("http://x","y")', "@SUM(1+1)", "+1", "-1", "\tx", "\uff1dcmd()"],
)
def test_formula_starts_are_neutralised(value: str) -> None:
    cell = csv_cell(value)
    assert cell.startswith("'")
    assert cell.removeprefix("'") == value


def test_a_cr_start_is_escaped_and_other_cells_are_kept() -> None:
    assert csv_cell("\rx") == "\\x0dx"
    assert csv_cell("jed-acc-sw1") == "jed-acc-sw1"
    assert csv_cell(None) == ""
    assert csv_cell(3) == "3"


def test_a_spreadsheet_sees_text() -> None:
    buf = io.StringIO()
    csv.writer(buf).writerow([csv_cell(v) for v in ("=1+1", "@x", "ok", "a\x1b[2Jb")])
    (row,) = csv.reader(io.StringIO(buf.getvalue()))
    assert not any(cell.startswith(FORMULA_STARTS) for cell in row)
    assert row[3] == "a\\x1b[2Jb"
