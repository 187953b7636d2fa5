"""DHCP (BOOTP) messages as the DHCP detectors read them (``rogue_dhcp``, ``dhcp_starvation``).

:func:`bootp_fields` reads the messages of a batch at once (compiled: ``nw_bootp`` in
``native.c``; else :func:`parse_bootp` per message, the same results): a DHCP flood is
thousands of messages a second, and per message Python cost them most of the auditor's
time on such traffic (docs/decisions.md 122).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from collectors.auditor import native
from collectors.auditor.batch import Batch
from collectors.auditor.detectors._util import payload_slices, payload_starts, view

MAGIC = b"\x63\x82\x53\x63"
DISCOVER, REQUEST = 1, 3


def parse_bootp(data: bytes) -> tuple[int, int, int, int | None, int] | None:
    """(op, message type, giaddr, server id, chaddr) of a BOOTP/DHCP message, or None.

    The last occurrence of an option wins; an option cut by the end of the data is not
    taken (message type 0, server id None when absent).

    Examples:
        >>> msg = bytes([2]) + bytes(23) + bytes([10, 0, 0, 1]) + bytes(208) + MAGIC
        >>> parse_bootp(msg + bytes([53, 1, 2, 54, 4, 10, 0, 0, 9, 255]))
        (2, 2, 167772161, 167772169, 0)
        >>> parse_bootp(msg + bytes([54, 4, 10, 0]))  # cut: no server id
        (2, 0, 167772161, None, 0)
    """
    if len(data) < 240 or data[236:240] != MAGIC:
        return None
    op = data[0]
    giaddr = int.from_bytes(data[24:28], "big")
    chaddr = int.from_bytes(data[28:34], "big")
    mtype, server = 0, None
    i = 240
    end = len(data)
    while i < end:
        code = data[i]
        if code == 255:
            break
        if code == 0:
            i += 1
            continue
        if i + 1 >= end:
            break
        length = data[i + 1]
        if code == 53 and length >= 1 and i + 2 < end:
            mtype = data[i + 2]
        elif code == 54 and length == 4 and i + 6 <= end:
            server = int.from_bytes(data[i + 2 : i + 6], "big")
        i += 2 + length
    return op, mtype, giaddr, server, chaddr


@dataclass(frozen=True, slots=True)
class BootpFields:
    """The messages of packets ``rows`` of a batch, as columns (``ok``: it is DHCP; the
    other columns are 0 where it is not, ``server`` -1 where absent)."""

    rows: npt.NDArray[np.int64]
    ok: npt.NDArray[np.bool_]
    op: npt.NDArray[np.int64]
    mtype: npt.NDArray[np.int64]
    giaddr: npt.NDArray[np.int64]
    server: npt.NDArray[np.int64]
    chaddr: npt.NDArray[np.int64]


def bootp_fields(
    batch: Batch, rows: npt.NDArray[np.integer], *, compiled: bool | None = None
) -> BootpFields:
    """:func:`parse_bootp` of the payloads of packets ``rows``, as columns.

    ``compiled``: None uses ``nw_bootp`` when the kernels load, False the pure Python.
    """
    at: npt.NDArray[np.int64] = np.asarray(rows, dtype=np.int64)
    n = len(at)
    out = np.zeros((n, 5), dtype=np.int64)
    ok = np.zeros(n, dtype=np.uint8)
    lib = native.library() if compiled is not False else None
    if n and lib is not None:
        buf = np.frombuffer(batch.data, dtype=np.uint8)
        starts = np.ascontiguousarray(payload_starts(batch, at))
        lens = np.ascontiguousarray(view(batch).payload_len[at].astype(np.int64))
        # (the decoder's payload_off/payload_len never leave the captured bytes)
        if len(buf) and int((starts + lens).max()) <= len(buf):
            lib.nw_bootp(
                buf.ctypes.data,
                starts.ctypes.data,
                lens.ctypes.data,
                n,
                out.ctypes.data,
                ok.ctypes.data,
            )
            return _fields(at, ok, out)
    for k, data in enumerate(payload_slices(batch, at) if n else ()):
        msg = parse_bootp(data)
        if msg is None:
            out[k, 3] = -1
            continue
        op, mtype, giaddr, server, chaddr = msg
        out[k] = (op, mtype, giaddr, -1 if server is None else server, chaddr)
        ok[k] = 1
    return _fields(at, ok, out)


def _fields(
    rows: npt.NDArray[np.int64], ok: npt.NDArray[np.uint8], out: npt.NDArray[np.int64]
) -> BootpFields:
    return BootpFields(
        rows, ok.astype(np.bool_), out[:, 0], out[:, 1], out[:, 2], out[:, 3], out[:, 4]
    )
