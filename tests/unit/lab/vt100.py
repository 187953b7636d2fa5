"""A VT100 screen (pyte's) fed what the simulator sends: what a person's terminal shows.

Test helper, not a test module. The simulator's echo is right when the screen's
line under the cursor reads the prompt and the line being edited, and the cursor
stands where the editor's cursor is.
"""

from __future__ import annotations

import pyte


class Vt100:
    """An 80x24 VT100 screen (pyte), fed bytes as the terminal receives them."""

    def __init__(self, columns: int = 80, lines: int = 24) -> None:
        self.screen = pyte.Screen(columns, lines)
        self.stream = pyte.Stream(self.screen)

    def feed(self, text: str) -> None:
        """Text as sent on the wire (CRLF line ends)."""
        self.stream.feed(text)

    @property
    def line(self) -> str:
        """The line the cursor is on, without trailing blanks."""
        return self.screen.display[self.screen.cursor.y].rstrip()

    @property
    def column(self) -> int:
        return int(self.screen.cursor.x)
