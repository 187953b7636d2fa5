"""Header decoding: packet bytes in one buffer to ``PACKET_DTYPE`` records.

:func:`decode_headers` runs ``nw_decode`` from ``native.c`` (:mod:`collectors.auditor.native`)
when the compiled kernels are available: one pass over each packet's bytes is 3-4
times faster than the numpy passes over whole arrays. The numpy code of this module
is the fallback (no C compiler, ``NETWARDEN_NO_NATIVE=1``, arguments outside the
kernel's contract) and the specification: the kernel mirrors it step by step and
tests/unit/auditor/test_native_decode.py checks that both give the same bytes.

No Python code runs per packet. For a whole batch, one numpy gather copies a
small fixed-size *window* of bytes at each packet's link-layer start, another
at each L3 start and a third at each L4 start (a gather of ``V40`` items is
about as fast as a gather of single bytes); every header field is then a
strided view of a window at a fixed offset. Fields that do not apply to a
packet (IPv4 addresses of an ARP packet, ports of a later fragment) are masked
to 0. Reads past a packet's captured length are harmless as long as the buffer
carries :data:`PAD` spare bytes after the last packet: every value read that way
is masked out by the length checks, so a truncated or malformed packet only
sets ``error``.

Decisions worth knowing (the contract is in :mod:`collectors.auditor.batch`):

- QinQ (two 802.1Q/802.1ad tags): ``vlan`` is the inner (customer) tag, the one
  that names a zone; ``ethertype`` is the one after the last tag.
- 802.3/LLC frames keep their length field in ``ethertype`` (a value below 0x0600).
- IPv4 and IPv6 fragments: only the first fragment has ports; a later fragment
  has ``proto`` set, ports 0, and its payload is everything after the IP headers.
- IPv6 extension headers skipped: hop-by-hop, routing, fragment, destination
  options, AH, mobility, HIP, shim6 (at most 8 of them).
- ``payload_off``/``payload_len`` for packets without L4 (ARP, unknown ethertypes,
  unknown IP protocols) describe what follows the last header decoded; Ethernet
  trailer padding after an IP packet's total length is never counted as payload.
  Both are clipped to 65535 (the dtype's range).
- A header that is present but incomplete leaves the fields it could read (e.g.
  the ports of a TCP header cut after 4 bytes) and sets ``error``.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from functools import cache
from typing import Final

import numpy as np
import numpy.typing as npt

from collectors.auditor import native
from collectors.auditor.batch import ETH_ARP, ETH_IPV4, ETH_IPV6, PACKET_DTYPE, DecodeError

#: Spare zero bytes a buffer must carry after its last packet.
PAD: Final = 256

LINKTYPE_NULL: Final = 0
LINKTYPE_ETHERNET: Final = 1
LINKTYPE_RAW: Final = 101
LINKTYPE_LOOP: Final = 108
LINKTYPE_LINUX_SLL: Final = 113
LINKTYPE_IPV4: Final = 228
LINKTYPE_IPV6: Final = 229
LINKTYPE_LINUX_SLL2: Final = 276
#: Link types decoded (others get ``UNSUPPORTED_LINKTYPE``).
SUPPORTED_LINKTYPES: Final = frozenset(
    {
        LINKTYPE_NULL,
        LINKTYPE_ETHERNET,
        LINKTYPE_RAW,
        LINKTYPE_LOOP,
        LINKTYPE_LINUX_SLL,
        LINKTYPE_IPV4,
        LINKTYPE_IPV6,
        LINKTYPE_LINUX_SLL2,
    }
)
_NO_ETHERTYPE: Final = {LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_NULL, LINKTYPE_LOOP}

_IPV6_EXT: Final = (0, 43, 44, 51, 60, 135, 139, 140)
_IPV6_MAX_EXT: Final = 8
_U16_MAX: Final = 0xFFFF
_L2_WIN: Final = 32
_L3_WIN: Final = 40
_L4_WIN: Final = 16

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]
Mask = npt.NDArray[np.bool_]
Any1D = npt.NDArray[np.generic]


def _windows(buf: U8, at: I64, width: int) -> npt.NDArray[np.void]:
    """``width`` bytes of ``buf`` from each offset in ``at``, one ``V<width>`` item per offset."""
    items = np.ndarray((len(buf) - width + 1,), dtype=f"V{width}", buffer=buf, strides=(1,))
    return items[at]


def _field(win: npt.NDArray[np.void], offset: int, dtype: str) -> Any1D:
    """A view of the field at ``offset`` of every window (``>u2``, ``u1``, ``V16``...)."""
    if not len(win):
        return np.zeros(0, dtype)
    width = win.dtype.itemsize
    return np.ndarray((len(win),), dtype=dtype, buffer=win, offset=offset, strides=(width,))


def _int(win: npt.NDArray[np.void], offset: int, dtype: str) -> I64:
    return _field(win, offset, dtype).astype(np.int64)


def _mac(win: npt.NDArray[np.void], offset: int) -> npt.NDArray[np.uint64]:
    return _field(win, offset, ">u8").astype(np.uint64) >> np.uint64(16)


def _set_error(err: U8, mask: Mask, code: DecodeError) -> None:
    """Record ``code`` where ``mask`` holds and no earlier error was recorded."""
    np.copyto(err, np.uint8(code), where=mask & (err == 0))


def _is_tpid(et: I64) -> Mask:
    tpid: Mask = (et == 0x8100) | (et == 0x88A8) | (et == 0x9100)
    return tpid


@dataclass
class _L2:
    """The link layer of every packet."""

    l3: I64
    ethertype: I64
    vlan: I64
    src_mac: npt.NDArray[np.uint64]
    dst_mac: npt.NDArray[np.uint64]
    err: U8

    @classmethod
    def empty(cls, n: int) -> _L2:
        """``n`` packets with nothing decoded yet (no VLAN, zero MACs, no error)."""
        return cls(
            np.zeros(n, np.int64),
            np.zeros(n, np.int64),
            np.full(n, -1),
            np.zeros(n, np.uint64),
            np.zeros(n, np.uint64),
            np.zeros(n, np.uint8),
        )


def _link_layer(buf: U8, start: I64, cap: I64, linktype: int) -> _L2:
    """Decode the link layer of packets sharing one link type."""
    n = len(start)
    out = _L2.empty(n)
    if linktype not in SUPPORTED_LINKTYPES:
        out.err[:] = DecodeError.UNSUPPORTED_LINKTYPE
        return out
    win = _windows(buf, start, _L2_WIN)
    if linktype in _NO_ETHERTYPE:
        # No ethertype: the IP version nibble says what follows (the NULL/LOOP
        # address family differs between operating systems, the nibble does not).
        base = 4 if linktype in {LINKTYPE_NULL, LINKTYPE_LOOP} else 0
        out.l3[:] = base
        _set_error(out.err, cap < base + 1, DecodeError.TRUNCATED_L2)
        version = _int(win, base, "u1") >> 4
        out.ethertype = np.where(version == 4, ETH_IPV4, np.where(version == 6, ETH_IPV6, 0))
        _set_error(out.err, out.ethertype == 0, DecodeError.BAD_IP_HEADER)
        return out
    if linktype == LINKTYPE_ETHERNET:
        base, et_at, mac_at = 14, 12, 6
        out.dst_mac = np.where(cap >= 6, _mac(win, 0), np.uint64(0))
        has_src = cap >= 12
    elif linktype == LINKTYPE_LINUX_SLL:
        base, et_at, mac_at = 16, 14, 6
        has_src = (_int(win, 4, ">u2") == 6) & (cap >= 12)
    else:  # LINKTYPE_LINUX_SLL2
        base, et_at, mac_at = 20, 0, 12
        has_src = (_int(win, 11, "u1") == 6) & (cap >= 18)
    out.src_mac = np.where(has_src, _mac(win, mac_at), np.uint64(0))
    _set_error(out.err, cap < base, DecodeError.TRUNCATED_L2)
    et = np.where(out.err == 0, _int(win, et_at, ">u2"), 0)
    l3 = np.full(n, base)
    tagged = _is_tpid(et)
    if tagged.any():
        _set_error(out.err, tagged & (cap < base + 4), DecodeError.TRUNCATED_L2)
        tagged &= out.err == 0
        out.vlan = np.where(tagged, _int(win, base, ">u2") & 0x0FFF, -1)
        et = np.where(tagged, _int(win, base + 2, ">u2"), et)
        l3 += tagged * 4
        tagged &= _is_tpid(et)  # QinQ: the inner tag names the VLAN
        _set_error(out.err, tagged & (cap < base + 8), DecodeError.TRUNCATED_L2)
        tagged &= out.err == 0
        out.vlan = np.where(tagged, _int(win, base + 4, ">u2") & 0x0FFF, out.vlan)
        et = np.where(tagged, _int(win, base + 6, ">u2"), et)
        l3 += tagged * 4
    out.l3, out.ethertype = l3, et
    return out


def _link_layers(buf: U8, start: I64, cap: I64, linktypes: int | npt.NDArray[np.integer]) -> _L2:
    """The link layer of every packet, grouping packets by link type when they differ."""
    if isinstance(linktypes, int | np.integer):
        return _link_layer(buf, start, cap, int(linktypes))
    lts = np.asarray(linktypes)
    kinds = np.unique(lts)
    if len(kinds) == 1:
        return _link_layer(buf, start, cap, int(kinds[0]))
    out = _L2.empty(len(start))
    for lt in kinds:
        sel = np.flatnonzero(lts == lt)
        part = _link_layer(buf, start[sel], cap[sel], int(lt))
        for name in ("l3", "ethertype", "vlan", "src_mac", "dst_mac", "err"):
            getattr(out, name)[sel] = getattr(part, name)
    return out


def _ipv6_extensions(buf: U8, start: I64, sel: I64, ip: _IP) -> None:
    """Skip the extension headers of the packets ``sel`` (updates ``ip``)."""
    l4, end, nh, first, err = ip.l4, ip.end, ip.proto, ip.first, ip.err
    ext_ids = np.array(_IPV6_EXT)
    for _ in range(_IPV6_MAX_EXT):
        sel = sel[np.isin(nh[sel], ext_ids) & (err[sel] == 0)]
        if not len(sel):
            return
        short = end[sel] < l4[sel] + 8
        err[sel[short]] = DecodeError.TRUNCATED_L3
        sel = sel[~short]
        win = _windows(buf, start[sel] + l4[sel], 8)
        kind = nh[sel]
        size = _int(win, 1, "u1")
        hlen = np.where(kind == 44, 8, np.where(kind == 51, (size + 2) * 4, (size + 1) * 8))
        first[sel] &= ~((kind == 44) & ((_int(win, 2, ">u2") >> 3) != 0))
        nh[sel] = _int(win, 0, "u1")
        l4[sel] += hlen
    left = sel[np.isin(nh[sel], ext_ids) & (err[sel] == 0)]
    err[left] = DecodeError.TRUNCATED_L3


@dataclass
class _IP:
    """What the IP layer leaves for the transport layer (all packets, masked)."""

    l4: I64  # offset of the transport header
    end: I64  # end of the IP data (before link-layer trailer padding)
    proto: I64
    first: Mask  # not a later fragment
    err: U8


def _ip_layer(
    buf: U8,
    start: I64,
    cap: I64,
    *,
    l3: I64,
    l2: _L2,
    w3: npt.NDArray[np.void],
    rec: npt.NDArray[np.void],
) -> tuple[_IP, Mask]:
    """IPv4 and IPv6 headers, computed for every packet and masked; returns (state, ok)."""
    err, et = l2.err, l2.ethertype
    l2_ok = err == 0
    is4 = l2_ok & (et == ETH_IPV4)
    is6 = l2_ok & (et == ETH_IPV6)
    vbyte = _int(w3, 0, "u1")
    ihl = (vbyte & 0x0F) * 4
    total = _int(w3, 2, ">u2")
    _set_error(err, (is4 & (cap < l3 + 20)) | (is6 & (cap < l3 + 40)), DecodeError.TRUNCATED_L3)
    bad4 = is4 & (((vbyte >> 4) != 4) | (ihl < 20) | ((total != 0) & (total < ihl)))
    _set_error(err, bad4 | (is6 & ((vbyte >> 4) != 6)), DecodeError.BAD_IP_HEADER)
    _set_error(err, is4 & (cap < l3 + ihl), DecodeError.TRUNCATED_L3)
    plen = _int(w3, 4, ">u2")
    # total length 0 is what TCP segmentation offload leaves in captures
    ip_len = np.where(is4, np.where(total == 0, cap, total), np.where(plen == 0, cap, 40 + plen))
    ip = _IP(
        l4=np.where(is4, l3 + ihl, np.where(is6, l3 + 40, l3)),
        end=np.where(is4 | is6, np.minimum(cap, l3 + ip_len), cap),
        proto=np.where(is4, _int(w3, 9, "u1"), np.where(is6, _int(w3, 6, "u1"), 0)),
        first=~is4 | ((_int(w3, 6, ">u2") & 0x1FFF) == 0),
        err=err,
    )
    ext6 = np.flatnonzero(is6 & (err == 0))
    if len(ext6):
        _ipv6_extensions(buf, start, ext6, ip)
        _set_error(err, is6 & (ip.l4 > ip.end), DecodeError.TRUNCATED_L3)
    ok4 = is4 & (err == 0)
    ok6 = is6 & (err == 0)
    ok_ip = ok4 | ok6
    rec["ip_version"] = np.where(ok4, 4, np.where(ok6, 6, 0))
    rec["ttl"] = np.where(ok4, _field(w3, 8, "u1"), np.where(ok6, _field(w3, 7, "u1"), 0))
    rec["proto"] = np.where(ok_ip, ip.proto, 0)
    rec["src4"] = np.where(ok4, _field(w3, 12, ">u4"), 0)
    rec["dst4"] = np.where(ok4, _field(w3, 16, ">u4"), 0)
    if ok6.any():
        sel = np.flatnonzero(ok6)
        rec["src6"][sel] = _field(w3, 8, "V16")[sel]
        rec["dst6"][sel] = _field(w3, 24, "V16")[sel]
    return ip, ok_ip


def _arp_layer(
    cap: I64, l3: I64, arp: Mask, *, w3: npt.NDArray[np.void], rec: npt.NDArray[np.void], err: U8
) -> Mask:
    """ARP for IPv4 over a 48-bit hardware address; returns the packets decoded."""
    _set_error(err, arp & (cap < l3 + 8), DecodeError.TRUNCATED_L3)
    shape = (_int(w3, 2, ">u2") == ETH_IPV4) & (_int(w3, 4, ">u2") == 0x0604)
    _set_error(err, arp & ~shape, DecodeError.BAD_ARP)
    _set_error(err, arp & (cap < l3 + 28), DecodeError.TRUNCATED_L3)
    ok: Mask = arp & (err == 0)
    rec["arp_op"] = np.where(ok, _field(w3, 6, ">u2"), 0)
    rec["arp_sha"] = np.where(ok, _mac(w3, 8), np.uint64(0))
    rec["arp_spa"] = np.where(ok, _field(w3, 14, ">u4"), 0)
    rec["arp_tha"] = np.where(ok, _mac(w3, 18), np.uint64(0))
    rec["arp_tpa"] = np.where(ok, _field(w3, 24, ">u4"), 0)
    return ok


def _transport(
    buf: U8, start: I64, ip: _IP, has_l4: Mask, rec: npt.NDArray[np.void]
) -> tuple[I64, Mask]:
    """TCP, UDP, ICMP and ICMPv6 headers; returns (header length, header cut short)."""
    w4 = _windows(buf, start + ip.l4, _L4_WIN)
    avail = ip.end - ip.l4
    proto = ip.proto
    tcp = has_l4 & (proto == 6)
    udp = has_l4 & (proto == 17)
    icmp = has_l4 & ((proto == 1) | (proto == 58))
    ports = (tcp | udp) & (avail >= 4)
    rec["sport"] = np.where(ports, _field(w4, 0, ">u2"), 0)
    rec["dport"] = np.where(ports, _field(w4, 2, ">u2"), 0)
    rec["tcp_flags"] = np.where(tcp & (avail >= 14), _field(w4, 13, "u1"), 0)
    typed = icmp & (avail >= 2)
    rec["icmp_type"] = np.where(typed, _field(w4, 0, "u1"), 0)
    rec["icmp_code"] = np.where(typed, _field(w4, 1, "u1"), 0)
    doff = (_int(w4, 12, "u1") >> 4) * 4
    hlen = np.where(tcp, doff, np.where(udp | icmp, 8, 0))
    short: Mask = (avail < hlen) | (tcp & ((avail < 20) | (doff < 20)))
    _set_error(ip.err, short, DecodeError.TRUNCATED_L4)
    return hlen, short


def _record_layout() -> str:
    """``PACKET_DTYPE`` as ``nw_decode_layout()`` spells the records it writes."""
    fields = []
    for name, (dtype, offset, *_) in (PACKET_DTYPE.fields or {}).items():
        if name in {"ts", "wirelen"}:  # the caller's: the kernel leaves them 0
            continue
        kind = f"{dtype.kind}{dtype.itemsize}" if dtype.isnative else f"{dtype.str}-not-native"
        fields.append(f"{name}:{offset}:{kind}")
    return " ".join([*fields, f"itemsize:{PACKET_DTYPE.itemsize}"])


_RECORD_LAYOUT: Final = _record_layout()


@cache
def _check_layout(lib: ctypes.CDLL) -> None:
    """Refuse a kernel built for another ``PACKET_DTYPE``: it would write fields in the wrong place."""
    built = lib.nw_decode_layout().decode()
    if built != _RECORD_LAYOUT:
        raise RuntimeError(
            f"nw_decode in {native.SOURCE} writes records laid out as {built!r}, "
            f"but PACKET_DTYPE is {_RECORD_LAYOUT!r}: update NW_FIELDS in native.c"
        )


def _linktypes_for_c(linktypes: int | npt.NDArray[np.integer], n: int) -> tuple[I64, int] | None:
    """``nw_decode``'s link types (an ``int64`` array and its step), or None for the numpy code.

    A Python int may not fit in ``int64``: an unsupported one becomes -1, which the
    kernel also rejects. An array must hold integers, one per packet.
    """
    if isinstance(linktypes, int | np.integer):
        lt = int(linktypes)
        return np.array([lt if lt in SUPPORTED_LINKTYPES else -1], np.int64), 0
    lts = np.asarray(linktypes)
    if lts.dtype.kind not in "iu" or lts.shape != (n,):
        return None
    # values beyond int64 wrap to negatives: unsupported either way
    return np.ascontiguousarray(lts.astype(np.int64, copy=False)), 1


def _plain_arrays(buf: U8, start: I64, cap: I64) -> bool:
    """Whether ``nw_decode`` can take these arrays' memory as it is (flat bytes, 1-D offsets)."""
    flat_bytes = isinstance(buf, np.ndarray) and buf.dtype == np.uint8 and buf.ndim == 1
    return flat_bytes and buf.flags.c_contiguous and start.ndim == 1 and start.shape == cap.shape


