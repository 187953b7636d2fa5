"""A lab server's root: an overlay over ``/`` with its own /proc, /dev, /run and /tmp.

Called by the holder (``server_init``) inside its own mount namespace (private
propagation: nothing mounted here is seen by the host) and pid namespace:

- ``<node>/root`` = overlay (lowerdir ``/``, upperdir ``<node>/upper``, workdir
  ``<node>/work``): the host's files, copy-on-write, every write kept in the lab;
- ``/proc`` of the server's pid namespace, ``/sys`` of its network namespace (read-only);
- ``/dev``: a small tmpfs with the usual nodes bound from the host, a private devpts
  and ``/dev/shm`` (nothing a server creates in ``/dev``, such as ``/dev/log``,
  reaches the host's);
- ``/run`` and ``/tmp``: tmpfs;
- the lab directory itself hidden under an empty read-only tmpfs (a server never
  reads the lab's keys, vault password or the other servers' files);
- then ``pivot_root`` into it and the host's tree detached.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import platform
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MNT_DETACH = 0x2
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
DEVICE_NODES = ("null", "zero", "full", "random", "urandom", "tty", "net/tun")
_FORBIDDEN_IN_OPTIONS = (",", ":", "\\", "\n")

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(source: str, target: Path, fstype: str | None, flags: int = 0, data: str = "") -> None:
    """mount(2); raises OSError naming the target."""
    _check(
        _libc.mount(
            source.encode(),
            str(target).encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {fstype or 'bind'} {source} on {target}",
    )


def umount(target: Path, flags: int = 0) -> None:
    """umount2(2)."""
    _check(_libc.umount2(str(target).encode(), flags), f"umount {target}")


def pivot_root(new_root: Path) -> None:
    """Make ``new_root`` the root of this mount namespace and detach the old one."""
    number = _PIVOT_ROOT.get(platform.machine())
    os.chdir(new_root)
    if number is None:  # an architecture we have no number for: chroot is second best
        logger.warning("pivot_root: unknown architecture %s; using chroot", platform.machine())
        os.chroot(".")
        os.chdir("/")
        return
    # pivot_root(".", "."): the old root is stacked under the new one, then detached.
    _check(_libc.syscall(number, b".", b"."), f"pivot_root into {new_root}")
    umount(Path(), MNT_DETACH)
    os.chdir("/")


def overlay_options(lower: Path, upper: Path, work: Path) -> str:
    """The overlay mount data; refuses paths the option syntax cannot carry.

    Examples:
        >>> overlay_options(Path("/"), Path("/lab/n/upper"), Path("/lab/n/work"))
        'lowerdir=/,upperdir=/lab/n/upper,workdir=/lab/n/work'
        >>> overlay_options(Path("/"), Path("/a,b/upper"), Path("/a,b/work"))
        Traceback (most recent call last):
        ...
        ValueError: overlay path /a,b/upper holds one of , : \\ or a line break; choose a lab directory without them
    """
    for path in (lower, upper, work):
        if any(c in str(path) for c in _FORBIDDEN_IN_OPTIONS):
            raise ValueError(
                f"overlay path {path} holds one of , : \\ or a line break; "
                "choose a lab directory without them"
            )
    return f"lowerdir={lower},upperdir={upper},workdir={work}"


def _bind_node(root: Path, name: str) -> None:
    source = Path("/dev") / name
    if not source.exists():
        return
    target = root / "dev" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.touch(mode=0o600, exist_ok=True)
    mount(str(source), target, None, MS_BIND)


def build_root(node: Path, lab_dir: Path) -> Path:
    """Mount the server's root under ``<node>/root`` (module docstring); return it."""
    upper, work, root = node / "upper", node / "work", node / "root"
    for directory in (upper, work, root):
        directory.mkdir(mode=0o755, exist_ok=True)
    # Nothing mounted from here on propagates anywhere (unshare --propagation private too).
    mount("none", Path("/"), None, MS_REC | MS_PRIVATE)
    mount("overlay", root, "overlay", 0, overlay_options(Path("/"), upper, work))
    for sub in ("proc", "sys", "dev", "run", "tmp"):
        (root / sub).mkdir(exist_ok=True)
    mount("proc", root / "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    mount("sysfs", root / "sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    mount("tmpfs", root / "dev", "tmpfs", MS_NOSUID, "mode=0755,size=1m")
    for name in DEVICE_NODES:
        _bind_node(root, name)
    (root / "dev/pts").mkdir()
    mount("devpts", root / "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
          "newinstance,ptmxmode=0666,mode=0620,gid=5")  # fmt: skip
    (root / "dev/shm").mkdir()
    mount("tmpfs", root / "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m")
    (root / "dev/ptmx").symlink_to("pts/ptmx")
    (root / "dev/fd").symlink_to("/proc/self/fd")
    for number, name in enumerate(("stdin", "stdout", "stderr")):
        (root / "dev" / name).symlink_to(f"/proc/self/fd/{number}")
    mount("tmpfs", root / "run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64m")
    mount("tmpfs", root / "tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=256m")
    for own in _own_code_under(Path("/tmp"), Path("/run")):  # noqa: S108  (a checkout there)
        target = root / own.relative_to("/")
        target.mkdir(parents=True, exist_ok=True)
        mount(str(own), target, None, MS_BIND | MS_REC)
        mount("none", target, None, MS_BIND | MS_REMOUNT | MS_RDONLY)
    hidden = root / lab_dir.relative_to("/")
    if hidden.is_dir():
        mount("tmpfs", hidden, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "mode=0700,size=4k")  # fmt: skip
    return root


def _own_code_under(*tmpfs: Path) -> list[Path]:
    """netwarden's interpreter prefix and package root where a lab tmpfs would hide them.

    Daemons written in Python (the lab's TACACS+ server) run with the holder's own
    interpreter; a checkout or venv under /tmp (a fresh clone in CI) would vanish under
    the server's private /tmp, so they are bound back, read-only, at the same paths.
    """
    import netwarden  # noqa: PLC0415  (the package's own location)

    wanted = {Path(sys.prefix).resolve(), Path(netwarden.__file__).resolve().parents[1]}
    found = [w for w in sorted(wanted) if any(w.is_relative_to(t) for t in tmpfs) and w.is_dir()]
    # a directory inside another is bound with it
    return [w for w in found if not any(w != o and w.is_relative_to(o) for o in found)]
