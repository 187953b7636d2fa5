"""NAPALM's real IOS driver wired to show output without SSH (test helper, not a test module).

NAPALM's own driver tests do the same: the driver's Netmiko connection is replaced
by an object whose ``send_command`` answers from data. Here the data is either the
simulator's renderers (:func:`sim_driver`) or a folder of real device outputs named
as NAPALM names them (:func:`file_driver`). The getters and their parsers run
unmodified.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from napalm.ios.ios import IOSDriver

from netwarden.lab.sim.showmodel import ShowContext
from netwarden.lab.sim.shows import render_show

INVALID = "% Invalid input detected at '^' marker."


def _section(text: str, regex: re.Pattern[str]) -> str:
    """IOS ``| section``: each matching line with the lines indented below it."""
    lines = text.splitlines()
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if not regex.search(line):
            index += 1
            continue
        depth = len(line) - len(line.lstrip())
        kept.append(line)
        index += 1
        while index < len(lines) and len(lines[index]) - len(lines[index].lstrip()) > depth:
            kept.append(lines[index])
            index += 1
    return "\n".join(kept)


def apply_pipe(text: str, pipe: str) -> str:
    """Apply one ``| include|exclude|section|begin REGEX`` filter, as IOS does."""
    verb, _, pattern = pipe.strip().partition(" ")
    regex = re.compile(pattern.strip())
    lines = text.splitlines()
    if "include".startswith(verb):
        return "\n".join(line for line in lines if regex.search(line))
    if "exclude".startswith(verb):
        return "\n".join(line for line in lines if not regex.search(line))
    if "section".startswith(verb):
        return _section(text, regex)
    if "begin".startswith(verb):
        for index, line in enumerate(lines):
            if regex.search(line):
                return "\n".join(lines[index:])
        return ""
    return INVALID


def run_show(command: str, ctx: ShowContext) -> str:
    """What the simulator prints for ``command`` (``show ...`` with optional pipes)."""
    head, *pipes = command.split("|")
    words = head.split()
    if not words or not "show".startswith(words[0].lower()) or len(words[0]) < 2:
        return INVALID
    output = render_show(words[1:], ctx)
    if output is None:
        return INVALID
    for pipe in pipes:
        output = apply_pipe(output, pipe)
    return output


class FakeConnection:
    """Stands in for NAPALM's Netmiko connection; records every command sent."""

    def __init__(self, answer: Callable[[str], str]) -> None:
        self._answer = answer
        self.commands: list[str] = []

    def send_command(self, command: str, **_kwargs: object) -> str:
        self.commands.append(command)
        return self._answer(command)


def _driver(answer: Callable[[str], str]) -> IOSDriver:
    driver = IOSDriver("sim.invalid", "admin", "secret")
    driver.device = FakeConnection(answer)
    return driver


def sim_driver(ctx: ShowContext) -> IOSDriver:
    """A NAPALM IOS driver whose device is the simulator's show renderers for ``ctx``."""
    return _driver(lambda command: run_show(command, ctx))


def file_name(command: str) -> str:
    """The file NAPALM's mocked-data tests store a command's output in."""
    return re.sub("[^a-zA-Z0-9]", "_", command)[0:150] + ".txt"


def file_driver(folder: Path) -> IOSDriver:
    """A NAPALM IOS driver answering from real outputs in ``folder`` (invalid when absent)."""

    def answer(command: str) -> str:
        path = folder / file_name(command)
        return path.read_text() if path.exists() else INVALID

    return _driver(answer)