def _decode_compiled(
    buf: U8, start: I64, cap: I64, linktypes: int | npt.NDArray[np.integer]
) -> npt.NDArray[np.void] | None:
    """``nw_decode`` on the batch, or None when the numpy code must do it.

    That is without the compiled kernels, and for arguments outside the kernel's
    contract: arrays of other shapes or types, or a packet too close to the end
    of ``buf`` for the kernel's windows (it wants 40 bytes after each packet,
    fewer than :data:`PAD`). The numpy code then gives its own result or error.
    """
    lib = native.library()
    lts = _linktypes_for_c(linktypes, len(start))
    if lib is None or lts is None or not _plain_arrays(buf, start, cap):
        return None
    _check_layout(lib)
    start = np.ascontiguousarray(start)
    cap = np.ascontiguousarray(cap)
    rec = np.zeros(len(start), PACKET_DTYPE)
    lt_array, lt_step = lts
    done = lib.nw_decode(
        buf.ctypes.data,
        len(buf),
        start.ctypes.data,
        cap.ctypes.data,
        lt_array.ctypes.data,
        lt_step,
        len(start),
        rec.ctypes.data,
    )
    return rec if done == len(start) else None


def _decode_numpy(
    buf: U8, start: I64, cap: I64, linktypes: int | npt.NDArray[np.integer]
) -> npt.NDArray[np.void]:
    """The reference decoder: whole-batch numpy passes, layer by layer."""
    rec = np.zeros(len(start), PACKET_DTYPE)
    l2 = _link_layers(buf, start, cap, linktypes)
    err = l2.err
    rec["caplen"] = cap
    rec["src_mac"] = l2.src_mac
    rec["dst_mac"] = l2.dst_mac
    rec["vlan"] = l2.vlan
    rec["ethertype"] = l2.ethertype
    l2_ok = err == 0
    l3 = np.minimum(l2.l3, cap)
    w3 = _windows(buf, start + l3, _L3_WIN)
    ip, ok_ip = _ip_layer(buf, start, cap, l3=l3, l2=l2, w3=w3, rec=rec)
    arp = l2_ok & (l2.ethertype == ETH_ARP)
    if arp.any():
        ok_arp = _arp_layer(cap, l3, arp, w3=w3, rec=rec, err=err)
        ip.l4 = np.where(ok_arp, l3 + 28, ip.l4)
    ip.l4 = np.minimum(ip.l4, ip.end)
    hlen, short = _transport(buf, start, ip, ok_ip & ip.first, rec)
    # payload: what follows the last header decoded, up to the end of the IP data
    after = np.where(err == 0, ip.l4 + hlen, np.where(short, ip.l4, np.where(l2_ok, l3, 0)))
    end = np.where(ok_ip, ip.end, cap)
    rec["payload_off"] = np.minimum(after, _U16_MAX)
    rec["payload_len"] = np.clip(end - after, 0, _U16_MAX)
    rec["error"] = err
    return rec


