"""The simulated IOS command line, driven without SSH."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netwarden.lab.sim.device import SimDevice
from netwarden.lab.sim.session import SessionClosedError
from tests.unit.lab.sim_terminal import Terminal, sim_device


@pytest.fixture
def device() -> Iterator[SimDevice]:
    created = sim_device()
    yield created
    created.stop()


@pytest.fixture
def term(device: SimDevice) -> Terminal:
    terminal = Terminal(device).enable()
    assert terminal.session.privilege == 15
    return terminal


def test_prompts_and_enable(device: SimDevice) -> None:
    terminal = Terminal(device)
    assert terminal.type("").endswith("sim-sw002>")
    assert terminal.type("show running-config").count("% Invalid input") == 1
    assert terminal.type("enable").endswith("Password: ")
    assert terminal.type("wrong").endswith("Password: ")
    assert terminal.type("en").endswith("sim-sw002#")
    assert terminal.type("disable").endswith("sim-sw002>")


def test_echo_and_invalid_caret(term: Terminal) -> None:
    output = term.type("show bogus")
    lines = output.split("\n")
    assert lines[0] == "show bogus"
    assert lines[1] == " " * len("sim-sw002#show ") + "^"
    assert lines[2] == "% Invalid input detected at '^' marker."
    assert output.endswith("sim-sw002#")


def test_config_mode_prompts(term: Terminal) -> None:
    assert term.type("conf t").endswith("sim-sw002(config)#")
    assert term.type("interface Gi1/0/1").endswith("sim-sw002(config-if)#")
    assert term.type("line vty 0 4").endswith("sim-sw002(config-line)#")
    assert term.type("vlan 30").endswith("sim-sw002(config-vlan)#")
    assert term.type("hostname lab1").endswith("lab1(config)#")
    assert term.type("end").endswith("lab1#")
    assert term.session.device.log[-1].facility_mnemonic == "SYS-5-CONFIG_I"


def test_filters(term: Terminal) -> None:
    assert term.type("sh run | i ^hostname").split("\n")[1] == "hostname sim-sw002"
    section = term.type("show running-config | section line vty 0 4").split("\n")[1:-1]
    assert section == ["line vty 0 4", " exec-timeout 10 0", " login local", " transport input ssh"]
    begin = term.type("show running-config | begin ^line con").split("\n")
    assert begin[1] == "line con 0"
    excluded = term.type("show running-config | exclude ^ |^!").split("\n")[1:-1]
    assert all(not line.startswith((" ", "!")) for line in excluded)


def test_copy_asks_unless_file_prompt_quiet(term: Terminal, device: SimDevice) -> None:
    assert term.type("copy running-config flash:/backup.cfg").endswith(
        "Destination filename [backup.cfg]? "
    )
    assert "bytes copied" in term.type("")
    assert device.read_file("flash:/backup.cfg") == device.running.render_body().encode()
    term.type("configure terminal")
    term.type("file prompt quiet")
    term.type("end")
    assert "bytes copied" in term.type("copy running-config flash:/backup2.cfg")


def test_configure_replace_and_revert(term: Terminal, device: SimDevice) -> None:
    device.write_file(
        "flash:/new.cfg",
        device.running.render_body().replace("ntp server 10.0.0.2", "ntp server 10.0.0.3").encode(),
    )
    output = term.type("configure replace flash:/new.cfg force revert trigger error timer 5")
    assert "Rollback Done" in output
    assert "ntp server 10.0.0.3" in device.running.flat_lines()
    assert "Timer value: 5 min" in term.type("show archive config rollback timer")
    term.type("configure revert now")
    assert "ntp server 10.0.0.2" in device.running.flat_lines()


def test_replace_without_force_asks(term: Terminal, device: SimDevice) -> None:
    device.write_file("flash:/new.cfg", b"hostname other\nend\n")
    assert term.type("configure replace flash:/new.cfg").endswith("[no]: ")
    assert term.type("n").endswith("sim-sw002#")
    assert device.hostname == "sim-sw002"


def test_drop_fault_during_copy(term: Terminal, device: SimDevice) -> None:
    device.write_file("flash:/m.cfg", b"ntp server 10.5.5.5\n")
    device.faults.drop_on_commit = True
    term.type("conf t")
    term.type("file prompt quiet")
    term.type("end")
    with pytest.raises(SessionClosedError):
        term.type("copy flash:/m.cfg running-config")
    assert term.dropped
    assert "ntp server 10.5.5.5" in device.running.flat_lines()


def test_exit_closes(term: Terminal) -> None:
    with pytest.raises(SessionClosedError):
        term.type("exit")
    assert term.session.closed


# ------------------------------------------------ show keywords, whatever the abbreviation

_CONFIG_SHOWS = (
    "show r",
    "show ru",
    "show run",
    "show running-config",
    "show st",
    "show sta",
    "show startup",
    "show startup-config",
    "show ru int Gi1/0/1",
    "show arch",
)


@pytest.mark.parametrize("command", _CONFIG_SHOWS)
def test_config_shows_are_refused_below_privilege_15(device: SimDevice, command: str) -> None:
    terminal = Terminal(device)
    assert terminal.session.privilege == 1
    caret = " " * len("sim-sw002>show ") + "^"
    expected = f"{command}\n{caret}\n% Invalid input detected at '^' marker.\n\nsim-sw002>"
    assert terminal.type(command) == expected
    assert terminal.type(f"{command} | include hostname") == expected.replace(
        command, f"{command} | include hostname", 1
    )


@pytest.mark.parametrize(
    ("typed", "full"),
    [
        ("show r", "show running-config"),
        ("show ru", "show running-config"),
        ("show run", "show running-config"),
        ("sh running", "show running-config"),
        ("show run all", "show running-config all"),
        ("show st", "show startup-config"),
        ("show sta", "show startup-config"),
        ("show startup", "show startup-config"),
        ("show ru int gi1/0/2", "show running-config interface GigabitEthernet1/0/2"),
        ("show arch", "show archive"),
    ],
)
def test_config_shows_render_alike_whatever_the_abbreviation(
    term: Terminal, device: SimDevice, typed: str, full: str
) -> None:
    term.type("configure terminal")
    term.type("ntp server 10.9.9.9")
    term.type("end")
    term.type("write memory")

    def body(command: str) -> str:
        return term.type(command).split("\n", 1)[1]

    assert body(typed) == body(full)
    assert "% Invalid" not in body(typed)
    rendered = {
        "show running-config": device.render_running,
        "show startup-config": device.render_startup,
    }
    if full in rendered:
        assert body(typed) == rendered[full]().rstrip("\n") + "\nsim-sw002#"


def test_running_config_interface_is_the_section_of_the_running_config(
    term: Terminal, device: SimDevice
) -> None:
    output = term.type("show running-config interface Gi1/0/1").split("\n")[1:-1]
    running = device.render_running().split("\n")
    start = running.index("interface GigabitEthernet1/0/1")
    end = next(i for i in range(start + 1, len(running)) if not running[i].startswith(" "))
    assert output[:3] == ["Building configuration...", "", output[2]]
    assert output[2].startswith("Current configuration : ")
    assert output[3:] == ["!", *running[start:end], "end"]
    assert term.type("show running-config interface").split("\n")[1] == "% Incomplete command."
    assert "% Invalid input" in term.type("show running-config interface Gi9/9/9")


def test_extra_words_after_a_config_show_are_invalid_under_them(term: Terminal) -> None:
    for command, word in (("show run bogus", "bogus"), ("show startup-config x", "x")):
        lines = term.type(command).split("\n")
        assert lines[1] == " " * len(f"sim-sw002#{command[: command.rindex(word)]}") + "^"
        assert lines[2] == "% Invalid input detected at '^' marker."


@pytest.mark.parametrize("privileged", [False, True], ids=["user", "enable"])
@pytest.mark.parametrize("command", ["show s", "show in", "sh ip a"])
def test_ambiguous_show_abbreviations_get_the_ios_error(
    device: SimDevice, privileged: bool, command: str
) -> None:
    terminal = Terminal(device)
    if privileged:
        terminal.type("enable")
        terminal.type("en")
    prompt = "sim-sw002#" if privileged else "sim-sw002>"
    assert terminal.type(command) == f'{command}\n% Ambiguous command:  "{command}"\n{prompt}'
    assert terminal.type(f"{command} | include x") == (
        f'{command} | include x\n% Ambiguous command:  "{command}"\n{prompt}'
    )


def test_show_privilege(device: SimDevice) -> None:
    terminal = Terminal(device)
    assert terminal.type("show privilege").split("\n")[1] == "Current privilege level is 1"
    terminal.type("enable")
    terminal.type("en")
    assert terminal.type("sh priv").split("\n")[1] == "Current privilege level is 15"


def test_show_alone_asks_for_show_help(term: Terminal) -> None:
    assert term.type("sh") == 'sh\n% Type "show ?" for a list of subcommands\nsim-sw002#'


def test_an_invalid_line_in_a_sub_mode_stays_in_the_sub_mode(term: Terminal) -> None:
    term.type("conf t")
    term.type("interface Gi1/0/1")
    output = term.type("frobnicate the port")
    caret = " " * len("sim-sw002(config-if)#") + "^"
    assert output == (
        f"frobnicate the port\n{caret}\n% Invalid input detected at '^' marker.\n\n"
        "sim-sw002(config-if)#"
    )
    assert term.type("description still here").endswith("sim-sw002(config-if)#")
    node = term.session.device.running.find("interface GigabitEthernet1/0/1")
    assert node is not None
    assert "description still here" in [c.text for c in node.children]
    # a global command still leaves the sub-mode, as on IOS
    assert term.type("hostname sim-sw002").endswith("sim-sw002(config)#")


def test_the_caret_points_at_the_first_bad_word(term: Terminal) -> None:
    term.type("conf t")
    output = term.type("no frobnicate")
    assert output.split("\n")[1] == " " * len("sim-sw002(config)#no ") + "^"
    term.type("end")
    output = term.type("show ip bogus")
    assert output.split("\n")[1] == " " * len("sim-sw002#show ip ") + "^"


def test_an_incomplete_command_is_followed_by_a_blank_line(term: Terminal) -> None:
    term.type("conf t")
    assert term.type("hostname") == "hostname\n% Incomplete command.\n\nsim-sw002(config)#"
