"""The simulator's per-keystroke line editor, driven key by key without SSH."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from netwarden.lab.sim.device import SimDevice
from tests.unit.lab.sim_terminal import Terminal, sim_device

PROMPT = "sim-sw002#"
ERASE = "\b \b"


@pytest.fixture
def device() -> Iterator[SimDevice]:
    created = sim_device()
    yield created
    created.stop()


@pytest.fixture
def kbd(device: SimDevice) -> Terminal:
    keyboard = Terminal(device)
    keyboard.keys("enable\r")
    assert keyboard.keys("en\r").endswith(PROMPT)
    return keyboard


def test_each_key_is_echoed_at_once(kbd: Terminal) -> None:
    assert [kbd.keys(c) for c in "show"] == ["s", "h", "o", "w"]
    assert kbd.keys("\x7f") == ERASE
    assert kbd.keys("\x08") == ERASE
    assert kbd.keys("ow clock") == "ow clock"


@pytest.mark.parametrize("ending", ["\r", "\n", "\r\n"], ids=["CR", "LF", "CRLF"])
def test_cr_lf_and_crlf_end_one_line(kbd: Terminal, ending: str) -> None:
    output = kbd.keys(f"show privilege{ending}show privilege{ending}")
    assert output.count("Current privilege level is 15") == 2
    assert output.count(PROMPT) == 2  # CRLF is one line end, not two


def test_pasted_block_runs_line_by_line_as_before(kbd: Terminal) -> None:
    output = kbd.keys("conf t\rinterface Gi1/0/1\rdescription pasted\rend\rshow privilege\r")
    assert output.splitlines()[0] == "conf t"
    assert "sim-sw002(config-if)#description pasted\nsim-sw002(config-if)#end\n" in output
    assert output.endswith(f"Current privilege level is 15\n{PROMPT}")
    node = kbd.session.device.running.find("interface GigabitEthernet1/0/1")
    assert node is not None
    assert "description pasted" in [c.text for c in node.children]


def test_question_mark_lists_the_next_keywords(kbd: Terminal) -> None:
    kbd.keys("show ")
    output = kbd.keys("?")
    assert output.startswith("?\n")
    assert "  privilege " in output
    assert "Show current privilege level" in output
    assert "  running-config " in output
    assert output.endswith(f"\n\n{PROMPT}show ")  # help, a blank line, the line again
    assert kbd.keys("privilege\r").endswith(f"Current privilege level is 15\n{PROMPT}")


def test_question_mark_completes_a_partial_word(kbd: Terminal) -> None:
    kbd.keys("show v")
    assert kbd.keys("?") == f"?\nversion  vlan  vrf  \n\n{PROMPT}show v"


def test_question_mark_at_the_end_of_a_command(kbd: Terminal) -> None:
    kbd.keys("show privilege ")
    assert kbd.keys("?") == f"?\n  |  Output modifiers\n  <cr>\n\n{PROMPT}show privilege "


def test_running_config_help_lists_all(kbd: Terminal) -> None:
    """cisco.ios's cliconf sends 'show running-config ?' to learn the defaults flag."""
    output = kbd.keys("show running-config ?\r")
    assert "  all " in output
    assert output.rstrip().endswith("end") or output.endswith(PROMPT)


def test_question_mark_after_a_bad_word_shows_the_caret(kbd: Terminal) -> None:
    kbd.keys("show bogus ")
    output = kbd.keys("?")
    caret = " " * len(f"{PROMPT}show ") + "^"
    assert output.startswith(f"?\n{caret}\n% Invalid input detected at '^' marker.")


def test_question_mark_in_config_mode_uses_the_mode_grammar(kbd: Terminal) -> None:
    kbd.keys("conf t\rinterface Gi1/0/1\r")
    kbd.keys("switchport mode ")
    output = kbd.keys("?")
    assert "  access " in output
    assert "  trunk " in output
    assert output.endswith("sim-sw002(config-if)#switchport mode ")