def decode_headers(
    buf: U8,
    starts: I64,
    caplens: I64,
    linktypes: int | npt.NDArray[np.integer],
) -> npt.NDArray[np.void]:
    """Decode the headers of packets ``buf[starts[i] : starts[i] + caplens[i]]``.

    With the compiled kernels, ``nw_decode`` does it; otherwise (or for arguments
    outside its contract) the numpy code, with the same result.

    Args:
        buf: the bytes holding every packet, with at least :data:`PAD` readable
            bytes after the end of the last one.
        starts: offset of each packet's first byte in ``buf``.
        caplens: captured length of each packet.
        linktypes: the pcap link type of all packets, or one per packet.

    Returns:
        One ``PACKET_DTYPE`` record per packet; ``ts`` and ``wirelen`` are left for
        the caller, ``caplen`` is set.

    Examples:
        >>> import numpy as np
        >>> frame = bytes.fromhex("ffffffffffff" "020000000001" "0806"
        ...     "0001080006040001" "020000000001" "0a000001" "000000000000" "0a000002")
        >>> buf = np.frombuffer(frame + bytes(PAD), np.uint8)
        >>> rec = decode_headers(buf, np.array([0]), np.array([len(frame)]), 1)
        >>> hex(int(rec["ethertype"][0])), int(rec["arp_op"][0]), int(rec["error"][0])
        ('0x806', 1, 0)
    """
    if len(starts) == 0:
        return np.zeros(0, PACKET_DTYPE)
    start = np.asarray(starts, np.int64)
    cap = np.asarray(caplens, np.int64)
    rec = _decode_compiled(buf, start, cap, linktypes)
    return rec if rec is not None else _decode_numpy(buf, start, cap, linktypes)
