"""DHCP messages read a batch at a time (``bootp_fields``): compiled, pure Python and the
per-message reader agree, on well-formed, odd and cut messages."""

from __future__ import annotations

import random

import numpy as np
import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from collectors.auditor import native
from collectors.auditor.detectors import _dhcp
from collectors.auditor.detectors._dhcp import MAGIC, bootp_fields, parse_bootp
from collectors.auditor.detectors._util import payload_slices
from tests.unit.auditor.auditor_helpers import scapy_batch

_HEAD = bytes([1]) + bytes(23) + bytes([10, 0, 0, 1]) + bytes.fromhex("02aabbccddee") + bytes(202)


def _messages(rng: random.Random) -> list[bytes]:
    fixed = [
        b"",
        bytes(239),
        _HEAD + b"\x00\x00\x00\x00",  # no magic cookie
        _HEAD + MAGIC,  # no options
        _HEAD + MAGIC + bytes([53, 1, 1, 255]),
        _HEAD + MAGIC + bytes([53, 1, 2, 54, 4, 10, 0, 0, 9, 53, 1, 5, 255]),  # last wins
        _HEAD + MAGIC + bytes([0, 0, 0, 53, 1, 3, 54, 4, 192, 0, 2, 1]),  # pads, no end
        _HEAD + MAGIC + bytes([53]),  # cut after the code
        _HEAD + MAGIC + bytes([53, 1]),  # cut before the value
        _HEAD + MAGIC + bytes([54, 4, 10, 0]),  # server id cut
        _HEAD + MAGIC + bytes([54, 3, 10, 0, 0, 53, 0, 53, 2, 6]),  # odd lengths
        _HEAD + MAGIC + bytes([255, 53, 1, 1]),  # after the end option: not read
    ]
    out = list(fixed)
    for _ in range(400):
        opts = bytearray()
        for _ in range(rng.randrange(0, 12)):
            code = rng.choice([0, 53, 54, 55, 61, 12, 255, rng.randrange(256)])
            if code == 0:
                opts.append(0)
                continue
            length = rng.choice([0, 1, 4, rng.randrange(256)])
            opts += bytes([code, length]) + rng.randbytes(length)
        msg = bytes([rng.randrange(3)]) + rng.randbytes(235) + MAGIC + bytes(opts)
        out.append(msg[: rng.randrange(236, len(msg) + 1)] if rng.random() < 0.3 else msg)
    return out


@pytest.mark.parametrize("compiled", [True, False])
def test_bootp_fields_agree_with_the_reader_of_one_message(
    compiled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if compiled and native.library() is None:
        pytest.skip("no C compiler: the compiled kernels are not built")
    msgs = _messages(random.Random(7))  # noqa: S311  (test data, not a secret)
    batch = scapy_batch(
        [
            Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
            / IP(src="10.0.0.1", dst="10.0.0.2")
            / UDP(sport=68, dport=67)
            / Raw(m)
            for m in msgs
        ]
    )
    rows = np.arange(len(msgs))
    assert payload_slices(batch, rows) == msgs  # the messages are the payloads
    if compiled:  # the compiled path must not fall back to the reader of one message
        monkeypatch.setattr(_dhcp, "parse_bootp", None)
    got = bootp_fields(batch, rows, compiled=compiled)
    monkeypatch.undo()
    for k, m in enumerate(msgs):
        want = parse_bootp(m)
        row = (got.op[k], got.mtype[k], got.giaddr[k], got.server[k], got.chaddr[k])
        if want is None:
            assert not got.ok[k], k
            assert row == (0, 0, 0, -1, 0)
        else:
            assert got.ok[k], k
            op, mtype, giaddr, server, chaddr = want
            assert row == (op, mtype, giaddr, -1 if server is None else server, chaddr), k
    assert got.ok.sum() > 300
    # a subset of rows, in another order
    some = rows[::-3]
    part = bootp_fields(batch, some, compiled=compiled)
    assert part.rows.tolist() == some.tolist()
    assert part.mtype.tolist() == got.mtype[some].tolist()
    assert part.server.tolist() == got.server[some].tolist()


def test_cut_options_are_not_taken() -> None:
    assert parse_bootp(_HEAD + MAGIC + bytes([53, 1])) == (1, 0, 0x0A000001, None, 0x02AABBCCDDEE)
    assert parse_bootp(_HEAD + MAGIC + bytes([53, 1, 3, 54, 4, 1, 2, 3])) == (
        1,
        3,
        0x0A000001,
        None,
        0x02AABBCCDDEE,
    )
