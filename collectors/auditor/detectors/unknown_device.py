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

from ipaddress import IPv4Address
from typing import ClassVar

import numpy as np
from pydantic import Field

from collectors.auditor.batch import Batch
from collectors.auditor.config import DetectorSettings
from collectors.auditor.detectors._util import (
    BoundedDict,
    arp_mask,
    ip_str,
    ipv4_mask,
    mac_int,
    mac_str,
)
from collectors.auditor.detectors.base import DetectorContext, register
from collectors.auditor.events import Severity


class UnknownDeviceSettings(DetectorSettings):
    strict_zones: list[str] = Field(default_factory=lambda: ["mgmt", "servers"])
    high_zones: list[str] = Field(default_factory=lambda: ["mgmt"])
    known_hosts: list[IPv4Address] = Field(default_factory=list)
    known_macs: list[str] = Field(default_factory=list)


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
        self.judged: BoundedDict[int, str | None] = BoundedDict(100_000)
        self.counts: dict[int, tuple[float, float, int, int]] = {}

    def process(self, batch: Batch, ctx: DetectorContext) -> None:  # noqa: ARG002  (contract)
        p = batch.packets
        m4 = ipv4_mask(batch)
        arp = arp_mask(batch) & (p["arp_spa"] != 0)
        ips = np.concatenate([p["src4"][m4], p["arp_spa"][arp]])
        macs = np.concatenate([p["src_mac"][m4], p["arp_sha"][arp]])
        ts = np.concatenate([p["ts"][m4], p["ts"][arp]])
        cand = ~np.isin(ips, self.known) & (ips != 0)
        if len(self.known_macs):
            cand &= ~np.isin(macs, self.known_macs)
        if not cand.any():
            return
        ips, macs, ts = ips[cand], macs[cand], ts[cand]
        uniq, first, counts = np.unique(ips, return_index=True, return_counts=True)
        for ip, f, n in zip(uniq, first, counts, strict=True):
            ip_i = int(ip)
            if ip_i not in self.judged:
                pl = self.policy.place(IPv4Address(ip_i))
                self.judged[ip_i] = pl.label if pl.zone in self.s.strict_zones else None
            label = self.judged[ip_i]
            if label is None:
                continue
            t = float(ts[f])
            first_ts, last_ts, total, mac = self.counts.get(ip_i, (t, t, 0, int(macs[f])))
            total += int(n)
            self.counts[ip_i] = (min(first_ts, t), max(last_ts, t), total, mac)
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
