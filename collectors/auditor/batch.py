"""The contract between the auditor's decoder and its detectors.

The decoder turns captured packets into :class:`Batch` objects: one numpy
structured array of fixed-size header fields per packet (``PACKET_DTYPE``), plus
the raw capture bytes so a detector can slice a payload (DNS, DHCP, credentials)
and hand only those few packets to scapy. Detectors work on whole arrays
(vectorised masks, ``np.unique``), so Python work is proportional to what they
must keep (hosts, flows, SYNs), not to packets.

Field conventions:
- MAC addresses are 48-bit integers in ``uint64`` (``0`` when absent).
- IPv4 addresses are ``uint32`` in host order (``int(IPv4Address(...))``).
  IPv6 addresses are in ``src6``/``dst6`` as 16 raw bytes (``V16``); for IPv6
  packets ``src4``/``dst4`` are 0.
- ``vlan`` is the 802.1Q VLAN ID or -1; ``ethertype`` is the inner one.
- ``proto`` is the IP protocol (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6), 0 if none.
- ``payload_off`` is the offset of the L4 payload from the packet's first byte
  in ``Batch.data`` (``offsets[i] + payload_off[i]``), ``payload_len`` its length
  as captured.
- ``error`` is 0 for a packet decoded cleanly, else one of ``DecodeError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import numpy.typing as npt

PACKET_DTYPE = np.dtype(
    [
        ("ts", np.float64),
        ("caplen", np.uint32),
        ("wirelen", np.uint32),
        ("src_mac", np.uint64),
        ("dst_mac", np.uint64),
        ("vlan", np.int16),
        ("ethertype", np.uint16),
        ("ip_version", np.uint8),
        ("src4", np.uint32),
        ("dst4", np.uint32),
        ("src6", "V16"),
        ("dst6", "V16"),
        ("ttl", np.uint8),
        ("proto", np.uint8),
        ("sport", np.uint16),
        ("dport", np.uint16),
        ("tcp_flags", np.uint8),
        ("icmp_type", np.uint8),
        ("icmp_code", np.uint8),
        ("payload_off", np.uint16),
        ("payload_len", np.uint16),
        ("arp_op", np.uint16),
        ("arp_sha", np.uint64),
        ("arp_spa", np.uint32),
        ("arp_tha", np.uint64),
        ("arp_tpa", np.uint32),
        ("error", np.uint8),
    ]
)

ETH_IPV4 = 0x0800
ETH_ARP = 0x0806
ETH_IPV6 = 0x86DD
ETH_VLAN = 0x8100

LINKTYPE_ETHERNET_DEFAULT = 1
"""``LINKTYPE_ETHERNET`` (headers.py imports this module, so it is repeated here)."""
LINKTYPE_MIXED = -1
"""``Batch.linktype`` of a pcapng batch whose interfaces have different link types."""

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_PSH = 0x08
TCP_ACK = 0x10
TCP_URG = 0x20


class DecodeError(IntEnum):
    """Why a packet's headers could not be fully decoded (counted, never raised)."""

    OK = 0
    TRUNCATED_L2 = 1
    TRUNCATED_L3 = 2
    TRUNCATED_L4 = 3
    BAD_IP_HEADER = 4
    BAD_ARP = 5
    UNSUPPORTED_LINKTYPE = 6


@dataclass(frozen=True)
class Columns:
    """Contiguous copies of the header fields most detectors read, and their common masks.

    Computed once per batch (:meth:`Batch.columns`) and shared by every detector: a
    field of the structured ``Batch.packets`` array is a strided view, and thirteen
    detectors each re-reading and re-masking it cost more than the decode. Arrays are
    read-only by convention (shared).
    """

    ts: npt.NDArray[np.float64]
    src4: npt.NDArray[np.uint32]
    dst4: npt.NDArray[np.uint32]
    proto: npt.NDArray[np.uint8]
    sport: npt.NDArray[np.uint16]
    dport: npt.NDArray[np.uint16]
    flags: npt.NDArray[np.uint8]
    payload_len: npt.NDArray[np.uint16]
    ipv4: npt.NDArray[np.bool_]
    """Cleanly decoded IPv4."""
    tcp: npt.NDArray[np.bool_]
    udp: npt.NDArray[np.bool_]
    icmp: npt.NDArray[np.bool_]
    syn: npt.NDArray[np.bool_]
    """TCP SYN without ACK or RST: a connection attempt."""
    arp: npt.NDArray[np.bool_]
    """Cleanly decoded ARP."""
    payload_at: npt.NDArray[np.int64]
    """Where each packet's L4 payload starts in ``Batch.data`` (``offsets + payload_off``)."""


