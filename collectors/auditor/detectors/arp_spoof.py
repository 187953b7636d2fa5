"""``arp_spoof``: an IP's MAC contradicts the inventory or the established binding.

Bindings (IP -> MAC) are learnt from the sender fields of ARP requests and replies
and kept ``binding_ttl_seconds`` (Cisco's ARP timeout, 4 h). The inventory holds
no MAC addresses yet, so authoritative bindings come from the detector's
``known_macs`` setting (per site); the site's gateway addresses (from the
inventory) make a claim on a gateway more severe.

Reported:

- a claim of an IP with a MAC other than the established/known one (high;
  medium when announced by gratuitous ARP, which is also how legitimate NIC
  failover looks, unless the IP is a gateway or known);
- an unsolicited ARP reply: "X is-at M" sent to a host that did not ask for X
  (medium; the classic poisoning packet, independent of any learnt binding);
- a frame whose Ethernet source differs from the ARP sender MAC (medium).

Not reported: gratuitous ARP that confirms the binding, ARP probes (sender
0.0.0.0), and FHRP virtual MACs taking over an address (HSRP v1
``0000.0c07.acXX``, HSRP v2 ``0000.0c9f.fXXX``, VRRP ``0000.5e00.01XX``, GLBP
``0007.b400.XXXX``): a router failover is expected to move the gateway address
between the virtual MAC and the routers' own.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import ClassVar

import numpy as np
from pydantic import Field, field_validator

from collectors.auditor.batch import Batch
from collectors.auditor.config import DetectorSettings
from collectors.auditor.detectors._util import BoundedDict, ip_str, mac_int, mac_str, view
from collectors.auditor.detectors.base import DetectorContext, register
from collectors.auditor.events import Severity

ARP_REQUEST = 1
ARP_REPLY = 2
BROADCAST = 0xFFFFFFFFFFFF


def fhrp_kind(mac: int) -> str | None:
    """The FHRP a virtual MAC belongs to, or None.

    Examples:
        >>> fhrp_kind(0x00000C07AC0A), fhrp_kind(0x00005E000105), fhrp_kind(0x001122334455)
        ('hsrp', 'vrrp', None)
    """
    if mac >> 8 == 0x00000C07AC:
        return "hsrp"
    if mac >> 12 == 0x00000C9FF:
        return "hsrpv2"
    if mac >> 8 == 0x00005E0001:
        return "vrrp"
    if mac >> 16 == 0x0007B400:
        return "glbp"
    return None


class ArpSpoofSettings(DetectorSettings):
    binding_ttl_seconds: float = Field(default=14_400.0, gt=0)
    request_window_seconds: float = Field(default=10.0, gt=0)
    known_macs: dict[str, str] = Field(
        default_factory=dict, description="IPv4 address -> MAC (authoritative bindings)"
    )
    report_unsolicited: bool = True
    report_ether_mismatch: bool = True
    max_bindings: int = Field(default=65_536, ge=100)

    @field_validator("known_macs")
    @classmethod
    def _macs(cls, value: dict[str, str]) -> dict[str, str]:
        for ip, mac in value.items():
            mac_int(mac)  # raises with the bad value quoted
            IPv4Address(ip)
        return value


@dataclass
class _Binding:
    mac: int
    first: float
    last: float
    known: bool = False


@register
class ArpSpoof:
    name: ClassVar[str] = "arp_spoof"
    Settings: ClassVar[type[DetectorSettings]] = ArpSpoofSettings
    needs_inventory: ClassVar[bool] = False

    def __init__(self, settings: ArpSpoofSettings, ctx: DetectorContext) -> None:
        self.s = settings
        self.ctx = ctx
        self.bindings: BoundedDict[int, _Binding] = BoundedDict(settings.max_bindings)
        self.known: dict[int, _Binding] = {
            int(IPv4Address(ip)): _Binding(mac_int(mac), 0.0, 0.0, known=True)
            for ip, mac in settings.known_macs.items()
        }
        self.requests: BoundedDict[tuple[int, int], float] = BoundedDict(65_536)
        self.gateways: set[int] = set()
        if ctx.inventory is not None:
            sites = [ctx.inventory.sites[ctx.site]] if ctx.site in ctx.inventory.sites else []
            for site in sites or ctx.inventory.sites.values():
                self.gateways |= {int(z.gateway) for z in site.zones.values()}

    def process(self, batch: Batch, ctx: DetectorContext) -> None:  # noqa: ARG002  (contract)
        p = batch.packets
        idx = np.flatnonzero(view(batch).arp)
        if len(idx) == 0:
            return
        op = p["arp_op"][idx]
        idx = idx[(op == ARP_REQUEST) | (op == ARP_REPLY)]
        q = p[idx]
        rows = zip(
            q["ts"].tolist(),
            q["arp_op"].tolist(),
            q["src_mac"].tolist(),
            q["dst_mac"].tolist(),
            q["arp_sha"].tolist(),
            q["arp_spa"].tolist(),
            q["arp_tpa"].tolist(),
            strict=True,
        )
        for ts, op, eth_src, eth_dst, sha, spa, tpa in rows:
            self._packet(ts=ts, op=op, eth_src=eth_src, eth_dst=eth_dst, sha=sha, spa=spa, tpa=tpa)

    def _packet(
        self, *, ts: float, op: int, eth_src: int, eth_dst: int, sha: int, spa: int, tpa: int
    ) -> None:
        if spa == 0:
            return  # ARP probe (RFC 5227): claims nothing
        gratuitous = spa == tpa
        if op == ARP_REQUEST and not gratuitous:
            self.requests[(spa, tpa)] = ts
        if self.s.report_ether_mismatch and eth_src and sha and eth_src != sha:
            self._report(
                ts,
                spa,
                sha,
                tpa,
                Severity.MEDIUM,
                "ether_mismatch",
                f"ARP from {mac_str(eth_src)} claims {ip_str(spa)} is at {mac_str(sha)} "
                "(Ethernet source and ARP sender differ)",
                {"ethernet_src": mac_str(eth_src)},
            )
        old = self.known.get(spa) or self.bindings.get(spa)
        if old is not None and old.mac != sha:
            fresh = old.known or ts - old.last <= self.s.binding_ttl_seconds
            if fresh and not (fhrp_kind(sha) or fhrp_kind(old.mac)):
                gateway = spa in self.gateways
                severity = (
                    Severity.MEDIUM if gratuitous and not (gateway or old.known) else Severity.HIGH
                )
                self._report(
                    ts,
                    spa,
                    sha,
                    tpa,
                    severity,
                    "binding_conflict",
                    f"{mac_str(sha)} claims {ip_str(spa)}, which is bound to {mac_str(old.mac)}"
                    + (" (a gateway)" if gateway else "")
                    + (" by gratuitous ARP" if gratuitous else ""),
                    {
                        "bound_mac": mac_str(old.mac),
                        "binding_source": "configuration" if old.known else "learnt",
                        "gratuitous": gratuitous,
                        "gateway": gateway,
                    },
                )
                return  # keep the established binding: a spoofer does not get to replace it
            if not old.known:
                self.bindings[spa] = _Binding(sha, ts, ts)
            return
        if (
            op == ARP_REPLY
            and not gratuitous
            and self.s.report_unsolicited
            and eth_dst != BROADCAST
        ):
            asked = self.requests.get((tpa, spa))
            if asked is None or ts - asked > self.s.request_window_seconds:
                gateway = spa in self.gateways
                self._report(
                    ts,
                    spa,
                    sha,
                    tpa,
                    Severity.HIGH if gateway else Severity.MEDIUM,
                    "unsolicited_reply",
                    f"unsolicited ARP reply: {ip_str(spa)} is-at {mac_str(sha)}, sent to "
                    f"{ip_str(tpa)}, which did not ask" + (" (a gateway)" if gateway else ""),
                    {"gateway": gateway},
                )
        if old is None:
            self.bindings[spa] = _Binding(sha, ts, ts)
        elif not old.known:
            old.last = ts
            self.bindings.touch(spa)

    def _report(  # noqa: PLR0917  (internal, called positionally in one pattern)
        self,
        ts: float,
        ip: int,
        mac: int,
        victim: int,
        severity: Severity,
        kind: str,
        summary: str,
        extra: dict[str, object],
    ) -> None:
        claimed = ip_str(ip)
        self.ctx.report(
            self.name,
            (claimed,),
            ts=ts,
            severity=severity,
            src=mac_str(mac),
            dst=ip_str(victim),
            summary=summary,
            evidence={
                "ip": claimed,
                "mac": mac_str(mac),
                "kind": kind,
                "target": ip_str(victim),
                **extra,
            },
        )

    def expire(self, now: float) -> None:
        horizon = now - self.s.binding_ttl_seconds
        bindings = self.bindings
        while bindings:
            ip, b = next(iter(bindings.items()))
            if b.last >= horizon:
                break
            del bindings[ip]
        requests = self.requests
        while requests:
            key, ts = next(iter(requests.items()))
            if ts >= now - self.s.request_window_seconds:
                break
            del requests[key]
