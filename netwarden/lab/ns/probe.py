"""Try cells of the connection matrix with real packets between lab namespaces.

:func:`probe_lab` places the chosen cells (:mod:`~netwarden.lab.ns.probeplan`),
then:

1. starts one *observer* per destination namespace (a short Python process under
   ``ip netns exec``): raw TCP, UDP and ICMP sockets that see every packet
   delivered to the host, whether or not a daemon listens, plus a TCP listener on
   each probed port that no daemon holds (so a handshake can complete);
2. runs one *prober* per source namespace: each TCP cell is a real ``connect()``
   from a fixed source port (1.5 s timeout), each UDP cell three datagrams from a
   fixed source port, each ICMP cell one echo request with its own identifier
   (1.5 s for the reply); at most 32 at a time;
3. closes the observers, which print what arrived.

A cell is *observed allowed* when its first packet arrived at the destination
(matched by source, source port or echo id, destination and port); an allowed
TCP cell must also complete its handshake, and an allowed ICMP cell must be
answered. Every loop is bounded: each observer exits after ``deadline`` seconds
whatever happens, each prober probe has its timeout. Only lab addresses are used,
from inside lab namespaces.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from netwarden.errors import LabError
from netwarden.inventory.matrix import connection_matrix
from netwarden.inventory.models import Inventory, Protocol
from netwarden.lab.ns.probeplan import (
    DEFAULT_SAMPLE,
    Probe,
    choose_cells,
    place_probes,
    testable_pairs,
)
from netwarden.lab.ns.state import read_state

logger = logging.getLogger(__name__)

FIRST_SPORT = 20000
OBSERVER_DEADLINE = 300.0
PARALLEL_SOURCES = 8

OBSERVER = r"""
import json, select, socket, struct, sys, time
spec = json.load(open(sys.argv[1]))
deadline = time.monotonic() + float(sys.argv[2])
listeners = []
for addr, port in spec["tcp"]:
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((addr, port)); s.listen(64); s.setblocking(False); listeners.append(s)
    except OSError:
        s.close()  # a daemon holds the port: it answers instead
raws = {p: socket.socket(socket.AF_INET, socket.SOCK_RAW, p) for p in (1, 6, 17)}
print("ready", flush=True)
seen = set()
while time.monotonic() < deadline:
    r, _, _ = select.select([*raws.values(), *listeners, sys.stdin], [], [], 0.5)
    for s in r:
        if s is sys.stdin:
            if not sys.stdin.readline():
                print(json.dumps(sorted(seen))); sys.exit(0)
        elif s in listeners:
            try:
                c, _ = s.accept(); c.close()
            except OSError:
                pass
        else:
            data, _ = s.recvfrom(65535)
            ihl = (data[0] & 15) * 4; proto = data[9]
            src = socket.inet_ntoa(data[12:16]); dst = socket.inet_ntoa(data[16:20])
            if proto == 1 and data[ihl] == 8:
                seen.add((src, dst, 1, struct.unpack("!H", data[ihl + 4:ihl + 6])[0], 0))
            elif proto in (6, 17):
                sp, dp = struct.unpack("!HH", data[ihl:ihl + 4])
                if proto == 17 or data[ihl + 13] & 0x12 == 0x02:
                    seen.add((src, dst, proto, sp, dp))
