"""A person at an interactive terminal: paramiko ``invoke_shell`` (a pty) on the simulator.

Each key is sent alone and its effect read back before the next one, as a
person typing sees it: the echo of each character, ``?`` help at once (without
Return), Ctrl-U erasing the line, Tab completing, arrow keys recalling history,
and editing in the middle of the line read on a VT100 screen model (pyte).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import paramiko
import pytest

from netwarden.lab.sim.device import SimDevice
from netwarden.lab.sim.fleet import Credentials, SimFleet
from tests.unit.lab.vt100 import Vt100

pytestmark = pytest.mark.integration

READ_TIMEOUT = 10.0


class Screen:
    """What the terminal received, read up to an expected text."""

    def __init__(self, channel: paramiko.Channel) -> None:
        self.channel = channel
        self.pending = ""

    def until(self, expected: str) -> str:
        """Everything received up to and including ``expected`` (fails after a timeout)."""
        deadline = time.monotonic() + READ_TIMEOUT
        while expected not in self.pending:
            if time.monotonic() > deadline:
                pytest.fail(f"never received {expected!r}; got {self.pending!r}")
            if self.channel.recv_ready():
                self.pending += self.channel.recv(4096).decode()
            else:
                time.sleep(0.01)
        head, _sep, self.pending = self.pending.partition(expected)
        return head + expected

    def key(self, char: str, expected: str) -> str:
        self.channel.send(char.encode())
        return self.until(expected)


@pytest.fixture
def screen(
    sim_fleet: SimFleet, sim_device: SimDevice, sim_credentials: Credentials
) -> Iterator[Screen]:
    client = paramiko.SSHClient()
    host = f"[{sim_device.spec.address}]:{sim_device.bound_port}"
    key = sim_device.host_key
    assert key is not None
    client.get_host_keys().add(host, key.get_name(), key)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        sim_device.spec.address,
        port=sim_device.bound_port,
        username=sim_credentials.username,
        password=sim_credentials.password,
        look_for_keys=False,
        allow_agent=False,
        timeout=10,
    )
    channel = client.invoke_shell(term="vt100", width=80, height=24)
    terminal = Screen(channel)
    terminal.until(f"{sim_device.hostname}>")
    channel.send(b"enable\r")
    terminal.until("Password: ")
    channel.send(f"{sim_credentials.enable_secret}\r".encode())
    # the secret is not echoed: only the line end, then the privileged prompt
    assert terminal.until(f"{sim_device.hostname}#") == f"\r\n{sim_device.hostname}#"
    yield terminal
    client.close()


def test_each_key_is_echoed_as_it_arrives(screen: Screen, sim_device: SimDevice) -> None:
    for char in "show privilege":
        assert screen.key(char, char) == char  # nothing else: the echo of that key
    output = screen.key("\r", f"{sim_device.hostname}#")
    assert output == f"\r\nCurrent privilege level is 15\r\n{sim_device.hostname}#"


def test_question_mark_helps_at_once(screen: Screen, sim_device: SimDevice) -> None:
    for char in "show ":
        screen.key(char, char)
    help_text = screen.key("?", f"{sim_device.hostname}#show ")
    assert help_text.startswith("?\r\n")
    assert "  privilege " in help_text
    assert "Show current privilege level" in help_text
    assert "  running-config " in help_text
    # the line is still there: finish it and run it
    for char in "priv":
        screen.key(char, char)
    output = screen.key("\r", f"{sim_device.hostname}#")
    assert "Current privilege level is 15" in output


def test_ctrl_u_erases_the_line(screen: Screen, sim_device: SimDevice) -> None:
    for char in "show bogus":
        screen.key(char, char)
    assert screen.key("\x15", "\b \b" * len("show bogus")) == "\b \b" * len("show bogus")
    for char in "show clock":
        screen.key(char, char)
    output = screen.key("\r", f"{sim_device.hostname}#")
    assert "Invalid input" not in output


def test_tab_completes_and_arrows_recall(screen: Screen, sim_device: SimDevice) -> None:
    for char in "sh":
        screen.key(char, char)
    assert screen.key("\t", "ow ") == "ow "
    for char in "priv":
        screen.key(char, char)
    assert screen.key("\t", "ilege ") == "ilege "
    screen.key("\r", f"{sim_device.hostname}#")
    assert screen.key("\x1b[A", "show privilege ") == "show privilege "
    output = screen.key("\r", f"{sim_device.hostname}#")
    assert "Current privilege level is 15" in output


def test_cursor_keys_edit_the_middle_of_the_line_on_a_vt100(
    screen: Screen, sim_device: SimDevice
) -> None:
    """Arrows, Ctrl-A/E/F, Esc B, Ctrl-K and typing mid-line, seen on a VT100 (pyte)."""
    prompt = f"{sim_device.hostname}#"
    vt = Vt100()
    vt.feed(prompt)

    def press(key: str, echo: str, line: str, cursor: int) -> None:
        vt.feed(screen.key(key, echo))
        assert (vt.line, vt.column) == ((prompt + line).rstrip(), len(prompt) + cursor), key

    for at, char in enumerate("sho privlege", start=1):
        press(char, char, "sho privlege"[:at], at)
    for at in range(11, 7, -1):
        press("\x1b[D", "\b", "sho privlege", at)
    press("i", "ilege" + "\b" * 4, "sho privilege", 9)
    press("\x01", "\b" * 9, "sho privilege", 0)
    for at in range(1, 4):
        press("\x06", "sho"[at - 1], "sho privilege", at)
    press("w", "w privilege" + "\b" * 10, "show privilege", 4)
    press("\x05", " privilege", "show privilege", 14)
    output = screen.key("\r", prompt)
    assert "Current privilege level is 15" in output
    vt.feed(output)

    for at, char in enumerate("show clock extra", start=1):
        press(char, char, "show clock extra"[:at], at)
    press("\x1bb", "\b" * 5, "show clock extra", 11)
    press("\x1b[D", "\b", "show clock extra", 10)
    press("\x0b", " " * 6 + "\b" * 6, "show clock", 10)
    output = screen.key("\r", prompt)
    assert "Invalid input" not in output
    assert str(sim_device.clock.now().year) in output
