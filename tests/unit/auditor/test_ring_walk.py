"""``nw_tp3_take`` (native.c) on a TPACKET_V3 ring built by hand: no root, no kernel.

The lab test (tests/lab/test_auditor_ring.py) runs it on the kernel's ring; here the
layout corner cases are pinned: blocks taken in order while the kernel has handed
them over, each given back (status 0), timestamps, and a VLAN tag the kernel
stripped (``tp_vlan_tci``) put back into the frame.
"""

from __future__ import annotations

import ctypes
import struct

import numpy as np
import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from collectors.auditor import native
from collectors.auditor.headers import PAD, decode_headers

BLOCK = 4096
TP_STATUS_USER = 1
TP_STATUS_VLAN_VALID = 1 << 4


def _packet(
    ring: np.ndarray,
    at: int,
    frame: bytes,
    *,
    next_offset: int,
    status: int = 1,
    tci: int = 0,
    sec: int = 10,
    nsec: int = 0,
) -> None:
    mac = 48 + 2  # as the kernel aligns the network header
    header = struct.pack(
        "6I2H2IH2x8x",
        next_offset,
        sec,
        nsec,
        len(frame),
        len(frame) + 4 * 0,
        status,
        mac,
        mac + 14,
        0,
        tci,
        0x8100,
    )
    ring[at : at + 48] = np.frombuffer(header, np.uint8)
    ring[at + mac : at + mac + len(frame)] = np.frombuffer(frame, np.uint8)


def _block(ring: np.ndarray, b: int, num: int, status: int = TP_STATUS_USER) -> None:
    base = b * BLOCK
    ring[base : base + 24] = np.frombuffer(struct.pack("6I", 1, 0, status, num, 48, 0), np.uint8)


def test_blocks_are_taken_in_order_copied_and_given_back() -> None:
    lib = native.library()
    if lib is None:
        pytest.skip("no compiled kernels")
    ring = np.zeros(3 * BLOCK, np.uint8)
    plain = bytes(
        Ether(src="02:00:00:00:00:01") / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(dport=53)
    )
    _block(ring, 0, 2)
    _packet(ring, 48, plain, next_offset=160, sec=10, nsec=500_000_000)
    _packet(ring, 208, plain, next_offset=0, status=1 | TP_STATUS_VLAN_VALID, tci=100, sec=11)
    _block(ring, 1, 1)
    _packet(ring, BLOCK + 48, plain, next_offset=0, sec=12)
    _block(ring, 2, 1, status=0)  # still the kernel's: not taken
    _packet(ring, 2 * BLOCK + 48, plain, next_offset=0, sec=13)

    cap = 8 * BLOCK
    out = np.zeros(cap + PAD, np.uint8)
    starts, caplens, wirelens = (np.zeros(1000, np.int64) for _ in range(3))
    ts = np.zeros(1000, np.float64)
    next_block, used = ctypes.c_int64(), ctypes.c_int64()

    def take(first: int) -> int:
        """The blocks from ``first`` on, into the buffers above (at most 8 blocks)."""
        return int(
            lib.nw_tp3_take(
                ring.ctypes.data,
                BLOCK,
                3,
                first,
                8,
                out.ctypes.data,
                cap,
                starts.ctypes.data,
                caplens.ctypes.data,
                wirelens.ctypes.data,
                ts.ctypes.data,
                1000,
                ctypes.byref(next_block),
                ctypes.byref(used),
            )
        )

    n = take(0)
    assert n == 3
    assert next_block.value == 2  # stops at the block the kernel still holds
    assert [int(ring[b * BLOCK + 8]) for b in range(3)] == [0, 0, 0]  # 0, 1 given back
    assert ts[:3].tolist() == [10.5, 11.0, 12.0]
    assert caplens[:3].tolist() == [len(plain), len(plain) + 4, len(plain)]
    assert wirelens[:3].tolist() == [len(plain), len(plain) + 4, len(plain)]
    assert used.value == 3 * len(plain) + 4
    rec = decode_headers(out, starts[:3], caplens[:3], 1)
    assert rec["vlan"].tolist() == [-1, 100, -1]
    assert rec["ethertype"].tolist() == [0x0800] * 3
    assert rec["dport"].tolist() == [53] * 3
    assert rec["error"].tolist() == [0, 0, 0]
    tagged = bytes(out[starts[1] : starts[1] + caplens[1]])
    assert tagged[12:16] == b"\x81\x00\x00\x64"
    assert tagged[:12] + tagged[16:] == plain

    # the third block, once handed over, comes next (the ring wraps to block 0 after it)
    ring[2 * BLOCK + 8] = TP_STATUS_USER
    n = take(2)
    assert n == 1
    assert ts[0] == 13.0
    assert next_block.value == 0
