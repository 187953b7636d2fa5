"""Evidence pcaps: per incident, its first packets and their context, for Wireshark.

Like Suricata's conditional pcap logging or a Stenographer extract, but without a
full packet capture on disk: the engine keeps a bounded *ring* of its last batches
(:class:`EvidenceRing`: by batch count, bytes held and seconds of packet time) and,
when an incident opens, writes ``<directory>/<incident id>.pcap`` with the packets
of the ring that belong to it (from ``context_seconds`` before its ``first_seen``),
then appends the packets that match it in the following batches, until the
incident's file holds ``max_packets`` packets or ``max_bytes`` bytes or
``follow_seconds`` of packet time have passed. The event names the file in
``evidence["pcap"]`` (relative to the directory), from its first emission on.

Cost: nothing when evidence is off (the engine holds no recorder). When on, the
ring keeps *references* to the batches (their header columns and the raw buffer
they slice; :class:`~collectors.auditor.batch.Batch` promises that buffer stays
valid), so the hot path adds an append per batch. Packets are copied only for an
incident: at its opening (a search of the ring) and for its follow-up packets,
selected with numpy masks. Both are vectorised over every incident at once: one
``np.isin`` prefilter per column against the addresses of all the incidents
concerned, then each incident's exact rule on the few packets left.

Which packets belong to an incident (:func:`rule_for`) depends on its detector:
scans and devices take every packet to or from their ``src`` (the probes and the
answers), ARP spoofing the ARP packets sent by the claiming MAC or about the
claimed address, DNS tunnels the DNS packets of the client, rogue DHCP the DHCP
packets of the server; a pair (``src`` and ``dst``) takes the conversation between
them; a detector unknown here is treated the same way (a pair, else its ``src``).

Files are written ``0600`` in a ``0700`` directory: they hold packet contents,
clear-text credentials included. A run writes at most ``total_bytes``: past it
the oldest evidence files *of the run* are deleted (counted, and an event may then
name a file that is gone). Timestamps are microseconds (the engine's packet time
is a float64, which holds no more), in a classic libpcap file with the link type
of the capture.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import re
import struct
from collections import Counter, OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

from collectors.auditor.batch import ETH_ARP, LINKTYPE_ETHERNET_DEFAULT, LINKTYPE_MIXED, Batch
from collectors.auditor.events import Event
from netwarden.privatefile import FILE_MODE, private_dir

logger = logging.getLogger(__name__)

PCAP_SNAPLEN: Final = 262144
"""Snap length written in the file header; longer packets are cut to it (as tcpdump's default)."""
EVIDENCE_KEY: Final = "pcap"
"""The key of ``Event.evidence`` naming the incident's evidence file."""
_FILE_HEADER: Final = struct.Struct("<IHHiIII")
_RECORD: Final = struct.Struct("<IIII")
_PCAP_MAGIC_USEC: Final = 0xA1B2C3D4
_MAC: Final = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
_BROADCAST_MAC: Final = 0xFFFFFFFFFFFF
_TOUCH: Final = frozenset({"port_scan", "address_scan", "unknown_device"})
"""Detectors whose incident is every packet to or from its ``src`` (its ``dst`` is one of many)."""
_PORTS: Final = {"dns_tunnel": frozenset({53}), "rogue_dhcp": frozenset({67, 68})}
"""Detectors whose incident is the packets of its ``src`` on these UDP/TCP ports."""

Family = Literal["v4", "v6", "mac"]
Mask = npt.NDArray[np.bool_]
Index = npt.NDArray[np.intp]


@dataclass(frozen=True)
class EvidenceSettings:
    """Where evidence goes and its bounds (the defaults suit a sensor; tests shrink them).

    Args:
        directory: where ``<incident id>.pcap`` files are written (created ``0700``).
        max_packets, max_bytes: per incident file (``max_bytes`` counts the whole file).
        total_bytes: per run; past it the oldest files of the run are deleted.
        context_seconds: ring packets kept from this long before the incident's first_seen.
        follow_seconds: packet time after the opening during which matching packets are added.
        ring_batches, ring_bytes, ring_seconds: the ring's bounds (the newest batch is
            always kept); ``ring_bytes`` counts header columns and raw buffers held.
        max_following: incidents still collecting follow-up packets at most (oldest stop first).
    """

    directory: Path
    max_packets: int = 100
    max_bytes: int = 1 << 20
    total_bytes: int = 256 << 20
    context_seconds: float = 10.0
    follow_seconds: float = 300.0
    ring_batches: int = 64
    ring_bytes: int = 64 << 20
    ring_seconds: float = 60.0
    max_following: int = 1000

    def __post_init__(self) -> None:
        if min(self.max_packets, self.ring_batches, self.max_following) < 1:
            raise ValueError("max_packets, ring_batches and max_following must be at least 1")
        if self.max_bytes < _FILE_HEADER.size + _RECORD.size or self.total_bytes < self.max_bytes:
            raise ValueError(
                f"evidence bounds: max_bytes ({self.max_bytes}) must hold a packet and "
                f"total_bytes ({self.total_bytes}) at least max_bytes"
            )


@dataclass(frozen=True)
class Address:
    """An address of an incident in the form the batch columns hold it."""

    family: Family
    value: int | bytes

    @classmethod
    def parse(cls, text: str) -> Address | None:
        """``10.0.0.1``, ``2001:db8::1`` or ``aa:bb:cc:dd:ee:ff``; None for anything else
        and for addresses that name no one (0.0.0.0, ::, the zero and broadcast MACs).

        Examples:
            >>> Address.parse("10.0.0.1"), Address.parse("ff:ff:ff:ff:ff:ff"), Address.parse("x")
            (Address(family='v4', value=167772161), None, None)
        """
        text = text.strip()
        if _MAC.match(text):
            mac = int(text.replace(":", ""), 16)
            return cls("mac", mac) if mac not in {0, _BROADCAST_MAC} else None
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            return None
        if ip.is_unspecified:
            return None
        return cls("v4", int(ip)) if ip.version == 4 else cls("v6", ip.packed)


@dataclass(frozen=True)
class Rule:
    """Which packets belong to an incident.

    ``touch``: to or from any of ``addresses`` (IP, MAC, or ARP sender/target);
    ``between``: between the two ``addresses`` (either direction, same family);
    ``arp``: ARP packets whose sender MAC is a MAC of ``addresses`` or whose sender or
    target IP is an IP of them. ``ports``, when given, also requires a source or
    destination port among them.
    """

    kind: Literal["touch", "between", "arp"]
    addresses: tuple[Address, ...]
    ports: frozenset[int] = frozenset()

    def mask(self, p: npt.NDArray[np.void]) -> Mask:
        """The packets of ``p`` (header rows) that match."""
        if self.kind == "between":
            a, b = self.addresses
            m = (_is(p, a, "src") & _is(p, b, "dst")) | (_is(p, b, "src") & _is(p, a, "dst"))
        elif self.kind == "arp":
            m = np.zeros(len(p), np.bool_)
            for a in self.addresses:
                if a.family == "mac":
                    m |= p["arp_sha"] == a.value
                elif a.family == "v4":
                    m |= (p["arp_spa"] == a.value) | (p["arp_tpa"] == a.value)
            m &= p["ethertype"] == ETH_ARP
        else:
            m = np.zeros(len(p), np.bool_)
            for a in self.addresses:
                m |= _touches(p, a)
        if self.ports:
            ports = np.fromiter(self.ports, np.uint16)
            m &= np.isin(p["sport"], ports) | np.isin(p["dport"], ports)
        return m


def _column(p: npt.NDArray[np.void], a: Address, side: str) -> Mask:
    if a.family == "v4":
        return np.asarray(p[f"{side}4"] == a.value)
    if a.family == "v6":
        return np.asarray(p[f"{side}6"] == np.void(bytes(a.value)))
    return np.asarray(p[f"{side}_mac"] == a.value)


def _is(p: npt.NDArray[np.void], a: Address, side: str) -> Mask:
    """``a`` is the packet's ``side`` (src/dst) at the layer of its family."""
    return _column(p, a, side)


def _touches(p: npt.NDArray[np.void], a: Address) -> Mask:
    m = _column(p, a, "src") | _column(p, a, "dst")
    if a.family == "v4":
        m |= (p["arp_spa"] == a.value) | (p["arp_tpa"] == a.value)
    elif a.family == "mac":
        m |= p["arp_sha"] == a.value
    return m


def rule_for(detector: str, src: str, dst: str, evidence: Mapping[str, Any]) -> Rule | None:
    """The packets of an incident of ``detector`` (see the module docstring); None: none can be told.

    Examples:
        >>> rule_for("port_scan", "10.0.0.9", "10.0.0.1", {}).kind
        'touch'
        >>> r = rule_for("arp_spoof", "02:00:00:00:00:66", "10.0.0.5", {"ip": "10.0.0.1"})
        >>> r.kind, [a.family for a in r.addresses]
        ('arp', ['mac', 'v4'])
        >>> rule_for("ssh_bruteforce", "10.0.0.9", "10.0.0.22", {}).kind
        'between'
    """
    s, d = Address.parse(src), Address.parse(dst)
    if detector == "arp_spoof":
        claimed = Address.parse(str(evidence.get("ip", "")))
        found = tuple(a for a in (s, claimed) if a is not None)
        return Rule("arp", found) if found else None
    if s is None:
        return None
    if detector in _PORTS:
        return Rule("touch", (s,), _PORTS[detector])
    if detector not in _TOUCH and d is not None and d.family == s.family:
        return Rule("between", (s, d))
    return Rule("touch", (s,))


_COLUMNS: Final[dict[Family, tuple[str, ...]]] = {
    "v4": ("src4", "dst4", "arp_spa", "arp_tpa"),
    "mac": ("src_mac", "dst_mac", "arp_sha"),
    "v6": ("src6", "dst6"),
}
"""The columns an address of each family may be in (what a ``touch`` rule compares)."""
_DTYPES: Final[dict[Family, str]] = {"v4": "u4", "mac": "u8", "v6": "S16"}


def _values(p: npt.NDArray[np.void], family: Family, col: str) -> npt.NDArray[Any]:
    if family == "v6":  # 16 raw bytes compare (and sort) as S16 strings of the same width
        return np.ascontiguousarray(p[col]).view("S16")
    return np.asarray(p[col])


class RuleIndex:
    """Many rules at once: their addresses sorted per family, with the rules using each.

    :meth:`select` finds, for every rule, the packets it matches in one pass over
    the columns (a ``searchsorted`` per column against the sorted addresses), not
    one mask per rule: a thousand incidents opening or followed together cost about
    what one does. A ``touch`` rule without ports is exactly "an address of it in
    one of ``_COLUMNS``"; the other rules get their exact :meth:`Rule.mask` on the
    few packets found for them.
    """

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self.exact = [r.kind == "touch" and not r.ports for r in rules]
        users: dict[Family, dict[Any, list[int]]] = {"v4": {}, "mac": {}, "v6": {}}
        for i, rule in enumerate(rules):
            for a in dict.fromkeys(rule.addresses):
                users[a.family].setdefault(a.value, []).append(i)
        self.tables: list[tuple[Family, npt.NDArray[Any], npt.NDArray[np.int64], Index]] = []
        for family, by_value in users.items():
            if not by_value:
                continue
            values = sorted(by_value)
            counts = np.array([len(by_value[v]) for v in values], np.int64)
            ptr = np.zeros(len(values) + 1, np.int64)
            np.cumsum(counts, out=ptr[1:])
            ids = np.array([i for v in values for i in by_value[v]], np.intp)
            self.tables.append((family, np.array(values, _DTYPES[family]), ptr, ids))

    def select(
        self, p: npt.NDArray[np.void], since: npt.NDArray[np.float64] | None = None
    ) -> dict[int, Index]:
        """Rule number -> indices (ascending) of the packets of ``p`` it matches; rules
        matching none are left out. ``since[r]``: rule ``r`` takes packets from that time on."""
        n = len(p)
        keys: list[npt.NDArray[np.int64]] = []
        for family, values, ptr, ids in self.tables:
            for col in _COLUMNS[family]:
                column = _values(p, family, col)
                pos = np.searchsorted(values, column)
                np.minimum(pos, len(values) - 1, out=pos)
                hit = np.flatnonzero(values[pos] == column)
                if not len(hit):
                    continue
                at = pos[hit]
                counts = ptr[at + 1] - ptr[at]
                ends = np.cumsum(counts)
                flat = np.repeat(ptr[at] - (ends - counts), counts) + np.arange(int(ends[-1]))
                keys.append(ids[flat].astype(np.int64) * n + np.repeat(hit, counts))
        if not keys:
            return {}
        rule, pkt = np.divmod(np.unique(np.concatenate(keys)), n)
        if since is not None:
            keep = p["ts"][pkt] >= since[rule]
            rule, pkt = rule[keep], pkt[keep]
            if not len(rule):  # every match is older than its rule's start
                return {}
        out: dict[int, Index] = {}
        found, starts = np.unique(rule, return_index=True)
        for r, lo, hi in zip(
            found.tolist(), starts.tolist(), [*starts[1:].tolist(), len(rule)], strict=True
        ):
            idx = pkt[lo:hi].astype(np.intp)
            if not self.exact[r]:
                idx = idx[self.rules[r].mask(p[idx])]
            if len(idx):
                out[r] = idx
        return out


def select(p: npt.NDArray[np.void], rules: list[Rule]) -> list[Index]:
    """For each rule, the indices of the packets of ``p`` it matches (in order)."""
    found = RuleIndex(rules).select(p)
    none = np.zeros(0, np.intp)
    return [found.get(i, none) for i in range(len(rules))]


@dataclass
class _Entry:
    batch: Batch
    columns: int  # bytes of its header columns and offsets
    ts_max: float


class EvidenceRing:
    """The last batches, by reference, within ``batches``/``nbytes``/``seconds`` bounds.

    ``bytes`` counts the header columns of every batch and each raw buffer once,
    however many batches slice it (a file chunk is shared by the batches decoded
    from it). The newest batch is always kept.
    """

    def __init__(self, batches: int, nbytes: int, seconds: float) -> None:
        self.max_batches = batches
        self.max_bytes = nbytes
        self.seconds = seconds
        self.entries: deque[_Entry] = deque()
        self.bytes = 0
        self._buffers: dict[int, int] = {}  # id(batch.data) -> batches of the ring slicing it

    def add(self, batch: Batch) -> None:
        if len(batch) == 0:
            return
        columns = batch.packets.nbytes + batch.offsets.nbytes
        key = id(batch.data)
        held = self._buffers.get(key, 0)
        self._buffers[key] = held + 1
        self.bytes += columns + (0 if held else len(batch.data))
        ts_max = float(batch.packets["ts"].max())
        newest = max(ts_max, self.entries[-1].ts_max) if self.entries else ts_max
        self.entries.append(_Entry(batch, columns, ts_max))
        while len(self.entries) > 1 and (
            len(self.entries) > self.max_batches
            or self.bytes > self.max_bytes
            or newest - self.entries[0].ts_max > self.seconds
        ):
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        old = self.entries.popleft()
        key = id(old.batch.data)
        left = self._buffers[key] - 1
        self.bytes -= old.columns
        if left:
            self._buffers[key] = left
        else:
            del self._buffers[key]
            self.bytes -= len(old.batch.data)

    def clear(self) -> None:
        self.entries.clear()
        self._buffers.clear()
        self.bytes = 0


@dataclass
class _Incident:
    """An incident's evidence file while it is written."""

    name: str
    rule: Rule
    since: float  # ring packets from this packet time on
    until: float  # follow-up packets up to this packet time
    linktype: int | None = None
    packets: int = 0
    bytes: int = 0


@dataclass
class EvidenceRecorder:
    """Writes the evidence pcaps of one run (see the module docstring).

    The engine calls :meth:`add` with each batch before its detectors run,
    :meth:`opened` (the tracker's ``on_open``) when an incident opens, :meth:`settle`
    once the batch is done, and :meth:`finish` at the end of the run. ``counts``:
    ``files``, ``packets``, ``bytes`` written; ``truncated`` incidents that reached
    their bound with packets left out; ``dropped_packets`` packets left out that way
    or for lack of room; ``pruned_files``/``pruned_bytes`` deleted to stay within
    ``total_bytes``; ``no_rule`` incidents no packet can be told for; ``linktype_skipped``
    packets of another link type than their file's; ``follow_dropped`` incidents no longer
    followed because ``max_following`` others opened since; ``errors`` files that could
    not be written.
    """

    settings: EvidenceSettings
    counts: Counter[str] = field(default_factory=Counter)
    ring: EvidenceRing = field(init=False)
    _pending: list[_Incident] = field(default_factory=list)
    _following: OrderedDict[str, _Incident] = field(default_factory=OrderedDict)
    # the run's files, oldest first: name -> bytes
    _files: OrderedDict[str, int] = field(default_factory=OrderedDict)
    _total: int = 0
    _index: RuleIndex | None = None  # of the incidents followed (None: to be rebuilt)

    def __post_init__(self) -> None:
        s = self.settings
        self.ring = EvidenceRing(s.ring_batches, s.ring_bytes, s.ring_seconds)
        private_dir(s.directory)

    @property
    def directory(self) -> Path:
        return self.settings.directory

    def add(self, batch: Batch) -> None:
        """Keep ``batch`` in the ring (a reference: nothing is copied)."""
        self.ring.add(batch)

    def opened(self, event: Event) -> dict[str, Any] | None:
        """``on_open`` of the tracker: schedule the incident's file; the evidence to add to it."""
        rule = rule_for(event.detector, event.src, event.dst, event.evidence)
        if rule is None:
            self.counts["no_rule"] += 1
            return None
        name = f"{event.id}.pcap"
        opened_at = event.ts.timestamp()
        since = event.first_seen.timestamp() - self.settings.context_seconds
        self._pending.append(_Incident(name, rule, since, opened_at + self.settings.follow_seconds))
        return {EVIDENCE_KEY: name}

    def settle(self, batch: Batch | None) -> None:
        """After ``batch`` (None at the end): follow-up packets of it for the incidents
        opened before it, then the files of the incidents opened during it (from the ring)."""
        if batch is not None and len(batch) and self._following:
            self._follow(batch)
        if self._pending:
            pending, self._pending = self._pending, []
            self._open(pending)

    def finish(self) -> None:
        """End of the run: write what is pending, stop following, let the ring go."""
        self.settle(None)
        self._following.clear()
        self._index = None
        self.ring.clear()

    def _follow(self, batch: Batch) -> None:
        now = float(batch.packets["ts"].max())
        for name in [n for n, inc in self._following.items() if now > inc.until]:
            self._unfollow(name)
        if not self._following:
            return
        if self._index is None:
            self._index = RuleIndex([inc.rule for inc in self._following.values()])
        incidents = list(self._following.values())
        for r, idx in self._index.select(batch.packets).items():
            inc = incidents[r]
            if inc.name not in self._following:  # its file was pruned for a file before it
                continue
            if not self._write(inc, [(batch, idx)]):
                self._unfollow(inc.name)

    def _unfollow(self, name: str) -> None:
        if self._following.pop(name, None) is not None:
            self._index = None  # rebuilt from the incidents still followed, when next needed

    def _open(self, pending: list[_Incident]) -> None:
        found: list[list[tuple[Batch, Index]]] = [[] for _ in pending]
        index = RuleIndex([inc.rule for inc in pending])
        since = np.array([inc.since for inc in pending], np.float64)
        for entry in self.ring.entries:
            for r, idx in index.select(entry.batch.packets, since).items():
                found[r].append((entry.batch, idx))
        newest = self.ring.entries[-1].batch.linktype if self.ring.entries else None
        for inc, got in zip(pending, found, strict=True):
            inc.linktype = next((b.linktype for b, _ in got), newest)
            if self._write(inc, got, create=True) and inc.packets < self.settings.max_packets:
                self._following[inc.name] = inc
                self._index = None
                while len(self._following) > self.settings.max_following:
                    self._following.popitem(last=False)
                    self.counts["follow_dropped"] += 1

    def _write(
        self, inc: _Incident, parts: list[tuple[Batch, Index]], *, create: bool = False
    ) -> bool:
        """Append ``parts`` to the incident's file within its bounds; False: stop following."""
        s = self.settings
        if inc.linktype is None or inc.linktype == LINKTYPE_MIXED:
            inc.linktype = LINKTYPE_ETHERNET_DEFAULT
        chunks: list[bytes | memoryview] = []
        if create:
            chunks.append(
                _FILE_HEADER.pack(_PCAP_MAGIC_USEC, 2, 4, 0, 0, PCAP_SNAPLEN, inc.linktype)
            )
        size = sum(map(len, chunks))
        packets = 0
        full = False
        for batch, idx in parts:
            if batch.linktype != inc.linktype:
                self.counts["linktype_skipped"] += len(idx)
                continue
            room = s.max_bytes - inc.bytes - size
            got, nbytes = _records(
                batch, idx[: s.max_packets - inc.packets - packets], room, chunks
            )
            size += nbytes
            packets += got
            if got < len(idx):
                self.counts["dropped_packets"] += len(idx) - got
                full = True
                break
        if full:
            self.counts["truncated"] += 1
        full = full or inc.packets + packets >= s.max_packets
        if not chunks:
            return not full
        if not self._make_room(inc.name, size):
            self.counts["dropped_packets"] += packets
            return False
        try:
            _write_file(s.directory / inc.name, chunks, create=create)
        except OSError as exc:
            self.counts["errors"] += 1
            logger.warning("evidence %s could not be written: %s", s.directory / inc.name, exc)
            return False
        self.counts["files"] += int(create)
        self.counts["packets"] += packets
        self.counts["bytes"] += size
        inc.packets += packets
        inc.bytes += size
        self._files[inc.name] = self._files.get(inc.name, 0) + size
        self._total += size
        return not full

    def _make_room(self, name: str, size: int) -> bool:
        """Delete the run's oldest files (never ``name``) until ``size`` more bytes fit."""
        while self._total + size > self.settings.total_bytes:
            oldest = next((n for n in self._files if n != name), None)
            if oldest is None:
                return False
            freed = self._files.pop(oldest)
            self._total -= freed
            self._unfollow(oldest)
            try:
                (self.settings.directory / oldest).unlink(missing_ok=True)
            except OSError as exc:
                logger.warning("evidence %s could not be deleted: %s", oldest, exc)
            self.counts["pruned_files"] += 1
            self.counts["pruned_bytes"] += freed
        return True


def _records(batch: Batch, idx: Index, room: int, out: list[bytes | memoryview]) -> tuple[int, int]:
    """Append the pcap records of packets ``idx`` of ``batch`` (as many as fit in ``room``
    bytes, in order) to ``out``, as one chunk built with numpy gathers; the packets and
    bytes appended."""
    if len(idx) <= _FEW:
        return _few_records(batch, idx, room, out)
    p = batch.packets
    caps = np.minimum(p["caplen"][idx], PCAP_SNAPLEN).astype(np.int64)
    ends = np.cumsum(caps + _RECORD.size)
    k = int(np.searchsorted(ends, room, side="right"))
    if k == 0:
        return 0, 0
    caps, ends, idx = caps[:k], ends[:k], idx[:k]
    ts = p["ts"][idx]
    sec = np.floor(ts)
    usec = np.rint((ts - sec) * 1e6)
    carry = usec >= 1_000_000
    head = np.empty((k, 4), "<u4")
    head[:, 0] = np.clip(sec + carry, 0, 0xFFFFFFFF)
    head[:, 1] = np.where(carry, 0, usec)
    head[:, 2] = caps
    head[:, 3] = np.maximum(p["wirelen"][idx], caps)
    total = int(ends[-1])
    starts = ends - caps - _RECORD.size  # of each record in the chunk
    chunk = np.empty(total, np.uint8)
    chunk[(starts[:, None] + np.arange(_RECORD.size)).ravel()] = head.view(np.uint8).ravel()
    ncap = int(caps.sum())
    before = np.cumsum(caps) - caps  # data bytes of the records before each one
    step = np.arange(ncap)
    src = np.repeat(batch.offsets[idx].astype(np.int64) - before, caps) + step
    dst = np.repeat(starts + _RECORD.size - before, caps) + step
    chunk[dst] = np.frombuffer(batch.data, np.uint8)[src]
    out.append(chunk.tobytes())
    return k, total


_FEW: Final = 48
"""Up to this many packets a Python loop writes records faster than numpy gathers."""


def _few_records(
    batch: Batch, idx: Index, room: int, out: list[bytes | memoryview]
) -> tuple[int, int]:
    """:func:`_records` one packet at a time (a few packets: no fixed numpy cost)."""
    p = batch.packets[idx]
    data, pack = batch.data, _RECORD.pack
    packets = nbytes = 0
    for ts, caplen, wire, off in zip(
        p["ts"].tolist(),
        p["caplen"].tolist(),
        p["wirelen"].tolist(),
        batch.offsets[idx].tolist(),
        strict=True,
    ):
        cap = min(caplen, PCAP_SNAPLEN)
        if nbytes + _RECORD.size + cap > room:
            break
        sec = math.floor(ts)
        usec = round((ts - sec) * 1e6)
        if usec >= 1_000_000:
            sec, usec = sec + 1, 0
        out.append(pack(min(max(sec, 0), 0xFFFFFFFF), usec, cap, max(wire, cap)))
        out.append(data[off : off + cap])
        packets += 1
        nbytes += _RECORD.size + cap
    return packets, nbytes


def _write_file(path: Path, chunks: list[bytes | memoryview], *, create: bool) -> None:
    """Write (``create``) or append ``chunks`` to ``path``, a ``0600`` file, not through a link."""
    flags = os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    flags |= (os.O_CREAT | os.O_TRUNC) if create else os.O_APPEND
    data = memoryview(b"".join(chunks))
    fd = os.open(path, flags, FILE_MODE)
    try:
        while data:
            data = data[os.write(fd, data) :]
    finally:
        os.close(fd)