print(json.dumps(sorted(seen)))
"""

PROBER = r"""
import json, os, socket, struct, sys, time
from concurrent.futures import ThreadPoolExecutor
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack(f"!{len(b)//2}H", b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
def tcp(p):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST: no TIME_WAIT
    s.bind((p["src"], p["sport"])); s.settimeout(1.5)
    try:
        s.connect((p["dst"], p["port"])); return "connected"
    except ConnectionRefusedError:
        return "refused"
    except OSError as e:
        return "timeout" if isinstance(e, TimeoutError) else f"error {e.errno}"
    finally:
        s.close()
def udp(p):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((p["src"], p["sport"]))
    for _ in range(3):
        try:
            s.sendto(b"netwarden-probe", (p["dst"], p["port"]))
        except OSError:
            pass
        time.sleep(0.2)
    s.close(); return "sent"
def icmp(p):
    ident = p["sport"] & 0xffff
    head = struct.pack("!BBHHH", 8, 0, 0, ident, 1); body = b"netwarden-probe"
    pkt = struct.pack("!BBHHH", 8, 0, csum(head + body), ident, 1) + body
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.bind((p["src"], 0)); s.settimeout(0.3)
    end = time.monotonic() + 1.5
    try:
        try:
            s.sendto(pkt, (p["dst"], 0))
        except OSError as e:
            return f"error {e.errno}"
        while time.monotonic() < end:
            try:
                data, addr = s.recvfrom(2048)
            except (socket.timeout, TimeoutError):
                continue
            ihl = (data[0] & 15) * 4
            kind, _, _, got, _ = struct.unpack("!BBHHH", data[ihl:ihl + 8])
            if kind == 0 and got == ident and addr[0] == p["dst"]:
                return "answered"
        return "timeout"
    finally:
        s.close()
probes = json.load(open(sys.argv[1]))
fn = {"tcp": tcp, "udp": udp, "icmp": icmp}
with ThreadPoolExecutor(32) as pool:
    out = list(pool.map(lambda p: fn[p["proto"]](p), probes))
print(json.dumps(out))
"""


@dataclass(frozen=True)
class Observed:
    """A probed (or skipped) cell: what the policy says and what the lab did."""

    probe: Probe
    arrived: bool = False
    client: str = ""
    """The source's view: ``connected``/``refused``/``timeout`` (TCP), ``answered``/``timeout``
    (ICMP), ``sent`` (UDP)."""

    @property
    def skipped(self) -> bool:
        return self.probe.skip is not None

    @property
    def allowed(self) -> bool:
        """Observed allowed: arrived (and, TCP, connected; ICMP, answered)."""
        if self.probe.cell.proto is Protocol.TCP:
            return self.arrived and self.client == "connected"
        if self.probe.cell.proto is Protocol.ICMP:
            return self.arrived and self.client == "answered"
        return self.arrived

    @property
    def matches(self) -> bool:
        """Whether the lab agrees with the policy (a half-way outcome never does)."""
        if self.skipped:
            return True
        if self.probe.cell.allowed:
            return self.allowed
        return not self.arrived and self.client not in ("connected", "answered")


def _sport(i: int) -> int:
    return FIRST_SPORT + i


def _key(p: Probe, i: int) -> tuple[str, str, int, int, int]:
    c = p.cell
    if c.proto is Protocol.ICMP:
        return (str(p.src), str(p.dst), 1, _sport(i) & 0xFFFF, 0)
    return (str(p.src), str(p.dst), 6 if c.proto is Protocol.TCP else 17, _sport(i), c.port or 0)


def _ns_python(netns: str, script: str, *args: str) -> list[str]:
    return ["ip", "netns", "exec", netns, sys.executable, "-c", script, *args]


def run_probes(probes: list[Probe], work: Path) -> list[Observed]:
    """Send every placed probe and observe it at its destination (see the module)."""
    work.mkdir(parents=True, exist_ok=True)
    todo = [(i, p) for i, p in enumerate(probes) if p.skip is None]
    by_dst: dict[str, set[tuple[str, int]]] = {}
    by_src: dict[str, list[tuple[int, Probe]]] = {}
    for i, p in todo:
        tcp = {(str(p.dst), p.cell.port or 0)} if p.cell.proto is Protocol.TCP else set()
        by_dst.setdefault(p.dst_ns, set()).update(tcp)
        by_src.setdefault(p.src_ns, []).append((i, p))
    observers: dict[str, subprocess.Popen[str]] = {}
    try:
        for n, (netns, tcp_ports) in enumerate(sorted(by_dst.items())):
            spec = work / f"observe{n}.json"
            spec.write_text(json.dumps({"tcp": sorted(tcp_ports)}))
            proc = subprocess.Popen(
                _ns_python(netns, OBSERVER, str(spec), str(OBSERVER_DEADLINE)),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            observers[netns] = proc
            assert proc.stdout is not None  # noqa: S101 - Popen with PIPE
            if proc.stdout.readline().strip() != "ready":
                raise LabError(f"{netns}: the probe observer did not start: {proc.stderr!r}")
        client = _run_sources(by_src, work)
        arrived: set[tuple[str, str, int, int, int]] = set()
        for netns, proc in observers.items():
            out, err = proc.communicate("", timeout=OBSERVER_DEADLINE)
            if proc.returncode != 0:
                raise LabError(f"{netns}: the probe observer failed: {err.strip()}")
            arrived.update(tuple(k) for k in json.loads(out))
    finally:
        for proc in observers.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    return [
        Observed(p)
        if p.skip is not None
        else Observed(p, arrived=_key(p, i) in arrived, client=client[i])
        for i, p in enumerate(probes)
    ]


def _run_sources(by_src: dict[str, list[tuple[int, Probe]]], work: Path) -> dict[int, str]:
    def one(item: tuple[int, tuple[str, list[tuple[int, Probe]]]]) -> dict[int, str]:
        n, (netns, items) = item
        spec = work / f"probe{n}.json"
        spec.write_text(
            json.dumps(
                [
                    {
                        "proto": p.cell.proto.value,
                        "src": str(p.src),
                        "dst": str(p.dst),
                        "port": p.cell.port,
                        "sport": _sport(i),
                    }
                    for i, p in items
                ]
            )
        )
        limit = 30 + 2 * len(items)
        done = subprocess.run(
            _ns_python(netns, PROBER, str(spec)),
            capture_output=True,
            text=True,
            timeout=limit,
            check=False,
        )
        if done.returncode != 0:
            raise LabError(f"{netns}: the prober failed: {done.stderr.strip()}")
        results: list[str] = json.loads(done.stdout)
        return {i: r for (i, _), r in zip(items, results, strict=True)}

    out: dict[int, str] = {}
    with ThreadPoolExecutor(PARALLEL_SOURCES) as pool:
        for part in pool.map(one, enumerate(sorted(by_src.items()))):
            out.update(part)
    return out


def probe_lab(
    lab_dir: Path, inv: Inventory, work: Path, sample: int = DEFAULT_SAMPLE
) -> list[Observed]:
    """Choose, place and try the connection matrix's cells in the running lab of ``lab_dir``."""
    state = read_state(lab_dir)
    if state is None:
        raise LabError(f"{lab_dir}: no lab state; is the lab up?")
    nodes = state.header.nodes
    cells = connection_matrix(inv)
    chosen = choose_cells(inv, cells, testable_pairs(inv, nodes), sample)
    return run_probes(place_probes(inv, chosen, nodes), work)


def matrix_table(observed: list[Observed]) -> str:
    """One line per cell: flow, expected, observed, verdict, why chosen, source -> destination."""
    head = f"{'flow':64} {'policy':7} {'lab':14} {'ok':4} {'chosen as':38} path"
    lines = [head, "-" * len(head)]
    for o in observed:
        c, p = o.probe.cell, o.probe
        expect = "allow" if c.allowed else "deny"
        if o.skipped:
            lab, ok, path = "skipped", "-", f"({p.skip})"
        else:
            lab = ("allow" if o.allowed else "deny") + f"/{o.client}"
            ok = "ok" if o.matches else "FAIL"
            path = f"{p.src_node} {p.src} -> {p.dst_node} {p.dst}"
        lines.append(f"{c.flow:64} {expect:7} {lab:14} {ok:4} {p.chosen.why:38} {path}")
    probed = [o for o in observed if not o.skipped]
    bad = sum(not o.matches for o in probed)
    lines.append(
        f"{len(observed)} cells: {len(probed)} probed ({bad} mismatched), "
        f"{len(observed) - len(probed)} skipped"
    )
    return "\n".join(lines) + "\n"
