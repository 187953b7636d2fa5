"""Who runs netwarden: one answer for commit messages, locks, result files and audit runs."""

from __future__ import annotations

import getpass
import os


def current_user() -> str:
    """Who runs the command or the playbook (``$USER``, else the passwd entry, else ``uid N``).

    Examples:
        >>> isinstance(current_user(), str) and current_user() != ""
        True
    """
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return f"uid {os.getuid()}"
