"""``netwarden lab status`` and ``lab exec``: what runs, what it costs, entering a node.

Resource figures are read from the kernel, not from the state file: the namespaces
that exist, the processes whose network namespace is one of them (``/proc/<pid>/ns/net``),
and their memory summed: ``VmRSS`` (shared pages count once per process, an upper
bound) and PSS (``smaps_rollup``: shared pages divided among their users).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from netwarden.basemodel import FrozenModel
from netwarden.errors import LabError, LabNotFoundError
from netwarden.lab.ns import netops
from netwarden.lab.ns.record import parse_pid_ident, proc_starttime
from netwarden.lab.ns.state import LAB_MARKER, LabState, NodeEntry, is_lab_dir, read_state


class Figures(FrozenModel):
    """The lab's cost: namespaces, processes in them, memory summed over the processes.

    ``rss_bytes`` counts a shared page once per process that maps it (an upper
    bound); ``pss_bytes`` divides it among them (what the lab adds to the machine).
    """

    namespaces: int
    processes: int
    rss_bytes: int
    pss_bytes: int


class NodeStatus(FrozenModel):
    name: str
    kind: str
    netns: str
    site: str | None
    present: bool
    processes: int
    addresses: tuple[str, ...]


class AuditorStatus(FrozenModel):
    """A sensor's traffic auditor (``lab up --sensors``): running, and what it wrote."""

    sensor: str
    site: str
    running: bool
    events_file: str
    events: int
    """Lines in the events file (an incident updated is written again)."""


def _lines(path: str) -> int:
    try:
        with Path(path).open("rb") as handle:
            return sum(1 for _ in handle)
    except OSError:
        return 0


class LabStatus(FrozenModel):
    """What ``lab status`` reports (``--json`` prints it)."""

    lab_dir: str
    lab_id: str
    prefix: str
    source: str
    created: float
    phase: str
    running: bool
    nodes_by_kind: dict[str, int]
    missing_namespaces: tuple[str, ...]
    dead_processes: tuple[str, ...]
    figures: Figures
    nodes: tuple[NodeStatus, ...]
    auditors: tuple[AuditorStatus, ...] = ()


def _inodes(namespaces: Iterable[str]) -> dict[int, str]:
    found: dict[int, str] = {}
    for name in namespaces:
        ino = netops.netns_inode(name)
        if ino is not None:
            found[ino] = name
    return found


def lab_processes(namespaces: Iterable[str]) -> dict[int, str]:
    """Live processes in the lab's namespaces: pid -> namespace."""
    return netops.pids_in_netns(_inodes(namespaces))


def figures(namespaces: Iterable[str]) -> Figures:
    names = list(namespaces)
    present = netops.netns_names()
    procs = lab_processes(names)
    return Figures(
        namespaces=sum(1 for n in names if n in present),
        processes=len(procs),
        rss_bytes=sum(netops.rss_bytes(pid) for pid in procs),
        pss_bytes=sum(netops.pss_bytes(pid) for pid in procs),
    )


def management_node(nodes: dict[str, NodeEntry]) -> str | None:
    """A node to work from: the first server with only a management address (jed-mon1 in
    the example), else the first server."""
    servers = sorted(name for name, n in nodes.items() if n.kind == "server")
    single = [name for name in servers if len(nodes[name].addresses) == 1]
    chosen = single or servers
    return chosen[0] if chosen else None


def pid_alive(ident: str) -> bool:
    """Whether the recorded process (``pid:starttime``) still runs (not a reused pid)."""
    pid, start = parse_pid_ident(ident)
    try:
        if proc_starttime(pid) != start:
            return False
        state = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except (ProcessLookupError, OSError, ValueError):
        return False
    return state[state.rindex(")") + 2 :].split()[0] not in ("Z", "X")


def lab_alive(state: LabState) -> bool:
    """Every namespace the state records exists."""
    present = netops.netns_names()
    return all(name in present for name in state.namespaces())


