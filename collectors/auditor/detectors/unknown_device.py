"""``unknown_device``: an address not in the inventory where only inventoried devices belong.

In the ``strict_zones`` (default ``mgmt`` and ``servers``) every address is an
inventory device's (management or interface address), a zone gateway, or listed
in ``known_hosts`` (per site: appliances the inventory does not model yet, such
as a printer's management card). Any other *source* address seen there, in IP
packets or as an ARP sender, is an unknown device. The inventory has no MAC
addresses yet; ``known_macs`` exempts devices by MAC. One incident per address;
high in ``mgmt``, medium elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import Field

from collectors.auditor.batch import Batch
from collectors.auditor.config import DetectorSettings
from collectors.auditor.detectors._util import (
    ip_str,
    mac_int,
    mac_str,
    view,
)
from collectors.auditor.detectors.base import DetectorContext, register
from collectors.auditor.events import Severity


class UnknownDeviceSettings(DetectorSettings):
    strict_zones: list[str] = Field(default_factory=lambda: ["mgmt", "servers"])
    high_zones: list[str] = Field(default_factory=lambda: ["mgmt"])
    known_hosts: list[IPv4Address] = Field(default_factory=list)
    known_macs: list[str] = Field(default_factory=list)


Ranges = tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]


def _merge(ranges: Iterable[tuple[int, int]]) -> Ranges:
    """Sorted, non-overlapping ``[start, end]`` ranges covering ``ranges``."""
    out: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return (
        np.array([r[0] for r in out], dtype=np.uint32),
        np.array([r[1] for r in out], dtype=np.uint32),
    )


def _within(ips: npt.NDArray[np.uint32], ranges: Ranges) -> npt.NDArray[np.bool_]:
    """``ips`` inside one of the (merged) ranges."""
    starts, ends = ranges
    if len(starts) == 0 or len(ips) == 0:
        return np.zeros(len(ips), dtype=np.bool_)
    pos = np.searchsorted(starts, ips, side="right") - 1
    inside: npt.NDArray[np.bool_] = (pos >= 0) & (ips <= ends[np.maximum(pos, 0)])
    return inside


@register
class UnknownDevice:
    name: ClassVar[str] = "unknown_device"
    Settings: ClassVar[type[DetectorSettings]] = UnknownDeviceSettings
    needs_inventory: ClassVar[bool] = True

    def __init__(self, settings: UnknownDeviceSettings, ctx: DetectorContext) -> None:
        if ctx.inventory is None or ctx.policy is None:
            raise ValueError("unknown_device needs the inventory")
        self.s = settings
        self.ctx = ctx
        self.policy = ctx.policy
        known = {int(a) for a in settings.known_hosts}
        for dev in ctx.inventory.devices.values():
            known |= {int(a) for _, a in dev.addresses()}
        for site in ctx.inventory.sites.values():
            for z in site.zones.values():
                known |= {
                    int(z.gateway),
                    int(z.subnet.network_address),
                    int(z.subnet.broadcast_address),
                }
        self.known = np.array(sorted(known), dtype=np.uint32)
        self.known_macs = np.array(sorted(mac_int(m) for m in settings.known_macs), dtype=np.uint64)
        # [start, end] address ranges of the strict zones' subnets (merged, sorted)
        self.ranges = _merge(
            (int(z.subnet.network_address), int(z.subnet.broadcast_address))
            for site in ctx.inventory.sites.values()
            for name, z in site.zones.items()
            if name in settings.strict_zones
        )
        self.counts: dict[int, tuple[float, int, int]] = {}  # ip -> (first ts, packets, mac)

    def process(self, batch: Batch, ctx: DetectorContext) -> None:  # noqa: ARG002  (contract)
        p = batch.packets
        v = view(batch)
        m4 = v.ipv4
        arp = view(batch).arp & (p["arp_spa"] != 0)
        ips = v.src4[m4]
        # Only addresses inside a strict zone's subnet can be judged: a range test first.
        inside = _within(ips, self.ranges)
        arp_ips = p["arp_spa"][arp]
        arp_inside = _within(arp_ips, self.ranges)
        if not (inside.any() or arp_inside.any()):
            return
        ips = np.concatenate([ips[inside], arp_ips[arp_inside]])
        macs = np.concatenate([p["src_mac"][m4][inside], p["arp_sha"][arp][arp_inside]])
        ts = np.concatenate([v.ts[m4][inside], p["ts"][arp][arp_inside]])
        cand = ~np.isin(ips, self.known) & (ips != 0)
        if len(self.known_macs):
            cand &= ~np.isin(macs, self.known_macs)
        if not cand.any():
            return
        ips, macs, ts = ips[cand], macs[cand], ts[cand]
        uniq, first, counts = np.unique(ips, return_index=True, return_counts=True)
        site_i, zone_i = self.policy.place_many(uniq)
        zone_names = self.policy.zone_names
        strict = np.isin(
            zone_i, [zone_names.index(z) for z in self.s.strict_zones if z in zone_names]
        )
        for ip_i, f, n, si, zi in zip(
            uniq[strict].tolist(),
            first[strict].tolist(),
            counts[strict].tolist(),
            site_i[strict].tolist(),
            zone_i[strict].tolist(),
            strict=True,
        ):
            label = self.policy.placement(si, zi).label
            t = float(ts[f])
            first_ts, total, mac = self.counts.get(ip_i, (t, 0, int(macs[f])))
            total += n
            self.counts[ip_i] = (min(first_ts, t), total, mac)
            zone = label.split("/")[-1]
            addr = ip_str(ip_i)
            self.ctx.report(
                self.name,
                (addr,),
                ts=t,
                first_seen=first_ts,
                severity=Severity.HIGH if zone in self.s.high_zones else Severity.MEDIUM,
                src=addr,
                count=total,
                summary=f"unknown device {addr} ({mac_str(mac)}) in {label}, where only "
                "inventory devices belong",
                evidence={"zone": label, "mac": mac_str(mac), "packets": total},
            )

    def expire(self, now: float) -> None:  # noqa: ARG002  (no windows: bounded by size)
        if len(self.counts) > 100_000:
            self.counts.clear()
