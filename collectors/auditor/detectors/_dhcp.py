"""DHCP (BOOTP) messages as the DHCP detectors read them (``rogue_dhcp``, ``dhcp_starvation``)."""

from __future__ import annotations

MAGIC = b"\x63\x82\x53\x63"
DISCOVER, REQUEST = 1, 3


def parse_bootp(data: bytes) -> tuple[int, int, int, int | None, int] | None:
    """(op, message type, giaddr, server id, chaddr) of a BOOTP/DHCP message, or None.

    Examples:
        >>> msg = bytes([2]) + bytes(23) + bytes([10, 0, 0, 1]) + bytes(208) + MAGIC
        >>> parse_bootp(msg + bytes([53, 1, 2, 54, 4, 10, 0, 0, 9, 255]))
        (2, 2, 167772161, 167772169, 0)
    """
    if len(data) < 240 or data[236:240] != MAGIC:
        return None
    op = data[0]
    giaddr = int.from_bytes(data[24:28], "big")
    chaddr = int.from_bytes(data[28:34], "big")
    mtype, server = 0, None
    i = 240
    while i < len(data):
        code = data[i]
        if code == 255:
            break
        if code == 0:
            i += 1
            continue
        if i + 1 >= len(data):
            break
        length = data[i + 1]
        value = data[i + 2 : i + 2 + length]
        if code == 53 and length >= 1:
            mtype = value[0]
        elif code == 54 and length == 4:
            server = int.from_bytes(value, "big")
        i += 2 + length
    return op, mtype, giaddr, server, chaddr
