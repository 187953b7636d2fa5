"""Run ``netwarden`` as a person sees it: on a terminal (a pty) of a given width, or piped.

Shared by the tests of terminal output (issue 11 point 7): tables and messages are
checked at 80 and 100 columns and on a pipe without ``$COLUMNS``.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
from itertools import pairwise
from pathlib import Path

NETWARDEN = str(Path(sys.executable).with_name("netwarden"))
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

MODES = [(80, True), (100, True), (80, False), (100, False), (0, False)]
"""(columns, on a pty): a terminal of 80 and 100 columns, piped with ``$COLUMNS`` 80 and 100,
piped without ``$COLUMNS`` (0: a log file, ``| less``, the demo transcript)."""
MODE_IDS = ["80-tty", "100-tty", "80-piped", "100-piped", "piped"]


def run(
    args: list[str], columns: int, *, tty: bool = False, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """Run netwarden: (exit code, stdout, stderr). On a pty both streams are the terminal
    (returned as stdout, without cursor and style sequences); ``columns`` 0: no ``$COLUMNS``."""
    env = {**os.environ, "NO_COLOR": "1", "TERM": "xterm", **(env or {})}
    env.pop("COLUMNS", None)
    if columns:
        env["COLUMNS"] = str(columns)
    if not tty:
        proc = subprocess.run(
            [NETWARDEN, *args], capture_output=True, text=True, env=env, timeout=300, check=False
        )
        return proc.returncode, proc.stdout, proc.stderr
    main, sub = pty.openpty()
    fcntl.ioctl(sub, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    child = subprocess.Popen([NETWARDEN, *args], stdin=sub, stdout=sub, stderr=sub, env=env)
    os.close(sub)
    chunks = []
    while True:
        ready, _, _ = select.select([main], [], [], 300)
        if not ready:
            break
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    code = child.wait(timeout=60)
    shown = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
    return code, ANSI.sub("", shown), ""


def column_text(text: str, header: str) -> str:
    """Everything a table's column holds (the first table with ``header``), whitespace removed.

    A cell (or header) that wraps or folds over lines is read back whole; a cropped
    one is not (nor is a table cut at the edge: its right border is missing).
    """
    lines = text.splitlines()
    for top, line in enumerate(lines):
        if not line.startswith("┏"):
            continue
        bars = [i for i, ch in enumerate(line) if ch in "┏┳┓"]
        head = top + 1
        while head < len(lines) and lines[head].startswith("┃"):
            head += 1
        names = [
            whole("".join(ln[a + 1 : b] for ln in lines[top + 1 : head])) for a, b in pairwise(bars)
        ]
        if whole(header) not in names:
            continue
        a, b = bars[names.index(whole(header))], bars[names.index(whole(header)) + 1]
        out = []
        for body in lines[head + 1 :]:
            if body.startswith("└"):
                break
            if body.startswith("│"):
                out.append(body[a + 1 : b])
        return whole("".join(out))
    raise AssertionError(f"no table with a column {header!r} (whole, right border included)")


def whole(value: str) -> str:
    """``value`` as :func:`column_text` reads it back (whitespace removed)."""
    return "".join(value.split())
