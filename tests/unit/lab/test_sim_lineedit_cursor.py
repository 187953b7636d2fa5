"""Cursor movement and editing in the middle of a line, as IOS's line editor does them.

Exact echo bytes for each key (a cursor move left is ``\\b``, one right re-sends
the character passed over, a change in the middle redraws the rest of the line
and puts the cursor back with backspaces), and a VT100 screen (pyte) that shows
the prompt and the edited line with the cursor where the editor has it, whatever
keys are typed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netwarden.lab.sim.device import SimDevice
from tests.unit.lab.sim_terminal import Terminal, sim_device
from tests.unit.lab.vt100 import Vt100

PROMPT = "sim-sw002#"
USER_PROMPT = "sim-sw002>"
PRIVILEGE = f"Current privilege level is 15\n{PROMPT}"
LEFT, RIGHT, LEFT_SS3, RIGHT_SS3 = "\x1b[D", "\x1b[C", "\x1bOD", "\x1bOC"
CTRL_A, CTRL_B, CTRL_D, CTRL_E, CTRL_F = "\x01", "\x02", "\x04", "\x05", "\x06"
CTRL_K, CTRL_R, CTRL_T, CTRL_U, CTRL_W, CTRL_Y, CTRL_Z = (
    "\x0b", "\x12", "\x14", "\x15", "\x17", "\x19", "\x1a",
)  # fmt: skip
ESC_B, ESC_F, ESC_D = "\x1bb", "\x1bf", "\x1bd"


@pytest.fixture(scope="module")
def device() -> Iterator[SimDevice]:
    created = sim_device()
    yield created
    created.stop()


@pytest.fixture
def kbd(device: SimDevice) -> Iterator[Terminal]:
    keyboard = Terminal(device)
    keyboard.keys("enable\r")
    assert keyboard.keys("en\r").endswith(PROMPT)
    yield keyboard
    keyboard.session.close()


def test_arrows_and_ctrl_b_f_move_one_character(kbd: Terminal) -> None:
    kbd.keys("show")
    assert [kbd.keys(k) for k in (LEFT, CTRL_B, LEFT_SS3)] == ["\b", "\b", "\b"]
    assert [kbd.keys(k) for k in (RIGHT, CTRL_F, RIGHT_SS3)] == ["h", "o", "w"]
    assert kbd.keys(RIGHT) == "\a"  # nothing to the right of the end
    assert kbd.keys(CTRL_A) == "\b" * 4
    assert kbd.keys(LEFT) == "\a"
    assert kbd.keys(CTRL_E) == "show"


def test_typing_in_the_middle_redraws_the_rest_and_puts_the_cursor_back(kbd: Terminal) -> None:
    kbd.keys("show privlege")
    assert kbd.keys(LEFT * 4) == "\b" * 4
    assert kbd.keys("i") == "ilege" + "\b" * 4
    assert kbd.keys("\r").endswith(PRIVILEGE)  # the whole line runs, cursor anywhere
    assert kbd.keys("\x1b[A") == "show privilege"  # and history has the edited line


def test_ctrl_a_then_typing_inserts_at_the_start(kbd: Terminal) -> None:
    kbd.keys("how privilege")
    assert kbd.keys(CTRL_A) == "\b" * 13
    assert kbd.keys("s") == "show privilege" + "\b" * 13
    assert kbd.keys("\r").endswith(PRIVILEGE)


def test_backspace_in_the_middle_closes_the_gap(kbd: Terminal) -> None:
    kbd.keys("show privvilege")
    kbd.keys(LEFT * 5)
    assert kbd.keys("\x7f") == "\bilege \b" + "\b" * 5
    assert kbd.keys("\r").endswith(PRIVILEGE)


def test_ctrl_d_deletes_the_character_under_the_cursor(kbd: Terminal) -> None:
    kbd.keys("show pprivilege")
    kbd.keys(CTRL_A)
    assert kbd.keys(ESC_F) == "show"  # the end of the word
    assert kbd.keys(CTRL_F) == " "
    assert kbd.keys(CTRL_D) == "privilege " + "\b" * 10
    assert kbd.keys(CTRL_E + CTRL_D) == "privilege\a"  # nothing under the cursor at the end
    assert kbd.keys("\r").endswith(PRIVILEGE)


def test_ctrl_k_kills_to_the_end_and_ctrl_y_puts_it_back(kbd: Terminal) -> None:
    kbd.keys("show privilege now")
    assert kbd.keys(ESC_B) == "\b" * 3  # the start of the word
    kbd.keys(CTRL_B)
    assert kbd.keys(CTRL_K) == " " * 4 + "\b" * 4
    assert kbd.keys(CTRL_Y) == " now"
    assert kbd.keys(CTRL_W) == "\b \b" * 3
    assert kbd.keys("\b\r").endswith(PRIVILEGE)


def test_ctrl_u_deletes_from_the_start_to_the_cursor(kbd: Terminal) -> None:
    kbd.keys("bogus show privilege" + CTRL_A + ESC_F + CTRL_F)
    assert kbd.keys(CTRL_U) == "\b" * 6 + "show privilege" + " " * 6 + "\b" * 20
    assert kbd.keys("\r").endswith(PRIVILEGE)


def test_ctrl_w_deletes_the_word_before_the_cursor(kbd: Terminal) -> None:
    kbd.keys("show bogus privilege")
    assert kbd.keys(ESC_B) == "\b" * 9
    assert kbd.keys(CTRL_W) == "\b" * 6 + "privilege" + " " * 6 + "\b" * 15
    assert kbd.keys("\r").endswith(PRIVILEGE)


def test_esc_d_deletes_to_the_end_of_the_word(kbd: Terminal) -> None:
    kbd.keys("show bogus privilege" + CTRL_A + ESC_F)
    assert kbd.keys(ESC_D) == " privilege" + " " * 6 + "\b" * 16
    assert kbd.keys("\r").endswith(PRIVILEGE)


def test_ctrl_t_swaps_and_esc_l_lowers_a_word(kbd: Terminal) -> None:
    assert kbd.keys("shwo" + CTRL_T) == "shwo" + "\b \b" * 2 + "ow"
    kbd.keys(" PRIVILEGE" + ESC_B)
    assert kbd.keys("\x1bl") == "privilege"
    assert kbd.keys("\r").endswith(PRIVILEGE)


def test_question_mark_helps_on_the_text_before_the_cursor(kbd: Terminal) -> None:
    kbd.keys("show privilege" + ESC_B)
    output = kbd.keys("?")
    assert output.startswith("?\n")
    assert "  privilege " in output  # the keywords after "show", not after "privilege"
    assert "  running-config " in output
    assert output.endswith(f"\n\n{PROMPT}show privilege" + "\b" * 9)  # the cursor put back
    assert kbd.keys("\r").endswith(PRIVILEGE)


def test_tab_completes_the_word_before_the_cursor(kbd: Terminal) -> None:
    kbd.keys("sh privilege" + CTRL_A + CTRL_F * 2)
    assert kbd.keys("\t") == "ow privilege" + "\b" * 10  # no second space before "privilege"
    assert kbd.keys("\r").endswith(PRIVILEGE)


def test_history_replaces_a_line_being_edited_in_the_middle(kbd: Terminal) -> None:
    kbd.keys("show privilege\r")
    screen = Vt100()
    screen.feed(kbd.raw)
    for key in ("show clock", CTRL_A, RIGHT, "\x1b[A"):
        kbd.keys(key)
        screen.feed(kbd.raw)
    assert screen.line == PROMPT + "show privilege"
    assert screen.column == len(PROMPT + "show privilege")
    assert kbd.keys("\r").endswith(PRIVILEGE)


def test_ctrl_r_redraws_with_the_cursor_where_it_was(kbd: Terminal) -> None:
    kbd.keys("show clock" + CTRL_B * 2)
    assert kbd.keys(CTRL_R) == f"\n{PROMPT}show clock\b\b"


def test_ctrl_z_in_exec_mode_keeps_the_line_and_the_cursor(kbd: Terminal) -> None:
    kbd.keys("how privilege" + CTRL_A)
    assert kbd.keys(CTRL_Z) == ""
    assert kbd.keys("s") == "show privilege" + "\b" * 13
    assert kbd.keys("\r").endswith(PRIVILEGE)


def test_ctrl_z_in_config_mode_runs_the_whole_line(kbd: Terminal) -> None:
    kbd.keys("conf t\rinterface Gi1/0/3\r")
    kbd.keys("description left" + ESC_B)
    assert kbd.keys(CTRL_Z).endswith(f"^Z\n{PROMPT}")
    node = kbd.session.device.running.find("interface GigabitEthernet1/0/3")
    assert node is not None
    assert "description left" in [c.text for c in node.children]


def test_escape_then_return_still_ends_the_line(kbd: Terminal) -> None:
    kbd.keys("show privilege\x1b")
    assert kbd.keys("\r").endswith(PRIVILEGE)


def test_editing_a_password_echoes_nothing(device: SimDevice) -> None:
    keyboard = Terminal(device)
    assert keyboard.keys("enable\r").endswith("Password: ")
    assert keyboard.keys("n" + CTRL_A + "e" + LEFT + RIGHT + CTRL_E) == ""
    assert keyboard.keys("\r") == f"\n{PROMPT}"  # the secret typed was "en"
    keyboard.session.close()


# Keys a person may press while editing (Return left out: it runs the line).
EDIT_KEYS = (
    "s", "h", "o", "w", " ", "x",
    LEFT, RIGHT, LEFT_SS3, RIGHT_SS3, CTRL_A, CTRL_E, CTRL_B, CTRL_F,
    "\x08", "\x7f", CTRL_D, CTRL_K, CTRL_U, "\x18", CTRL_W, CTRL_Y, CTRL_T,
    ESC_B, ESC_F, ESC_D, "\x1bc", "\x1bl", "\x1bu", "\x1bB", "\x1bF",
    CTRL_R, "\x0c", "?", "\t", "\x10", "\x0e", "\x1b[A", "\x1b[B", "\x03",
    "\x1b[1;5D", "\x1b[3~",
)  # fmt: skip


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(keys=st.lists(st.sampled_from(EDIT_KEYS), max_size=40))
def test_a_vt100_shows_the_line_and_cursor_the_editor_has(
    device: SimDevice, keys: list[str]
) -> None:
    """Whatever keys are typed, the terminal shows the prompt, the line and the cursor right."""
    keyboard = Terminal(device)
    screen = Vt100()
    screen.feed("".join(keyboard.out))
    for line in ("show clock\r", "show privilege\r"):  # history to recall
        keyboard.keys(line)
        screen.feed(keyboard.raw)
    try:
        for key in keys:
            keyboard.keys(key)
            screen.feed(keyboard.raw)
            buffer, cursor = keyboard.session._buffer, keyboard.session._cursor
            if len(USER_PROMPT + buffer) >= 80:
                break  # a line longer than the screen wraps (IOS scrolls it instead)
            assert screen.line == (USER_PROMPT + buffer).rstrip(), keys
            assert screen.column == len(USER_PROMPT) + cursor, keys
    finally:
        keyboard.session.close()
