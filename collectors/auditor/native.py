"""The auditor's compiled inner loops: ``native.c``, built with the system C compiler.

A few loops cannot be vectorised, or cost too much as numpy passes: walking the
record chain of a capture file (each record's offset depends on the previous
record's length, :mod:`collectors.auditor.walk`) and decoding packet headers
(:mod:`collectors.auditor.headers`: one pass over each packet instead of dozens
of whole-batch array operations). They live in ``native.c``, plain C11 without
Python headers, called through :mod:`ctypes` on numpy arrays the caller allocates.

Build: :func:`library` compiles ``native.c`` with ``cc -O2`` the first time it is
needed into ``_native-<hash of the source and compiler>.so`` beside it (or
``~/.cache/netwarden/`` when the package directory is read-only); a changed source
gets a new file, so a stale build is never loaded. ``scripts/bootstrap.sh``
builds it (``python -m collectors.auditor.native``), so ``make test`` and ``make
demo`` do not compile at run time. Without a compiler, or with
``NETWARDEN_NO_NATIVE=1``, :func:`library` returns None and the callers use their
pure Python/numpy code, which gives the same results more slowly (the tests run
both; docs/decisions.md 21).
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

logger = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("native.c")
DISABLE_ENV = "NETWARDEN_NO_NATIVE"
_CFLAGS = ("-O2", "-std=c11", "-shared", "-fPIC", "-Wall", "-Werror")

_I64 = ctypes.c_int64
_I32 = ctypes.c_int32
_P = ctypes.c_void_p


def _compiler() -> str | None:
    return shutil.which(os.environ.get("CC", "cc"))


def _target(cc: str) -> list[Path]:
    """Where the build of this source by this compiler may be (package dir, then user cache)."""
    digest = hashlib.sha256(SOURCE.read_bytes())
    digest.update(" ".join((cc, *_CFLAGS, sys.platform, os.uname().machine)).encode())
    name = f"_native-{digest.hexdigest()[:16]}.so"
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return [SOURCE.with_name(name), cache_home / "netwarden" / name]


def build() -> Path | None:
    """Compile ``native.c`` unless an up-to-date build exists; its path, or None if impossible."""
    cc = _compiler()
    if cc is None:
        logger.warning("no C compiler (cc) found: the auditor uses its slower pure Python loops")
        return None
    candidates = _target(cc)
    for path in candidates:
        if path.is_file():
            return path
    for path in candidates:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(suffix=".so", dir=path.parent)
        except OSError:
            continue  # not writable: try the next place
        os.close(fd)
        try:
            subprocess.run(
                [cc, *_CFLAGS, "-o", tmp, str(SOURCE)],
                check=True,
                capture_output=True,
                text=True,
                timeout=120,
            )
            Path(tmp).replace(path)  # atomic: a concurrent build leaves one whole file
        except (OSError, subprocess.SubprocessError) as exc:
            Path(tmp).unlink(missing_ok=True)
            detail = getattr(exc, "stderr", "") or exc
            logger.warning("could not compile %s (%s): using the pure Python loops", SOURCE, detail)
            return None
        return path
    logger.warning("no writable place for the compiled %s: using the pure Python loops", SOURCE)
    return None


@cache
def library() -> ctypes.CDLL | None:
    """The loaded kernels (built if needed), or None: then use the pure Python code."""
    if os.environ.get(DISABLE_ENV):
        return None
    path = build()
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as exc:
        logger.warning("could not load %s (%s): using the pure Python loops", path, exc)
        return None
    lib.nw_walk.restype = _I64
    lib.nw_walk.argtypes = [
        _P,
        _I64,
        _I64,
        _I32,
        _I64,
        _I64,
        _I64,
        _I64,
        _I64,
        _I64,
        _P,
        _I64,
        _P,
        _P,
    ]
    lib.nw_decode.restype = _I64
    lib.nw_decode.argtypes = [_P, _I64, _P, _P, _P, _I64, _I64, _P]
    lib.nw_decode_layout.restype = ctypes.c_char_p
    lib.nw_decode_layout.argtypes = []
    return lib


def main() -> int:
    """Build (``python -m collectors.auditor.native``): 0 when the kernels load, else 1."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    lib = library()
    if lib is None:
        return 1
    logger.info("auditor kernels: %s", lib._name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
