"""The per-keystroke line editor of the simulated IOS terminal.

IOS echoes each character as it arrives and acts on some keys at once; clients
depend on it (scrapli writes a command, waits for its echo, then sends Return;
a person sees what they type). This editor does what IOS's does for what
clients and people rely on:

- printable characters: inserted at the cursor and echoed (not while a password
  is asked for); typed in the middle of the line, the rest of the line is
  redrawn after it and the cursor put back with backspaces, as IOS does;
- CR, LF and CRLF end a line (clients send any of them), wherever the cursor is;
  a pasted block of many lines is taken line by line, exactly as if typed;
- cursor: Left/Right arrows (``ESC [ D``/``ESC [ C``, ``ESC O D``/``ESC O C``) and
  Ctrl-B/Ctrl-F one character, Ctrl-A/Ctrl-E the start/end of the line,
  Esc B/Esc F one word back/forward;
- deleting: Backspace and DEL the character before the cursor, Ctrl-D the one
  under it, Ctrl-K to the end of the line, Ctrl-U and Ctrl-X to its start,
  Ctrl-W the word before the cursor, Esc D to the end of the word; Ctrl-Y puts
  back the text deleted last; Ctrl-T swaps two characters; Esc C, Esc L and
  Esc U capitalise, lower or upper the case of a word;
- ``?``: context help at once for the text before the cursor, then the prompt and
  the line again with the cursor where it was; Tab completes the word before the
  cursor when it is unique (both from :mod:`~netwarden.lab.sim.clihelp`);
- Ctrl-R and Ctrl-L redraw the line; Ctrl-Z ends configuration mode (running the
  line typed first, as IOS does), Ctrl-C abandons the line (and configuration
  mode, or a question being asked);
- Up/Down arrows (``ESC [ A``/``ESC [ B``) and Ctrl-P/Ctrl-N recall the history,
  kept apart for exec and configuration mode as IOS does (20 lines each); the
  cursor goes to the end of the recalled line.

Echo is what a VT100 needs to show the line: a backspace (``\\b``) moves the
cursor left without erasing, so a cursor move left is ``\\b``, one right is the
character passed over, and a line made shorter is blanked with spaces. Inside a
banner or a question (``Destination filename``), ``?`` and Tab are ordinary
characters and the history is not recalled. Known difference: IOS scrolls a line
longer than the terminal horizontally (``$``); this editor does not, so moving
the cursor over a line that wrapped on the screen shows it wrongly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import ClassVar

logger = logging.getLogger(__name__)

HISTORY_SIZE = 20
_ERASE = "\b \b"
_CTRL_A, _CTRL_B, _CTRL_C, _CTRL_D = "\x01", "\x02", "\x03", "\x04"
_CTRL_E, _CTRL_F, _CTRL_K, _CTRL_L = "\x05", "\x06", "\x0b", "\x0c"
_CTRL_N, _CTRL_P, _CTRL_R, _CTRL_T = "\x0e", "\x10", "\x12", "\x14"
_CTRL_U, _CTRL_W, _CTRL_X, _CTRL_Y, _CTRL_Z = "\x15", "\x17", "\x18", "\x19", "\x1a"
_BELL = "\a"


def _word_start(text: str, at: int) -> int:
    """Where the word before ``at`` starts (spaces before ``at`` skipped first).

    Examples:
        >>> _word_start("show ip route", 13), _word_start("show ip route", 8)
        (8, 5)
    """
    while at > 0 and text[at - 1] == " ":
        at -= 1
    while at > 0 and text[at - 1] != " ":
        at -= 1
    return at


def _word_end(text: str, at: int) -> int:
    """Where the word at or after ``at`` ends (spaces after ``at`` skipped first).

    Examples:
        >>> _word_end("show ip route", 0), _word_end("show ip route", 4)
        (4, 7)
    """
    while at < len(text) and text[at] == " ":
        at += 1
    while at < len(text) and text[at] != " ":
        at += 1
    return at


class LineEditing:
    """Mixin of :class:`~netwarden.lab.sim.session.CliSession`: keystrokes in, lines out."""

    _buffer: str
    _cursor: int
    _killed: str
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

    def _ctrl_z(self, line: str) -> bool:
        """Act on Ctrl-Z with the line typed so far; True when the line was used up."""
        raise NotImplementedError

    def _ctrl_c(self) -> None:
        raise NotImplementedError

    # ---------------------------------------------------------------- input
    def _init_editor(self) -> None:
        self._buffer = ""
        self._cursor = 0
        self._killed = ""
        self._last_cr = False
        self._escape = ""
        self._history = {}
        self._recall = None

    def _key(self, char: str) -> None:
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
        if char == "\x1b":
            self._escape = char
        elif char == "?" and not literal:
            self._question()
        elif char == "\t" and not literal:
            self._tab()
        elif char in self._KEYS:
            self._KEYS[char](self)
        elif char >= " " or char == "\t":
            self._insert(char)
        # other control characters are read and ignored, as IOS does

    def _echo(self, text: str) -> None:
        if self._echoing():
            self.write(text)

    def _end_line(self) -> None:
        line = self._buffer
        self._buffer, self._cursor = "", 0
        self._recall = None
        if line.strip() and not self._literal():
            history = self._history.setdefault(self._history_key(), [])
            if not history or history[-1] != line:
                history.append(line)
                del history[:-HISTORY_SIZE]
        self._handle_line(line)

    # -------------------------------------------------------------- drawing
    def _show(self, text: str, cursor: int) -> None:
        """Make the line ``text`` with the cursor at ``cursor``; echo what the screen needs.

        With the cursor at the end, the changed tail is erased (``\\b \\b``) and the new
        tail typed; in the middle, the line is redrawn from the first change (or the
        cursor, if that comes first), what is left of a longer line blanked, and the
        cursor put back with backspaces.
        """
        old, at = self._buffer, self._cursor
        common = 0
        while common < min(len(text), len(old)) and text[common] == old[common]:
            common += 1
        if at == len(old):
            out = _ERASE * (len(old) - common) + text[common:]
        else:
            start = min(common, at)
            out = "\b" * (at - start) + text[start:]
            blank = len(old) - len(text)
            if blank > 0:
                out += " " * blank + "\b" * blank
        out += "\b" * (len(text) - cursor)
        self._buffer, self._cursor = text, cursor
        if out:
            self._echo(out)

    def _move(self, to: int) -> None:
        """Move the cursor (a bell when it cannot go there)."""
        if not 0 <= to <= len(self._buffer) or to == self._cursor:
            if to != self._cursor:
                self._echo(_BELL)
            return
        if to < self._cursor:
            self._echo("\b" * (self._cursor - to))
        else:
            self._echo(self._buffer[self._cursor : to])
        self._cursor = to

    def _left(self) -> None:
        self._move(self._cursor - 1)

    def _right(self) -> None:
        self._move(self._cursor + 1)

    def _home(self) -> None:
        self._move(0)

    def _end(self) -> None:
        self._move(len(self._buffer))

    def _word_left(self) -> None:
        self._move(_word_start(self._buffer, self._cursor))

    def _word_right(self) -> None:
        self._move(_word_end(self._buffer, self._cursor))

    def _redraw(self, head: str) -> None:
        """``head`` (a new line and the prompt), the whole line, the cursor put back."""
        self._echo(head + self._buffer + "\b" * (len(self._buffer) - self._cursor))

    def _redraw_line(self) -> None:
        self._redraw("\n" + self.prompt())

    def _replace_buffer(self, text: str) -> None:
        """The whole line becomes ``text``, the cursor at its end."""
        self._show(text, len(text))

    # ---------------------------------------------------------------- editing
    def _insert(self, char: str) -> None:
        at = self._cursor
        self._show(self._buffer[:at] + char + self._buffer[at:], at + 1)

    def _erase_range(self, start: int, end: int, *, keep: bool = False) -> None:
        """Delete ``[start, end)``; ``keep``: remember it for Ctrl-Y."""
        if start >= end:
            self._echo(_BELL)
            return
        if keep:
            self._killed = self._buffer[start:end]
        self._show(self._buffer[:start] + self._buffer[end:], start)

    def _backspace(self) -> None:
        if self._cursor > 0:
            self._erase_range(self._cursor - 1, self._cursor)

    def _delete_char(self) -> None:
        self._erase_range(self._cursor, min(self._cursor + 1, len(self._buffer)))

    def _kill_end(self) -> None:
        self._erase_range(self._cursor, len(self._buffer), keep=True)

    def _kill_start(self) -> None:
        self._erase_range(0, self._cursor, keep=True)

    def _kill_word_back(self) -> None:
        self._erase_range(_word_start(self._buffer, self._cursor), self._cursor, keep=True)

    def _kill_word_forward(self) -> None:
        self._erase_range(self._cursor, _word_end(self._buffer, self._cursor), keep=True)

    def _yank(self) -> None:
        if not self._killed:
            self._echo(_BELL)
            return
        at = self._cursor
        text = self._buffer[:at] + self._killed + self._buffer[at:]
        self._show(text, at + len(self._killed))

    def _transpose(self) -> None:
        """Ctrl-T: swap the character before the cursor with the one under it."""
        text, at = self._buffer, self._cursor
        if len(text) < 2 or at == 0:
            self._echo(_BELL)
            return
        at = min(at, len(text) - 1)  # at the end: the last two characters
        swapped = text[: at - 1] + text[at] + text[at - 1] + text[at + 1 :]
        self._show(swapped, at + 1)

    def _case_word(self, how: str) -> None:
        """Esc C, Esc L, Esc U: the word at or after the cursor, cursor to its end."""
        start, end = self._cursor, _word_end(self._buffer, self._cursor)
        word = self._buffer[start:end]
        changed = {"c": word.capitalize(), "l": word.lower(), "u": word.upper()}[how]
        self._show(self._buffer[:start] + changed + self._buffer[end:], end)

    def _capitalize(self) -> None:
        self._case_word("c")

    def _lower(self) -> None:
        self._case_word("l")

    def _upper(self) -> None:
        self._case_word("u")

    def _question(self) -> None:
        """``?``: help for the text before the cursor, then the line again."""
        help_text = self._help(self._buffer[: self._cursor])
        self._redraw("?\n" + help_text + "\n\n" + self.prompt())

    def _tab(self) -> None:
        at = self._cursor
        completed = self._complete(self._buffer[:at])
        if completed is None:
            self._echo(_BELL)
            return
        rest = self._buffer[at:]
        if rest.startswith(" ") and completed.endswith(" "):
            completed = completed[:-1]  # the word already has a space after it
        self._show(completed + rest, len(completed))

    def _ctrl_z_key(self) -> None:
        if self._ctrl_z(self._buffer):
            self._buffer, self._cursor = "", 0

    def _ctrl_c_key(self) -> None:
        self._buffer, self._cursor = "", 0
        self._ctrl_c()

    def _recall_history(self, *, older: bool) -> None:
        if self._literal():
            return  # no history inside a banner or a question
        history = self._history.get(self._history_key(), [])
        if not history:
            self._echo(_BELL)
            return
        index = len(history) if self._recall is None else self._recall
        index = index - 1 if older else index + 1
        if index < 0:
            self._echo(_BELL)
            return
        if index >= len(history):
            self._recall = None
            self._replace_buffer("")
            return
        self._recall = index
        self._replace_buffer(history[index])

    def _older(self) -> None:
        self._recall_history(older=True)

    def _newer(self) -> None:
        self._recall_history(older=False)

    def _escape_key(self, char: str) -> None:
        """``ESC [ A``: an ANSI key sequence, read to its final byte; ``ESC b``: a Meta key."""
        self._escape += char
        if len(self._escape) == 2:
            if char not in "[O":
                self._escape = ""
                meta = self._META.get(char.lower())
                if meta is not None:
                    meta(self)
                elif char < " ":
                    self._key(char)  # ESC then Return (or another control key): that key
            return
        if (char.isdigit() or char == ";") and len(self._escape) < 8:
            return  # parameters of a longer sequence (ESC [ 1 ; 5 A)
        sequence, self._escape = self._escape, ""
        if len(sequence) == 3:  # keys with parameters (Ctrl-arrows, Delete) are not IOS's
            action = self._ARROWS.get(char)
            if action is not None:
                action(self)

    _KEYS: ClassVar[dict[str, Callable[[LineEditing], None]]] = {
        "\x08": _backspace,
        "\x7f": _backspace,
        _CTRL_A: _home,
        _CTRL_E: _end,
        _CTRL_B: _left,
        _CTRL_F: _right,
        _CTRL_D: _delete_char,
        _CTRL_K: _kill_end,
        _CTRL_U: _kill_start,
        _CTRL_X: _kill_start,
        _CTRL_W: _kill_word_back,
        _CTRL_Y: _yank,
        _CTRL_T: _transpose,
        _CTRL_R: _redraw_line,
        _CTRL_L: _redraw_line,
        _CTRL_P: _older,
        _CTRL_N: _newer,
        _CTRL_Z: _ctrl_z_key,
        _CTRL_C: _ctrl_c_key,
    }
    """Control keys and what they do (Backspace and DEL among them)."""

    _META: ClassVar[dict[str, Callable[[LineEditing], None]]] = {
        "b": _word_left,
        "f": _word_right,
        "d": _kill_word_forward,
        "c": _capitalize,
        "l": _lower,
        "u": _upper,
    }
    """Esc and a letter (either case)."""

    _ARROWS: ClassVar[dict[str, Callable[[LineEditing], None]]] = {
        "A": _older,
        "B": _newer,
        "C": _right,
        "D": _left,
    }
    """The final byte of ``ESC [ x`` and ``ESC O x``."""
