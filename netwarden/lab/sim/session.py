"""The IOS command line of one SSH session: prompts, modes, echo, enable, config mode.

A :class:`CliSession` is fed the characters the client types and writes back what
a Cisco IOS terminal would: the echo of each key (the line editor of
:mod:`netwarden.lab.sim.lineedit`, with ``?`` help and Tab completion from
:mod:`netwarden.lab.sim.clihelp`), the command's output, the next prompt. Exec
commands live in :mod:`netwarden.lab.sim.execcmds`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from netwarden.lab.sim.clihelp import HelpState, completion, help_text
from netwarden.lab.sim.config import ConfigApplier
from netwarden.lab.sim.device import SimDevice
from netwarden.lab.sim.execcmds import INCOMPLETE, INVALID, ExecCommands, invalid_at, word_column
from netwarden.lab.sim.lineedit import LineEditing

logger = logging.getLogger(__name__)

_USER_WORDS = (
    "enable", "disable", "exit", "logout", "quit", "terminal", "show", "ping", "traceroute",
)  # fmt: skip
_PRIV_WORDS = (
    *_USER_WORDS,
    "configure", "copy", "write", "dir", "more", "verify", "delete", "archive", "clear",
)  # fmt: skip
_ENABLE_TRIES = 3


class SessionClosedError(Exception):
    """The session ended (``exit``) or was dropped by a fault."""


class CliSession(LineEditing, ExecCommands):
    """One interactive (or single-command) IOS session on a device."""

    def __init__(
        self,
        device: SimDevice,
        username: str,
        source: str,
        *,
        write: Callable[[str], None],
        drop: Callable[[], None],
    ) -> None:
        self.device = device
        self.username = username
        self.source = source
        self._write = write
        self._drop = drop
        self.privilege = 15 if device.privilege(username) >= 15 else 1
        self.line_no = device.open_line(username, source)
        self.applier: ConfigApplier | None = None
        self.config_changed = False
        self.closed = False
        self._init_editor()
        self._held: list[str] | None = None
        self._pending: Callable[[str], str] | None = None
        self._pending_echo = True

    # --------------------------------------------------------------- output
    def write(self, text: str) -> None:
        if self.closed:
            return
        if self._held is not None:
            self._held.append(text)
        else:
            self._write(text.replace("\r\n", "\n").replace("\n", "\r\n"))

    def _flush(self) -> None:
        """Send what :meth:`feed` held back (the echo of pasted text goes out in one packet)."""
        held, self._held = self._held, None
        if held:
            self.write("".join(held))
        if held is not None:
            self._held = []

    def prompt(self) -> str:
        host = self.device.hostname
        if self.applier is not None:
            return f"{host}({self.applier.mode})#"
        return f"{host}{'#' if self.privilege >= 15 else '>'}"

    def start(self) -> None:
        """What the client sees after login: the banners, then a prompt."""
        for kind in ("motd", "exec"):
            nodes = self.device.running.top_starting(f"banner {kind}")
            if nodes:
                body = nodes[0].text.split("^C", 1)[-1].rsplit("^C", 1)[0]
                self.write(body + "\n")
        self.write("\n" + self.prompt())

    def close(self) -> None:
        if not self.closed:
            self._leave_config()
            self.closed = True
            self.device.close_line(self.line_no)

    def drop(self) -> None:
        """Fault injection: the device closes the SSH connection without a word."""
        logger.info("%s: dropping the session of %s", self.device.hostname, self.username)
        self.closed = True
        self.device.close_line(self.line_no)
        self._drop()
        raise SessionClosedError

    # ---------------------------------------------------------------- input
    def feed(self, data: str) -> None:
        """Characters from the client; raises SessionClosedError when the session ends."""
        if self.device.faults.hang:
            return  # a hung device reads and says nothing
        self._held = []  # one write per chunk and per line, not one per key
        try:
            for char in data:
                self._key(char)
        finally:
            self._flush()
            self._held = None

    def _handle_line(self, line: str) -> None:
        self.write("\n")  # the characters were echoed as they came
        self._flush()  # the echo goes out before the command runs (a delay, a drop)
        self._run_line(line)

    def _run_line(self, line: str) -> None:
        if self._pending is not None:
            handler, self._pending = self._pending, None
            output = handler(line)
            if self._pending is None:
                self._finish(output)
            else:
                self.write(output)
            return
        delay = self.device.faults.delay_seconds
        if delay > 0 and line.strip():
            self._sleep(delay)
        output = self.execute(line)
        if self._pending is None:
            self._finish(output)
        else:
            self.write(output)

    # ------------------------------------------------- line editor hooks
    def _literal(self) -> bool:
        return self._pending is not None or (self.applier is not None and self.applier.in_banner)

    def _echoing(self) -> bool:
        return self._pending is None or self._pending_echo

    def _history_key(self) -> str:
        return "exec" if self.applier is None else "config"

    def _help_state(self) -> HelpState:
        verbs = _PRIV_WORDS if self.privilege >= 15 else _USER_WORDS
        return HelpState(verbs, None if self.applier is None else self.applier.mode)

    def _help(self, buffer: str) -> str:
        return help_text(buffer, self._help_state(), self.prompt())

    def _complete(self, buffer: str) -> str | None:
        return completion(buffer, self._help_state())

    def _ctrl_z(self, line: str) -> bool:
        if self.applier is None:
            return False  # Ctrl-Z means nothing in exec mode: the line stays
        self.write("^Z\n")
        if line.strip():
            output = self.execute(line)
            self.write(output if not output or output.endswith("\n") else output + "\n")
        self._leave_config()
        self.write(self.prompt())
        return True

    def _ctrl_c(self) -> None:
        if self._pending is not None:
            self._pending = None
            self.write("\n" + self.prompt())
        elif self.applier is not None:
            self.write("^C\n")
            self._leave_config()
            self.write(self.prompt())
        else:
            self.write("\n" + self.prompt())

    def _finish(self, output: str) -> None:
        if output:
            output = output if output.endswith("\n") else output + "\n"
        self.write(output + self.prompt())

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.closed and time.monotonic() < deadline:
            time.sleep(min(0.05, deadline - time.monotonic()))

    def ask(self, question: str, handler: Callable[[str], str], *, echo: bool = True) -> str:
        """Ask the client something (``Destination filename [x]?``); the answer goes to handler."""
        self._pending = handler
        self._pending_echo = echo
        return question

    # ------------------------------------------------------------- dispatch
    def execute(self, line: str) -> str:
        """Run one line in the current mode; return its output (without the prompt)."""
        stripped = line.strip()
        if not stripped:
            return ""
        if self._faulty(stripped):
            return invalid_at(self.prompt(), 0)
        if self.applier is not None:
            return self._config_line(line)
        return self._exec_line(line)

    def _faulty(self, stripped: str) -> bool:
        normalized = " ".join(stripped.split())
        return any(normalized.startswith(c) for c in self.device.faults.invalid_commands)

    def _exec_line(self, line: str) -> str:
        command, _bar, pipe = line.partition("|")
        words = command.split()
        allowed = _PRIV_WORDS if self.privilege >= 15 else _USER_WORDS
        matches = [w for w in allowed if w.startswith(words[0].lower())]
        if words[0].lower() in allowed:
            matches = [words[0].lower()]
        if not matches:
            return invalid_at(self.prompt(), line.index(words[0]))
        if len(matches) > 1:
            return f'% Ambiguous command:  "{command.strip()}"'
        verb = matches[0]
        output = self.run_verb(verb, words[1:], line)
        if pipe.strip() and INVALID not in output:
            return self.apply_filter(output, pipe.strip(), line)
        return output

    def run_verb(self, verb: str, args: list[str], line: str) -> str:
        if verb == "enable":
            return self._enable()
        if verb == "disable":
            self.privilege = 1
            return ""
        if verb in ("exit", "logout", "quit"):
            self.close()
            raise SessionClosedError
        if verb == "terminal":
            return self._terminal(args, line)
        if verb == "configure":
            return self._configure(args, line)
        return self.run_exec(verb, args, line)

    def _terminal(self, args: list[str], line: str) -> str:
        if not args:
            return INCOMPLETE
        known = ("length", "width", "monitor", "no", "exec")
        if not any(k.startswith(args[0].lower()) for k in known):
            return invalid_at(self.prompt(), line.index(args[0]))
        if args[0].lower().startswith(("len", "wid")) and (len(args) < 2 or not args[1].isdigit()):
            return INCOMPLETE
        return ""

    def _enable(self) -> str:
        if self.privilege >= 15:
            return ""
        state = {"tries": 0}

        def answer(secret: str) -> str:
            result = self.device.check_enable(secret)
            if result:
                self.privilege = 15
                return ""
            state["tries"] += 1
            if state["tries"] >= _ENABLE_TRIES:
                return "% Bad secrets\n"
            return self.ask("Password: ", answer, echo=False)

        if self.device.check_enable("") is None:
            return "% No password set"
        return self.ask("Password: ", answer, echo=False)

    # ----------------------------------------------------------- configure
    def _configure(self, args: list[str], line: str) -> str:  # noqa: PLR0911
        if not args:
            return INCOMPLETE
        sub = args[0].lower()
        choices = ("terminal", "replace", "confirm", "revert", "memory", "network")
        matches = [c for c in choices if c.startswith(sub)]
        if len(matches) != 1:
            return invalid_at(self.prompt(), line.index(args[0]))
        sub = matches[0]
        if sub == "terminal":
            rest = [a.lower() for a in args[1:]]
            if rest:
                if rest[0] != "revert" or "timer" not in rest or not rest[-1].isdigit():
                    return invalid_at(self.prompt(), line.index(args[1]))
                error = self.device.start_revert(self.username, int(rest[-1]))
                if error:
                    return error
            return self._enter_config()
        if sub == "replace":
            return self.configure_replace(args[1:])
        if sub == "confirm":
            return self.device.confirm(self.username)
        if sub == "revert":
            return self._revert(args[1:], line)
        return invalid_at(self.prompt(), line.index(args[0]))

    def _revert(self, args: list[str], line: str) -> str:
        if not args:
            return INCOMPLETE
        if "now".startswith(args[0].lower()):
            return self.device.revert_now()
        if "timer".startswith(args[0].lower()) and len(args) > 1 and args[-1].isdigit():
            if self.device.pending is None:
                return "%No Rollback Confirmed Change pending"
            return self.device.start_revert(self.username, int(args[-1]))
        return invalid_at(self.prompt(), line.index(args[0]))

    def _enter_config(self) -> str:
        self.applier = ConfigApplier(
            self.device.running, self.device.physical, self.device.stp_root
        )
        self.config_changed = False
        return "Enter configuration commands, one per line.  End with CNTL/Z."

    def _leave_config(self) -> None:
        if self.applier is None:
            return
        self.applier = None
        if self.config_changed:
            self.device.config_changed(self.username, self.source, self.line_no)
            self.config_changed = False

    def _config_line(self, line: str) -> str:  # noqa: PLR0911 - outcomes of a line
        if self.applier is None:
            return self._exec_line(line)
        stripped = line.strip()
        words = stripped.split()
        if words[0] == "do" and not self.applier.in_banner:
            if len(words) == 1:
                return INCOMPLETE
            return self._exec_line(stripped[2:].strip())
        with self.device.lock:
            if self.applier.tree is not self.device.running:  # replaced or reverted meanwhile
                self.applier = ConfigApplier(
                    self.device.running, self.device.physical, self.device.stp_root
                )
            prompt = self.prompt()
            result = self.applier.feed_interactive(line)
        if result.changed:
            self.config_changed = True
        if result.end:
            self._leave_config()
            return ""
        if result.error == "invalid":
            return invalid_at(prompt, word_column(line, result.error_word))
        if result.error == "incomplete":
            return INCOMPLETE
        return result.message
