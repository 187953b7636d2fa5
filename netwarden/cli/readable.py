"""The consoles of the ``netwarden`` commands: Rich, never cropped (:class:`ReadableConsole`).

Apart from :mod:`netwarden.cli.common` so that importing the commands' shared code does
not import Rich (~20 ms): a command whose output is JSON on a pipe (the auditor with
``--json``) never needs it. :mod:`~netwarden.cli.common` hands out these names on first
use (``from netwarden.cli.common import console`` still works), and
:func:`~netwarden.cli.common.is_terminal` answers "is it a terminal?" without importing
Rich when the stream surely is not one.

The two consoles (:data:`console` on stdout, :data:`err_console` on stderr) are
:class:`ReadableConsole`: output someone must read is wrapped or folded, never
cropped, whatever the width, and it is not squeezed to 80 columns when it goes
to a pipe or a file.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.align import AlignMethod
from rich.console import Console, ConsoleDimensions, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import TextType

PIPE_WIDTH = 4096
"""The width of a console that does not write to a terminal (and has no ``$COLUMNS``).

A pipe or a file has no edge: lines stay whole (a table is as wide as its
content up to this), for ``grep``, logs and the demo transcript.
"""
PIPE_RULE_WIDTH = 100
"""How long a horizontal rule is when the console has no edge (:data:`PIPE_WIDTH`)."""


class ReadableConsole(Console):
    """A Rich console whose output is never cropped.

    - Width: a terminal's own width (``$COLUMNS`` overrides it, as Rich does);
      not a terminal: ``$COLUMNS`` when set, else :data:`PIPE_WIDTH`, rather than
      Rich's 80 columns. Decided at each print, so the same console follows the
      stream it writes to (tests swap ``sys.stdout``).
    - Tables (:func:`never_crop`): every column wraps and folds a word too long
      for it instead of cutting it with an ellipsis; a table narrower than its
      content grows taller, it loses nothing. ``no_wrap=True`` columns keep their
      values on one line whenever the table can fit them so, and wrap otherwise.
    - Rules (``console.rule``) are :data:`PIPE_RULE_WIDTH` long on a pipe.

    Examples:
        >>> import io
        >>> c = ReadableConsole(file=io.StringIO(), _environ={})
        >>> c.width == PIPE_WIDTH
        True
        >>> t = Table("key")
        >>> t.add_row("SHA256:" + "A" * 43)
        >>> narrow = ReadableConsole(file=io.StringIO(), width=20)
        >>> with narrow.capture() as cap:
        ...     narrow.print(t)
        >>> "".join(ln.strip("│ ") for ln in cap.get().splitlines()[3:-1])
        'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
    """

    @property
    def size(self) -> ConsoleDimensions:
        """Rich's size, but a console without a terminal and ``$COLUMNS`` is :data:`PIPE_WIDTH` wide."""
        dims = super().size
        if self._width is None and not self._has_edge():
            return ConsoleDimensions(PIPE_WIDTH, dims.height)
        return dims

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size

    def _has_edge(self) -> bool:
        """Whether lines must fit a width: a terminal, or a ``$COLUMNS`` someone set."""
        columns = self._environ.get("COLUMNS", "")
        return self.is_terminal or self.is_dumb_terminal or columns.isdigit()

    def render(
        self, renderable: RenderableType, options: ConsoleOptions | None = None
    ) -> Iterable[Segment]:
        """Render ``renderable``; a table's columns fold rather than crop (see the class)."""
        if isinstance(renderable, Table):
            never_crop(renderable, self, options or self.options)
        return super().render(renderable, options)

    def rule(
        self,
        title: TextType = "",
        *,
        characters: str = "─",
        style: str | Style = "rule.line",
        align: AlignMethod = "center",
    ) -> None:
        """A horizontal rule: the console's width, or :data:`PIPE_RULE_WIDTH` on a pipe."""
        if self._width is not None or self._has_edge():
            super().rule(title, characters=characters, style=style, align=align)
            return
        from rich.rule import Rule  # noqa: PLC0415

        rule = Rule(title=title, characters=characters, style=style, align=align)
        self.print(rule, width=PIPE_RULE_WIDTH)


FOLD_FLOOR = 6
"""The fewest characters a wrapping column keeps so that a table's ``no_wrap`` columns stay whole.

``no_wrap`` marks the values that must read whole (names, addresses); the other
columns fold first, down to this; below it the ``no_wrap`` columns wrap too.
"""


def _widths(table: Table, console: Console, options: ConsoleOptions) -> tuple[int, int]:
    """``table``'s natural width (every value on one line) and its narrowest with the
    ``no_wrap`` columns whole: another column then needs its longest word, or
    :data:`FOLD_FLOOR` if that is less (a longer word folds)."""
    wide = options.update_width(10**6)
    # Rich has no public column measure: its own, as Table.__rich_measure__ uses it
    natural = narrowest = table._extra_width
    for column in table.columns:
        measure = table._measure_column(console, wide, column)
        natural += measure.maximum
        if column.no_wrap:
            narrowest += measure.maximum
        else:
            floor = FOLD_FLOOR + table._get_padding_width(column._index)
            narrowest += min(measure.minimum, floor)
    return natural, narrowest


def never_crop(table: Table, console: Console, options: ConsoleOptions) -> None:
    """Make ``table`` wrap or fold its cells instead of cutting them at ``options.max_width``.

    Every column folds a word too long for it (``overflow="fold"``). When the
    table is wider than the console: ``no_wrap`` columns keep their values on one
    line if the table can fit them so (the other columns wrap, and fold below
    :data:`FOLD_FLOOR`), else they wrap too; and ``min_width`` is dropped (Rich
    squeezes a column below it, then widens the table past the edge and cuts it).
    """
    for column in table.columns:
        column.overflow = "fold"
    natural, _ = _widths(table, console, options)
    if natural <= options.max_width:
        return
    for column in table.columns:
        column.min_width = None
    if any(c.no_wrap for c in table.columns):
        _, narrowest = _widths(table, console, options)
        if narrowest > options.max_width:
            for column in table.columns:
                column.no_wrap = False


console = ReadableConsole()
err_console = ReadableConsole(stderr=True)
