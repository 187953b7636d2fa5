"""The commands that build and inspect namespaces: ``ip``, ``tc``, ``nft``, ``sysctl``.

Everything goes through :func:`run`, which names the command and its error output
when it fails (:class:`~netwarden.errors.LabCommandError`) and bounds it with a
timeout. Many changes go to one ``ip -batch -`` (or ``tc -batch -``) per namespace:
a process per namespace, not per change. Nothing here touches the host namespace
except reading it (:func:`host_links`) and creating veths *directly inside* lab
namespaces (``ip link add NAME netns A type veth peer name PEER netns B``).

Processes are found by their network namespace: ``/proc/<pid>/ns/net`` is the same
inode as ``/run/netns/<name>`` (what ``ip netns pids`` does), read in Python.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from netwarden.errors import LabCommandError

logger = logging.getLogger(__name__)

NETNS_DIR = Path("/run/netns")
DEFAULT_TIMEOUT = 60.0


def run(
    args: Sequence[str],
    *,
    stdin: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``args``; on failure raise with the command line and its error output."""
    try:
        done = subprocess.run(
            list(args),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise LabCommandError(f"`{' '.join(args)}` did not finish in {timeout:g} s") from exc
    except FileNotFoundError as exc:
        raise LabCommandError(f"`{args[0]}` is not installed (needed for the lab)") from exc
    if check and done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()
        first = stdin.splitlines()[0] if stdin else ""
        where = f" (input starting {first!r})" if first else ""
        raise LabCommandError(f"`{' '.join(args)}`{where} failed ({done.returncode}): {detail}")
    return done


def ip_batch(lines: Iterable[str], netns: str | None = None) -> None:
    """``ip [-n NETNS] -batch -`` with ``lines`` (nothing when there are none)."""
    text = "".join(f"{line}\n" for line in lines)
    if text:
        run(["ip", *(("-n", netns) if netns else ()), "-batch", "-"], stdin=text)


def tc_batch(lines: Iterable[str], netns: str) -> None:
    text = "".join(f"{line}\n" for line in lines)
    if text:
        run(["tc", "-n", netns, "-batch", "-"], stdin=text)


def ns_exec(netns: str, args: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """``ip netns exec NETNS args...`` through :func:`run`."""
    return run(["ip", "netns", "exec", netns, *args], **kwargs)


def sysctl(netns: str, settings: Mapping[str, str]) -> None:
    """Set kernel settings inside ``netns`` (``net.*`` keys are per namespace)."""
    if settings:
        ns_exec(netns, ["sysctl", "-q", "-w", *(f"{k}={v}" for k, v in settings.items())])


def nft_load(netns: str, ruleset: str) -> None:
    ns_exec(netns, ["nft", "-f", "-"], stdin=ruleset)


def nft_ruleset(netns: str | None) -> str:
    args = ["nft", "list", "ruleset"]
    return (ns_exec(netns, args) if netns else run(args)).stdout


def ip_json(args: Sequence[str], netns: str | None = None) -> list[dict[str, Any]]:
    """``ip -j [-n NETNS] args...`` parsed (an empty list for empty output)."""
    out = run(["ip", "-j", *(("-n", netns) if netns else ()), *args]).stdout.strip()
    data = json.loads(out) if out else []
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []


def ip_json_batch(commands: Sequence[str], netns: str | None = None) -> list[list[dict[str, Any]]]:
    """``ip -j -d [-n NETNS] -batch -`` with ``commands``: one parsed JSON list per command."""
    text = run(
        ["ip", "-j", "-d", *(("-n", netns) if netns else ()), "-batch", "-"],
        stdin="".join(f"{c}\n" for c in commands),
    ).stdout
    decoder = json.JSONDecoder()
    out: list[list[dict[str, Any]]] = []
    pos = 0
    while len(out) < len(commands):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            out.append([])  # a command that printed nothing
            continue
        value, pos = decoder.raw_decode(text, pos)
        out.append([d for d in value if isinstance(d, dict)] if isinstance(value, list) else [])
    return out


def netns_names() -> set[str]:
    """The named network namespaces (``/run/netns``), without running ``ip``."""
    try:
        return {p.name for p in NETNS_DIR.iterdir()}
    except FileNotFoundError:
        return set()


def netns_inode(name: str) -> int | None:
    try:
        return (NETNS_DIR / name).stat().st_ino
    except OSError:
        return None


def pids_in_netns(inodes: Mapping[int, str]) -> dict[int, str]:
    """Processes whose network namespace is one of ``inodes`` (inode -> name): pid -> name."""
    found: dict[int, str] = {}
    if not inodes:
        return found
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            ino = Path(entry.path, "ns", "net").stat().st_ino
        except OSError:
            continue  # gone, or a kernel thread
        if ino in inodes:
            found[int(entry.name)] = inodes[ino]
    return found


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` (0 when it is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def pss_bytes(pid: int) -> int:
    """Proportional set size of ``pid``: shared pages divided among their users (0 if gone)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text(encoding="ascii", errors="replace")
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def host_links() -> list[dict[str, Any]]:
    """The host namespace's links with details (kind, peer namespace id)."""
    return ip_json(["-d", "link", "show"])


def netns_ids(netns: str | None = None) -> dict[int, str]:
    """Namespace id -> name as seen from ``netns`` (the host when None), for named ones."""
    out: dict[int, str] = {}
    for item in ip_json(["netns", "list-id"], netns):
        nsid, name = item.get("nsid"), item.get("name")
        if isinstance(nsid, int) and isinstance(name, str):
            out[nsid] = name
    return out


def mounts() -> list[str]:
    """The host mount table's mount points (``/proc/self/mountinfo``, field 5)."""
    points: list[str] = []
    for line in Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if len(fields) > 4:
            points.append(fields[4].encode().decode("unicode_escape"))
    return points
