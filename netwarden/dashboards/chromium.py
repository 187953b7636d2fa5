"""Headless Chromium for the snapshot pages: PNG screenshots and the rendered DOM.

Chromium is optional (Debian's ``chromium`` package): :func:`find` returns None when it
is absent and callers say so and go on. Every run has a timeout and its own throw-away
profile directory; ``--no-sandbox`` only when running as root, where Chromium refuses
to start without it. The pages load nothing (their Content-Security-Policy forbids it),
so Chromium is also started with networking pointed at nowhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

TIMEOUT = 90.0
"""Seconds one Chromium run may take."""
WIDTH = 1100
"""The screenshot's width in CSS pixels (the page lays out 24 columns in it)."""


def find() -> str | None:
    """The Chromium binary, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str


def _run(binary: str, args: list[str]) -> Run:
    with tempfile.TemporaryDirectory(prefix="netwarden-chromium-") as profile:
        command = [
            binary,
            "--headless=new",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--hide-scrollbars",
            "--proxy-server=127.0.0.1:9",  # nothing to fetch: any attempt fails fast
            f"--user-data-dir={profile}",
            *(["--no-sandbox"] if os.geteuid() == 0 else []),
            *args,
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired as exc:
            return Run(-1, "", f"chromium did not finish in {TIMEOUT:g} s: {exc}")
        return Run(done.returncode, done.stdout, done.stderr)


def screenshot(binary: str, page: Path, png: Path, height: int) -> Run:
    """``page`` (a local HTML file) drawn into ``png``, :data:`WIDTH` x ``height`` pixels."""
    return _run(
        binary,
        [
            f"--window-size={WIDTH},{height}",
            "--force-device-scale-factor=1",
            f"--screenshot={png.resolve()}",
            page.resolve().as_uri(),
        ],
    )


def dump_dom(binary: str, page: Path) -> Run:
    """The DOM of ``page`` after Chromium loaded it; console messages go to stderr
    (``CONSOLE`` lines), so a Content-Security-Policy violation shows there."""
    return _run(
        binary,
        [
            "--enable-logging=stderr",
            "--v=0",
            f"--window-size={WIDTH},2000",
            "--dump-dom",
            page.resolve().as_uri(),
        ],
    )
