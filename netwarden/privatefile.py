"""Files only their owner reads: result files and rendered configs.

Apply results and plans hold device diffs (redacted, but still a map of the
network); rendered configs hold the keys they push. Such a file is created
``0600`` from its first byte (``mkstemp``, never ``chmod`` after the write,
which leaves a window), in a directory created ``0700``, and replaces any older
file atomically, so a file written by an older version with ``0644`` is not
kept with its old mode.

Examples:
    >>> import tempfile, stat
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = write_private(Path(tmp) / "new" / "result.json", "{}\\n")
    ...     oct(stat.S_IMODE(path.stat().st_mode)), oct(stat.S_IMODE(path.parent.stat().st_mode))
    ('0o600', '0o700')
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """Create ``path`` and its missing parents ``0700``; an existing directory keeps its mode."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=DIR_MODE, exist_ok=True)
    return path


def write_private(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` as a ``0600`` file, atomically; return ``path``.

    Raises:
        OSError: the directory cannot be created or written.
    """
    private_dir(path.parent)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return path