def test_question_mark_is_text_inside_a_banner(kbd: Terminal) -> None:
    kbd.keys("conf t\rbanner motd #\r")
    assert kbd.keys("Who goes there?") == "Who goes there?"
    kbd.keys("\r#\rend\r")
    banner = kbd.session.device.running.top_starting("banner motd")
    assert "Who goes there?" in banner[0].text


def test_tab_completes_a_unique_word(kbd: Terminal) -> None:
    kbd.keys("sh")
    assert kbd.keys("\t") == "ow "
    kbd.keys("ru")
    assert kbd.keys("\t") == "nning-config "
    kbd.keys("s")  # startup-config? no: after running-config come all and interface
    assert kbd.keys("\t") == "\a"


def test_ctrl_u_and_ctrl_w_erase(kbd: Terminal) -> None:
    kbd.keys("show ip interface")
    assert kbd.keys("\x17") == ERASE * len("interface")
    assert kbd.keys("\x15") == ERASE * len("show ip ")
    assert kbd.keys("show privilege\r").endswith(f"Current privilege level is 15\n{PROMPT}")


def test_ctrl_z_runs_the_line_then_ends_config_mode(kbd: Terminal) -> None:
    kbd.keys("conf t\rinterface Gi1/0/2\r")
    output = kbd.keys("description set by ctrl-z\x1a")
    assert output.endswith(f"^Z\n{PROMPT}")
    node = kbd.session.device.running.find("interface GigabitEthernet1/0/2")
    assert node is not None
    assert "description set by ctrl-z" in [c.text for c in node.children]
    assert kbd.session.applier is None


def test_ctrl_c_abandons_the_line_and_config_mode(kbd: Terminal) -> None:
    kbd.keys("conf t\rhostname never")
    assert kbd.keys("\x03").endswith(f"^C\n{PROMPT}")
    assert kbd.session.device.hostname == "sim-sw002"


def test_history_with_arrows_and_ctrl_p_n(kbd: Terminal) -> None:
    kbd.keys("show clock\rshow privilege\r")
    assert kbd.keys("\x1b[A") == "show privilege"
    assert kbd.keys("\x10") == ERASE * len("privilege") + "clock"
    assert kbd.keys("\x0e") == ERASE * len("clock") + "privilege"
    assert kbd.keys("\x1b[B") == ERASE * len("show privilege")
    kbd.keys("\x1b[A")
    assert kbd.keys("\r").endswith(f"Current privilege level is 15\n{PROMPT}")


def test_config_mode_has_its_own_history(kbd: Terminal) -> None:
    kbd.keys("show clock\rconf t\rhostname sim-sw002\r")
    assert kbd.keys("\x1b[A") == "hostname sim-sw002"
    kbd.keys("\x15end\r")
    assert kbd.keys("\x1b[A") == "conf t"


def test_other_escape_sequences_do_not_reach_the_line(kbd: Terminal) -> None:
    """Ctrl-arrows and Delete (sequences with parameters) are not IOS keys: read, ignored."""
    assert kbd.keys("show\x1b[1;5D\x1b[3~\x1b[1;5C privilege") == "show privilege"
    assert kbd.keys("\r").endswith(f"Current privilege level is 15\n{PROMPT}")


def test_password_is_not_echoed(device: SimDevice) -> None:
    keyboard = Terminal(device)
    assert keyboard.keys("enable\r").endswith("Password: ")
    assert keyboard.keys("en") == ""
    assert keyboard.keys("\r") == f"\n{PROMPT}"


def test_help_shows_arguments_and_no_cr_where_one_is_required(kbd: Terminal) -> None:
    kbd.keys("terminal length ")
    assert kbd.keys("?") == (
        f"?\n  <0-512>  Number of lines on screen (0 for no pausing)\n\n{PROMPT}terminal length "
    )
    kbd.keys("\x15conf t\rinterface ")
    output = kbd.keys("?")
    assert re.search(r"^  GigabitEthernet +GigabitEthernet IEEE 802.3z$", output, re.M)
    assert "<cr>" not in output