def lab_status(lab_dir: Path) -> LabStatus:
    """The lab in ``lab_dir`` as the kernel shows it.

    Raises:
        LabNotFoundError: ``lab_dir`` is no lab directory or holds no state.
    """
    state = _state_of(lab_dir)
    present = netops.netns_names()
    procs = lab_processes(state.namespaces())
    per_ns: dict[str, int] = {}
    for ns in procs.values():
        per_ns[ns] = per_ns.get(ns, 0) + 1
    missing = tuple(n for n in state.namespaces() if n not in present)
    dead = tuple(
        f"{e.ident} ({', '.join(f'{k}={v}' for k, v in e.extra.items())})"
        for e in state.of_kind("pid")
        if not pid_alive(e.ident)
    )
    counts: dict[str, int] = {}
    nodes = []
    for name, entry in state.header.nodes.items():
        counts[entry.kind] = counts.get(entry.kind, 0) + 1
        nodes.append(
            NodeStatus(
                name=name,
                kind=entry.kind,
                netns=entry.netns,
                site=entry.site,
                present=entry.netns in present,
                processes=per_ns.get(entry.netns, 0),
                addresses=entry.addresses,
            )
        )
    return LabStatus(
        lab_dir=str(lab_dir),
        lab_id=state.header.lab_id,
        prefix=state.header.prefix,
        source=state.header.source,
        created=state.header.created,
        phase=state.phase,
        running=state.ready and not missing,
        nodes_by_kind=counts,
        missing_namespaces=missing,
        dead_processes=dead,
        figures=figures(state.namespaces()),
        nodes=tuple(nodes),
        auditors=tuple(
            AuditorStatus(
                sensor=e.extra.get("host", ""),
                site=e.extra.get("site", ""),
                running=pid_alive(e.ident),
                events_file=e.extra.get("events", ""),
                events=_lines(e.extra.get("events", "")),
            )
            for e in state.of_kind("pid")
            if e.extra.get("role") == "auditor"
        ),
    )


def _state_of(lab_dir: Path) -> LabState:
    if not lab_dir.is_dir() or not is_lab_dir(lab_dir):
        raise LabNotFoundError(
            f"{lab_dir} is not a lab directory (no {LAB_MARKER}); see lab up --out"
        )
    state = read_state(lab_dir)
    if state is None:
        raise LabNotFoundError(
            f"{lab_dir}: no lab state (a lab sim directory, or lab up never started)"
        )
    return state


def node_netns(lab_dir: Path, node: str) -> str:
    """The namespace of ``node`` (a node name such as ``jed-mon1``, ``nyc-staff-c1``,
    ``wan``, or a namespace name of the lab).

    Raises:
        LabError: unknown node (close names are suggested) or its namespace is gone.
    """
    state = _state_of(lab_dir)
    nodes = state.header.nodes
    netns = nodes[node].netns if node in nodes else None
    if netns is None and node in state.namespaces():
        netns = node
    if netns is None:
        import difflib  # noqa: PLC0415

        close = difflib.get_close_matches(node, list(nodes), n=4)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise LabError(
            f"{node!r} is no node of the lab in {lab_dir}{hint} (`netwarden lab status` lists them)"
        )
    if netns not in netops.netns_names():
        raise LabError(f"{node}: its namespace {netns} does not exist (is the lab up?)")
    return netns


def exec_argv(lab_dir: Path, node: str, command: list[str]) -> list[str]:
    """The command line that runs ``command`` in ``node``'s network namespace."""
    if not command:
        raise LabError("no command given; usage: netwarden lab exec NODE -- COMMAND [ARGS...]")
    return ["ip", "netns", "exec", node_netns(lab_dir, node), *command]


def age(created: float) -> str:
    """``3m 05s``-style age of something created at ``created`` (epoch seconds)."""
    seconds = max(0, int(time.time() - created))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"
