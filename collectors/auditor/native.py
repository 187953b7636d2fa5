"""The auditor's compiled inner loops: ``native.c``, built with the system C compiler.

A few loops cannot be vectorised, or cost too much as numpy passes: walking the
record chain of a capture file (each record's offset depends on the previous
record's length, :mod:`collectors.auditor.walk`) and decoding packet headers
(:mod:`collectors.auditor.headers`: one pass over each packet instead of dozens
of whole-batch array operations), taking packets out of the live capture
ring (:mod:`collectors.auditor.ring`: a block walk with the kernel's memory
order), and the scan detectors' state: the pending connection attempts
(:mod:`collectors.auditor.detectors._attempts`: a hash table probed per SYN and
per answer, where Python paid a dictionary operation and an int per packet) and
``address_scan``'s scanners (victims, ports and bounds per scanner, updated per
failed attempt), and the DNS questions of a batch (``dns_tunnel``: parsed and scored,
then grouped by exact names). They live in ``native.c``, plain C11 without Python
headers (linked with ``-lm``, built without fused multiply-add so a float sum is the
one Python computes), called through :mod:`ctypes` on numpy arrays the caller allocates.

Build: :func:`library` compiles ``native.c`` with ``cc -O2`` the first time it is
needed into ``_native-<hash of the source and compiler>.so`` beside it (or in
``~/.cache/netwarden/`` when the package directory is read-only or holds a build
this user cannot load); a changed source gets a new file, so a stale build is never
loaded, and the builds of earlier sources are removed. ``scripts/bootstrap.sh``
builds it (``python -m collectors.auditor.native``), so ``make test`` and ``make
demo`` do not compile at run time. Without a compiler, or with
``NETWARDEN_NO_NATIVE=1``, :func:`library` returns None and the callers use their
pure Python/numpy code, which gives the same results more slowly (the tests run
both; docs/decisions.md 21).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

logger = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("native.c")
DISABLE_ENV = "NETWARDEN_NO_NATIVE"
_CFLAGS = ("-O2", "-std=c11", "-shared", "-fPIC", "-Wall", "-ffp-contract=off")
# (-ffp-contract=off: no fused multiply-add, so a float sum is the one Python computes)
_LIBS = ("-lm",)
# (no -Werror here: a newer compiler's new warning must not cost the fast path; the
# tests compile with -Wextra -Werror to keep the source clean)

_I64 = ctypes.c_int64
_I32 = ctypes.c_int32
_P = ctypes.c_void_p
_D = ctypes.c_double


def _compiler() -> list[str] | None:
    """The C compiler command (``$CC``, which may carry arguments, e.g. ``ccache gcc``)."""
    command = shlex.split(os.environ.get("CC") or "cc")
    found = shutil.which(command[0]) if command else None
    return [found, *command[1:]] if found else None


def _target(cc: list[str]) -> list[Path]:
    """Where the build of this source by this compiler may be (package dir, then user cache)."""
    digest = hashlib.sha256(SOURCE.read_bytes())
    digest.update(" ".join((*cc, *_CFLAGS, *_LIBS, sys.platform, os.uname().machine)).encode())
    name = f"_native-{digest.hexdigest()[:16]}.so"
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return [SOURCE.with_name(name), cache_home / "netwarden" / name]


def _compile(cc: list[str], path: Path) -> bool:
    """Compile into ``path`` (atomically); False when the directory is not writable.

    Raises:
        subprocess.SubprocessError, OSError: the compiler failed.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix="_native-tmp-", suffix=".so", dir=path.parent)
    except OSError:
        return False
    os.close(fd)
    try:
        subprocess.run(
            [*cc, *_CFLAGS, "-o", tmp, str(SOURCE), *_LIBS],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        Path(tmp).chmod(0o755)  # mkstemp's 0600 would keep other users (a sensor's) out
        Path(tmp).replace(path)  # atomic: a concurrent build leaves one whole file
    finally:
        Path(tmp).unlink(missing_ok=True)
    for old in path.parent.glob("_native-*.so"):  # earlier sources' builds (best effort)
        if old != path and not old.name.startswith("_native-tmp-"):
            with contextlib.suppress(OSError):
                old.unlink()
    return True


def _load(path: Path) -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(str(path))
    except OSError as exc:
        logger.warning("could not load %s (%s)", path, exc)
        return None


def build() -> Path | None:
    """Compile ``native.c`` unless a loadable build exists; its path, or None if impossible.

    The package directory is tried first, then ``~/.cache/netwarden`` (read-only
    package, or a build there that this user cannot load).
    """
    built = _build()
    return built[0] if built is not None else None


def _build() -> tuple[Path, ctypes.CDLL] | None:
    """:func:`build`, returning the library it loaded as well as its path."""
    cc = _compiler()
    if cc is None:
        logger.warning("no C compiler (cc) found: the auditor uses its slower pure Python loops")
        return None
    for path in _target(cc):
        if not path.is_file():
            try:
                if not _compile(cc, path):
                    continue  # not writable: try the next place
            except (OSError, subprocess.SubprocessError) as exc:
                detail = getattr(exc, "stderr", "") or exc
                logger.warning(
                    "could not compile %s (%s): using the pure Python loops", SOURCE, detail
                )
                return None
        lib = _load(path)
        if lib is not None:
            return path, lib
    logger.warning("no usable place for the compiled %s: using the pure Python loops", SOURCE)
    return None


@cache
def library() -> ctypes.CDLL | None:
    """The loaded kernels (built if needed), or None: then use the pure Python code."""
    if os.environ.get(DISABLE_ENV):
        return None
    built = _build()
    if built is None:
        return None
    lib = built[1]
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
        _P,
        _I64,
    ]
    lib.nw_decode.restype = _I64
    lib.nw_decode.argtypes = [_P, _I64, _P, _P, _P, _I64, _I64, _P]
    lib.nw_decode_layout.restype = ctypes.c_char_p
    lib.nw_decode_layout.argtypes = []
    lib.nw_tp3_take.restype = _I64
    lib.nw_tp3_take.argtypes = [_P, _I64, _I64, _I64, _I64, _P, _I64, _P, _P, _P, _P, _I64, _P, _P]
    lib.nw_pend_new.restype = _P
    lib.nw_pend_new.argtypes = []
    lib.nw_pend_free.restype = None
    lib.nw_pend_free.argtypes = [_P]
    lib.nw_pend_len.restype = _I64
    lib.nw_pend_len.argtypes = [_P]
    lib.nw_pend_syns.restype = _I64
    lib.nw_pend_syns.argtypes = [_P, _P, _P, _P, _I64, _I64, _P, _P, _P, _P]
    lib.nw_pend_answer.restype = _I64
    lib.nw_pend_answer.argtypes = [_P, _P, _P, _I64, _P]
    lib.nw_pend_expire.restype = _I64
    lib.nw_pend_expire.argtypes = [_P, _D, _D, _P, _P, _P, _I64]
    lib.nw_pend_items.restype = _I64
    lib.nw_pend_items.argtypes = [_P, _P, _P, _P]
    for name, restype, argtypes in (
        ("nw_as_new", _P, [_I64, _I64, _I64, _D]),
        ("nw_as_free", None, [_P]),
        ("nw_as_len", _I64, [_P]),
        ("nw_as_snap_size", _I64, []),
        ("nw_as_failed", _I64, [_P, _P, _P, _P, _P, _I64, _I32, _P, _P]),
        ("nw_as_changed_len", _I64, [_P]),
        ("nw_as_take_changed", _I64, [_P, _P, _P]),
        ("nw_as_snapshot", _I64, [_P, ctypes.c_uint32, _P]),
        ("nw_as_active_len", _I64, [_P]),
        ("nw_as_drop_idle", _I64, [_P, _D, _P, _P]),
        ("nw_bootp", None, [_P, _P, _P, _I64, _P, _P]),
        ("nw_intern", _I64, [_P, _P, _P, _I64, _P, _P, _I64]),
        ("nw_dns_questions", None, [_P, _P, _P, _I64, _I64, _I64, _D, _I64, _D, _I64, _P, _P]),
    ):
        getattr(lib, name).restype = restype
        getattr(lib, name).argtypes = argtypes
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
