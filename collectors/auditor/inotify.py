"""Which files of a directory were closed after writing or moved into it (Linux inotify).

:class:`WatchDirSource` learns that a capture file is complete from these events
the moment it happens (``IN_CLOSE_WRITE``: the writer closed it, as ``tcpdump
-G``/``-C`` does when it rotates, and ``cp`` when it is done; ``IN_MOVED_TO``: a
finished file renamed into the directory, the atomic way of dropping one), rather
than after the file has been unchanged for ``settle_seconds``.

Through ``ctypes`` on the C library: no dependency. Where inotify is missing (not
Linux) or refused (``fs.inotify.max_user_instances``/``max_user_watches`` reached:
``EMFILE``/``ENOSPC``), :func:`open_watch` returns None and the directory is polled
as before.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import logging
import os
import select
import struct
import sys
from pathlib import Path
from typing import Final

logger = logging.getLogger(__name__)

IN_CLOSE_WRITE: Final = 0x00000008
IN_MOVED_TO: Final = 0x00000080
IN_ISDIR: Final = 0x40000000
_HEADER: Final = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len (+ name)


class DirWatch:
    """An inotify descriptor watching one directory for files closed or moved in.

    Use :func:`open_watch`; ``close()`` releases the descriptor.
    """

    def __init__(self, fd: int, directory: Path) -> None:
        self.fd = fd
        self.directory = directory

    def wait(self, timeout: float) -> list[str]:
        """Names closed after writing or moved in, waiting up to ``timeout`` s for the first."""
        try:
            ready, _, _ = select.select([self.fd], [], [], max(timeout, 0.0))
        except (OSError, ValueError):  # closed meanwhile (stop from another thread)
            return []
        if not ready:
            return []
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return []
        except OSError as exc:
            logger.warning("inotify on %s: %s", self.directory, exc)
            return []
        return self._names(data)

    def _names(self, data: bytes) -> list[str]:
        names = []
        offset = 0
        while offset + _HEADER.size <= len(data):
            _, mask, _, length = _HEADER.unpack_from(data, offset)
            raw = data[offset + _HEADER.size : offset + _HEADER.size + length]
            offset += _HEADER.size + length
            # IN_Q_OVERFLOW (events dropped) has no name: the polling rules find those files
            if not mask & IN_ISDIR and raw:
                names.append(os.fsdecode(raw.rstrip(b"\0")))
        return names

    def close(self) -> None:
        """Release the descriptor (once)."""
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)


def open_watch(directory: Path) -> DirWatch | None:
    """An inotify watch of ``directory``, or None where inotify is unavailable (polling)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        init1, add_watch = libc.inotify_init1, libc.inotify_add_watch
    except (OSError, AttributeError) as exc:
        logger.info("inotify unavailable (%s): polling %s", exc, directory)
        return None
    add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    fd = init1(os.O_NONBLOCK | os.O_CLOEXEC)
    if fd < 0:
        _refused("inotify_init1", ctypes.get_errno(), directory)
        return None
    if add_watch(fd, os.fsencode(directory), IN_CLOSE_WRITE | IN_MOVED_TO) < 0:
        code = ctypes.get_errno()
        os.close(fd)
        _refused("inotify_add_watch", code, directory)
        return None
    return DirWatch(fd, directory)


def _refused(call: str, code: int, directory: Path) -> None:
    hint = (
        " (raise fs.inotify.max_user_instances / max_user_watches)"
        if code in {errno.EMFILE, errno.ENOSPC}
        else ""
    )
    logger.warning(
        "%s on %s failed: %s%s; polling the directory instead",
        call,
        directory,
        os.strerror(code),
        hint,
    )
