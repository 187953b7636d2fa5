"""Loaded by pytest before any test module or doctest, whatever the layer.

No test may send traffic off the host (only loopback and the test's own namespaces).
Scapy breaks that silently: an ``Ether()`` without ``dst`` in front of IP or IPv6, turned
into bytes to write a test capture, asks the kernel's neighbour table for the next hop's
MAC and, when it is not cached, sends ARP or neighbour solicitations on the host's own
interface (and waits 2 s for an answer). Test captures never need a real MAC: the guard
below makes scapy take its documented fallback (broadcast) without asking anyone. It
applies to the pytest process only; the lab's traffic scripts run in subprocesses inside
namespaces the tests create, where resolution is what they want.
"""

from __future__ import annotations

from typing import Any

from scapy.layers import inet, inet6, l2


def _no_neighbour_lookup(*_args: Any, **_kwargs: Any) -> None:
    """No MAC from the network: scapy then writes ff:ff:ff:ff:ff:ff."""


def _guard_scapy() -> None:
    # Every default destination MAC scapy derives from an address (IP, IPv6, an ARP
    # reply's pdst) goes through these two functions, read as module globals at call time.
    l2.getmacbyip = _no_neighbour_lookup
    setattr(inet, "getmacbyip", _no_neighbour_lookup)  # noqa: B010 (imported there, not exported)
    inet6.getmacbyip6 = _no_neighbour_lookup


_guard_scapy()
