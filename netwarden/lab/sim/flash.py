"""The simulated ``flash:`` file system: ``dir``, ``more``, ``verify /md5``, ``delete``.

Files are bytes in memory; the IOS image is a size-only placeholder so a device
costs no memory for it.

Examples:
    >>> from datetime import datetime
    >>> fs = Flash(total=1_000_000)
    >>> fs.write("flash:/a.txt", b"hello\\n", datetime(2024, 1, 2, 3, 4, 5))
    >>> fs.free()
    999994
    >>> fs.md5_line("flash:a.txt")
    'verify /md5 (flash:a.txt) = b1946ac92492d2347c6235b4d2611184'
    >>> split_path("flash:/archive/x-1")
    ('flash', 'archive/x-1')
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime

logger = logging.getLogger(__name__)


@dataclass
class FlashFile:
    data: bytes | None  # None: a placeholder (the image) of ``size`` bytes
    size: int
    mtime: datetime
    index: int


def split_path(path: str) -> tuple[str, str]:
    """``("flash", "name")`` from ``flash:/name``, ``flash:name`` or a bare ``name``."""
    if ":" in path:
        fs, _, name = path.partition(":")
    else:
        fs, name = "flash", path
    return fs.lower(), name.lstrip("/")


@dataclass
class Flash:
    """One flash file system."""

    total: int = 122_185_728
    files: dict[str, FlashFile] = field(default_factory=dict)
    _next_index: int = 2

    def write(self, path: str, data: bytes, when: datetime) -> None:
        _fs, name = split_path(path)
        self.files[name] = FlashFile(data, len(data), when, self._index_for(name))

    def place(self, name: str, size: int, when: datetime) -> None:
        """Add a size-only file (the IOS image)."""
        self.files[name] = FlashFile(None, size, when, self._index_for(name))

    def _index_for(self, name: str) -> int:
        existing = self.files.get(name)
        if existing is not None:
            return existing.index
        self._next_index += 1
        return self._next_index

    def read(self, path: str) -> bytes | None:
        _fs, name = split_path(path)
        entry = self.files.get(name)
        if entry is None:
            return None
        if entry.data is None:
            return hashlib.sha256(name.encode()).digest() * (64 // 32)
        return entry.data

    def exists(self, path: str) -> bool:
        return split_path(path)[1] in self.files

    def delete(self, path: str) -> bool:
        return self.files.pop(split_path(path)[1], None) is not None

    def used(self) -> int:
        return sum(f.size for f in self.files.values())

    def free(self) -> int:
        return max(self.total - self.used(), 0)

    def dir_text(self, path: str) -> str:
        """``dir [path]`` as IOS prints it; an error line when the file is missing."""
        fs, name = split_path(path) if path else ("flash", "")
        if fs not in ("flash", "bootflash"):
            return f"%Error opening {path} (No such file or directory)"
        display = f"{fs}:/{name}"
        if name and not name.endswith("/"):
            entry = self.files.get(name)
            if entry is None:
                return f"%Error opening {display} (No such file or directory)"
            listing = [(name.rsplit("/", 1)[-1], entry)]
        else:
            prefix = name
            listing = [
                (n[len(prefix) :], f)
                for n, f in sorted(self.files.items(), key=lambda item: item[1].index)
                if n.startswith(prefix)
            ]
        lines = [f"Directory of {display}", ""]
        for shown, entry in listing:
            stamp = entry.mtime.strftime("%b %d %Y %H:%M:%S")
            lines.append(f"{entry.index:>6}  -rw-{entry.size:>13}  {stamp} +00:00  {shown}")
        if not listing:
            lines.append("No files in directory")
        lines += ["", f"{self.total} bytes total ({self.free()} bytes free)"]
        return "\n".join(lines)

    def md5_line(self, path: str) -> str:
        data = self.read(path)
        if data is None:
            return f"%Error opening {path} (No such file or directory)"
        digest = hashlib.md5(data, usedforsecurity=False).hexdigest()
        return f"verify /md5 ({path}) = {digest}"
