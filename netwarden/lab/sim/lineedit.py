"""The per-keystroke line editor of the simulated IOS terminal.

IOS echoes each character as it arrives and acts on some keys at once; clients
depend on it (scrapli writes a command, waits for its echo, then sends Return;
a person sees what they type). This editor does what IOS's does for what
clients and people rely on:

- printable characters: added to the line and echoed (not while a password is
  asked for); Backspace and DEL erase the last one (``\\b \\b``);
- CR, LF and CRLF end a line (clients send any of them); a pasted block of many
  lines is taken line by line, exactly as if typed;
- ``?``: context help at once, then the prompt and the line again; Tab completes
  the word being typed when it is unique (both from :mod:`~netwarden.lab.sim.clihelp`);
- Ctrl-U erases the line, Ctrl-W the word before the cursor, Ctrl-R redraws it;
- Ctrl-Z ends configuration mode (running the line typed first, as IOS does),
  Ctrl-C abandons the line (and configuration mode, or a question being asked);
- Up/Down arrows (``ESC [ A``/``ESC [ B``) and Ctrl-P/Ctrl-N recall the history,
  kept apart for exec and configuration mode as IOS does (20 lines each).

Inside a banner or a question (``Destination filename``), ``?`` and Tab are
ordinary characters. The cursor always stays at the end of the line: Left/Right
arrows, Ctrl-A/E/B/F are read and ignored rather than inserted.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

HISTORY_SIZE = 20
_ERASE = "\b \b"
_BACKSPACES = "\x08\x7f"
_CTRL_C, _CTRL_N, _CTRL_P, _CTRL_R = "\x03", "\x0e", "\x10", "\x12"
_CTRL_U, _CTRL_W, _CTRL_Z = "\x15", "\x17", "\x1a"


class LineEditing:
    """Mixin of :class:`~netwarden.lab.sim.session.CliSession`: keystrokes in, lines out."""

    _buffer: str
    _last_cr: bool
    _escape: str
    _history: dict[str, list[str]]
    _recall: int | None

    # Hooks the session provides.
    def write(self, text: str) -> None:
        raise NotImplementedError

    def prompt(self) -> str:
        raise NotImplementedError

    def _handle_line(self, line: str) -> None:
        raise NotImplementedError

    def _literal(self) -> bool:
        """``?`` and Tab are plain characters (a banner, a question)."""
        raise NotImplementedError

    def _echoing(self) -> bool:
        """Typed characters are echoed (not while a password is asked for)."""
        raise NotImplementedError

    def _history_key(self) -> str:
        raise NotImplementedError

    def _help(self, buffer: str) -> str:
        raise NotImplementedError

    def _complete(self, buffer: str) -> str | None:
        raise NotImplementedError

    def _ctrl_z(self, line: str) -> None:
        raise NotImplementedError

    def _ctrl_c(self) -> None:
        raise NotImplementedError

    # ---------------------------------------------------------------- input
    def _init_editor(self) -> None:
        self._buffer = ""
        self._last_cr = False
        self._escape = ""
        self._history = {}
        self._recall = None

    def _key(self, char: str) -> None:  # noqa: PLR0912 - one branch per key, as a keymap
        """Act on one character typed by the client."""
        if self._escape:
            self._escape_key(char)
            return
        if char in "\r\n":
            if char == "\n" and self._last_cr:
                self._last_cr = False
                return
            self._last_cr = char == "\r"
            self._end_line()
            return
        self._last_cr = False
        if char == "\x00":
            return  # NAPALM's is_alive() writes a NUL
        literal = self._literal()
        if char == "\x1b" and not literal:
            self._escape = char
        elif char in _BACKSPACES:
            if self._buffer:
                self._buffer = self._buffer[:-1]
                self._echo(_ERASE)
        elif char == "?" and not literal:
            self._echo("?\n" + self._help(self._buffer) + "\n\n" + self.prompt() + self._buffer)
        elif char == "\t" and not literal:
            self._tab()
        elif char == _CTRL_U:
            self._replace_buffer("")
        elif char == _CTRL_W:
            kept = self._buffer.rstrip()
            kept = kept[: len(kept) - len(kept.split()[-1])] if kept else ""
            self._replace_buffer(kept)
        elif char == _CTRL_R:
            self._echo("\n" + self.prompt() + self._buffer)
        elif char in (_CTRL_P, _CTRL_N):
            self._recall_history(older=char == _CTRL_P)
        elif char == _CTRL_Z:
            line, self._buffer = self._buffer, ""
            self._ctrl_z(line)
        elif char == _CTRL_C:
            self._buffer = ""
            self._ctrl_c()
        elif char >= " " or char == "\t":
            self._buffer += char
            self._echo(char)
        # other control characters (Ctrl-A, Ctrl-E ...) move a cursor we do not keep

    def _echo(self, text: str) -> None:
        if self._echoing():
            self.write(text)

    def _end_line(self) -> None:
        line, self._buffer = self._buffer, ""
        self._recall = None
        if line.strip() and not self._literal():
            history = self._history.setdefault(self._history_key(), [])
            if not history or history[-1] != line:
                history.append(line)
                del history[:-HISTORY_SIZE]
        self._handle_line(line)

    def _replace_buffer(self, text: str) -> None:
        """Erase the line on the screen back to the common start, then type ``text``."""
        common = 0
        while common < min(len(text), len(self._buffer)) and text[common] == self._buffer[common]:
            common += 1
        self._echo(_ERASE * (len(self._buffer) - common) + text[common:])
        self._buffer = text

    def _tab(self) -> None:
        completed = self._complete(self._buffer)
        if completed is None:
            self._echo("\a")
            return
        self._replace_buffer(completed)

    def _recall_history(self, *, older: bool) -> None:
        history = self._history.get(self._history_key(), [])
        if not history:
            self._echo("\a")
            return
        index = len(history) if self._recall is None else self._recall
        index = index - 1 if older else index + 1
        if index < 0:
            self._echo("\a")
            return
        if index >= len(history):
            self._recall = None
            self._replace_buffer("")
            return
        self._recall = index
        self._replace_buffer(history[index])

    def _escape_key(self, char: str) -> None:
        """``ESC [ A``: an ANSI key sequence, read to its final byte; only Up and Down act."""
        self._escape += char
        if len(self._escape) == 2:
            if char not in "[O":
                self._escape = ""  # ESC and a character: a Meta key, ignored
            return
        if (char.isdigit() or char == ";") and len(self._escape) < 8:
            return  # parameters of a longer sequence (ESC [ 1 ; 5 A)
        self._escape = ""
        if char == "A":
            self._recall_history(older=True)
        elif char == "B":
            self._recall_history(older=False)