def _columns(p: npt.NDArray[np.void], offsets: npt.NDArray[np.uint64]) -> Columns:
    clean = p["error"] == 0
    ethertype = p["ethertype"]
    ipv4 = clean & (p["ip_version"] == 4) & (ethertype == ETH_IPV4)
    proto = np.ascontiguousarray(p["proto"])
    flags = np.ascontiguousarray(p["tcp_flags"])
    tcp = ipv4 & (proto == 6)
    return Columns(
        ts=np.ascontiguousarray(p["ts"]),
        src4=np.ascontiguousarray(p["src4"]),
        dst4=np.ascontiguousarray(p["dst4"]),
        proto=proto,
        sport=np.ascontiguousarray(p["sport"]),
        dport=np.ascontiguousarray(p["dport"]),
        flags=flags,
        payload_len=np.ascontiguousarray(p["payload_len"]),
        ipv4=ipv4,
        tcp=tcp,
        udp=ipv4 & (proto == 17),
        icmp=ipv4 & (proto == 1),
        syn=tcp & ((flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN),
        arp=clean & (ethertype == ETH_ARP),
        payload_at=offsets.astype(np.int64) + p["payload_off"],
    )


@dataclass(frozen=True)
class Batch:
    """Decoded headers of consecutive packets, with their raw bytes.

    ``packets[i]`` describes the packet whose bytes are
    ``data[offsets[i] : offsets[i] + packets[i]["caplen"]]``.
    ``first_index`` is the index of ``packets[0]`` in its source (file or interface).
    ``linktype`` is the link type (``LINKTYPE_*`` of :mod:`~collectors.auditor.headers`)
    of every packet, or :data:`LINKTYPE_MIXED` when a pcapng batch mixes several:
    what an evidence pcap (:mod:`collectors.auditor.evidence`) writes in its header.

    ``data`` must stay valid, unchanged, for as long as the batch is referenced: the
    evidence ring keeps the last batches and copies the few packets an incident
    needs only when it opens (a source that recycles its buffers must copy them).

    ``clock`` is set on a batch without packets that a live source hands over when the
    link has been quiet (:data:`IDLE_TICK_SECONDS`): the capture clock's time then. Packet
    time otherwise only moves with packets, so on a quiet link a detector that judges
    attempts once their answer timeout has passed (an unanswered UDP sweep) would wait
    for the next packet; Zeek's live mode advances its network time on idle the same way.
    """

    packets: npt.NDArray[np.void]
    data: bytes | memoryview
    offsets: npt.NDArray[np.uint64]
    source: str
    first_index: int = 0
    linktype: int = LINKTYPE_ETHERNET_DEFAULT
    clock: float | None = None
    _columns: Columns | None = field(default=None, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.packets)

    def columns(self) -> Columns:
        """The batch's :class:`Columns`: computed on first use, kept until :meth:`drop_columns`.

        A source that decodes in a thread of its own computes them there, before it hands
        the batch over (numpy releases the GIL for most of it): the detectors' thread then
        finds them ready.
        """
        cols = self._columns
        if cols is None:
            cols = _columns(self.packets, self.offsets)
            object.__setattr__(self, "_columns", cols)  # a cache, not a field of the value
        return cols

    def drop_columns(self) -> None:
        """Forget the columns (the engine, once every detector had the batch: a batch the
        evidence ring keeps must not keep them too)."""
        object.__setattr__(self, "_columns", None)

    def raw(self, i: int) -> bytes:
        """The captured bytes of packet ``i`` (for full scapy dissection of the few that need it)."""
        start = int(self.offsets[i])
        return bytes(self.data[start : start + int(self.packets[i]["caplen"])])

    def payload(self, i: int) -> bytes:
        """The captured L4 payload of packet ``i``."""
        start = int(self.offsets[i]) + int(self.packets[i]["payload_off"])
        return bytes(self.data[start : start + int(self.packets[i]["payload_len"])])


IDLE_TICK_SECONDS = 1.0
"""How long a live source waits on a quiet link before handing over an empty batch with
its ``clock`` (the time detectors judge pending state by)."""
