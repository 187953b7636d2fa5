"""``policy_violation``: a flow between zones that the inventory's flow policy forbids.

The flow policy (``group_vars/all/flows.yml``) renders every firewall's ruleset;
here it is the model of what may cross. A forbidden flow the sensor sees is a
firewall misconfiguration or a bypass: both are findings.

Flows are counted once, by their first packet: a TCP SYN (without ACK), the first
UDP datagram of a 4-tuple not seen (either way) for ``udp_flow_seconds``, an ICMP
echo request. Both ends must be inside the address plan (or the internet);
addresses of no site and no zone are not judged. Placements are computed per
batch for its unique addresses at once (``FlowPolicyEngine.place_many``), and
decisions are cached per (source place, destination place, protocol, port). Broadcast and multicast destinations are not flows between zones. One
incident per (source, source zone, destination zone), severity high when
the destination is a management zone or the source is ``guests``/``internet``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import ClassVar

import numpy as np
from pydantic import Field

from collectors.auditor.batch import Batch
from collectors.auditor.config import DetectorSettings
from collectors.auditor.detectors._util import BoundedDict, group_rows, ip_str, view
from collectors.auditor.detectors.base import DetectorContext, register
from collectors.auditor.events import Severity
from netwarden.inventory.flows import FlowDecision
from netwarden.inventory.models import Protocol

ICMP_ECHO_REQUEST = 8
_PROTOS = {6: Protocol.TCP, 17: Protocol.UDP, 1: Protocol.ICMP}


class PolicyViolationSettings(DetectorSettings):
    udp_flow_seconds: float = Field(default=60.0, gt=0)
    high_dst_zones: list[str] = Field(default_factory=lambda: ["mgmt"])
    high_src_zones: list[str] = Field(default_factory=lambda: ["guests", "internet"])
    max_flows: int = Field(default=200_000, ge=1000)


@dataclass
class _Incident:
    first: float
    last: float = 0.0
    flows: int = 0
    dsts: Counter[str] = field(default_factory=Counter)
    services: Counter[str] = field(default_factory=Counter)


@register
class PolicyViolation:
    name: ClassVar[str] = "policy_violation"
    Settings: ClassVar[type[DetectorSettings]] = PolicyViolationSettings
    needs_inventory: ClassVar[bool] = True

    def __init__(self, settings: PolicyViolationSettings, ctx: DetectorContext) -> None:
        if ctx.policy is None:
            raise ValueError("policy_violation needs the inventory's flow policy")
        self.s = settings
        self.ctx = ctx
        self.policy = ctx.policy
        self.decisions: dict[tuple[int, int, int, int], FlowDecision] = {}
        self.udp: BoundedDict[tuple[int, int, int, int], float] = BoundedDict(settings.max_flows)
        self.incidents: BoundedDict[tuple[str, str, str], _Incident] = BoundedDict(10_000)

    def _decide(  # noqa: PLR0917  (internal helper)
        self, src: int, dst: int, proto: int, port: int, splace: int, dplace: int
    ) -> FlowDecision:
        key = (splace, dplace, proto, port)
        dec = self.decisions.get(key)
        if dec is None:
            if len(self.decisions) > 100_000:
                self.decisions.clear()
            dec = self.policy.decide(
                IPv4Address(src), IPv4Address(dst), _PROTOS[proto], None if proto == 1 else port
            )
            self.decisions[key] = dec
        return dec

    def process(self, batch: Batch, ctx: DetectorContext) -> None:  # noqa: ARG002  (contract)
        v = view(batch)
        proto = v.proto
        echo = v.icmp & (batch.packets["icmp_type"] == ICMP_ECHO_REQUEST)
        unicast = v.dst4 < 0xE0000000  # not multicast (224/4) nor limited broadcast
        idx = np.flatnonzero((v.syn | v.udp | echo) & unicast)
        if len(idx) == 0:
            return
        # Place both ends of every candidate at once (vectorised); flows with an
        # end outside the plan are never judged (nor is their reverse), so they drop out
        # before any Python work.
        src4, dst4 = v.src4[idx], v.dst4[idx]
        site_i, zone_i = self.policy.place_many(np.concatenate([src4, dst4]))
        n = len(idx)
        both = (zone_i[:n] >= 0) & (zone_i[n:] >= 0)
        if not both.any():
            return
        # a placement's number: (site + 1) * zones + zone, the same for equal placements
        place_no = (site_i.astype(np.int64) + 1) * len(self.policy.zone_names) + zone_i
        sp_no, dp_no = place_no[:n][both], place_no[n:][both]
        idx, src4, dst4 = idx[both], src4[both], dst4[both]
        pr = proto[idx]
        sport = np.where(pr == 1, 0, v.sport[idx]).astype(np.uint64)
        dport = np.where(pr == 1, 0, v.dport[idx]).astype(np.uint64)
        first, _, _ = group_rows(
            (src4.astype(np.uint64) << np.uint64(32)) | dst4.astype(np.uint64),
            (pr.astype(np.uint64) << np.uint64(32)) | (sport << np.uint64(16)) | dport,
        )
        first.sort()
        rows = zip(
            src4[first].tolist(),
            dst4[first].tolist(),
            pr[first].tolist(),
            sport[first].tolist(),
            dport[first].tolist(),
            v.ts[idx[first]].tolist(),
            sp_no[first].tolist(),
            dp_no[first].tolist(),
            strict=True,
        )
        udp_seen = self.udp
        for src, dst, prt, sp, dp, ts, spl, dpl in rows:
            if prt == 17:
                fwd, rev = (src, dst, sp, dp), (dst, src, dp, sp)
                seen = udp_seen.get(fwd) or udp_seen.get(rev)
                udp_seen[fwd] = ts
                if seen is not None and ts - seen <= self.s.udp_flow_seconds:
                    continue
            dec = self._decide(src, dst, prt, dp, spl, dpl)
            if dec.allowed:
                continue
            self._violation(ts, src, dst, prt, dp, dec)

    def _violation(  # noqa: PLR0917  (internal helper)
        self, ts: float, src: int, dst: int, proto: int, port: int, dec: FlowDecision
    ) -> None:
        service = "icmp" if proto == 1 else f"{_PROTOS[proto].value}/{port}"
        src_s, dst_s = ip_str(src), ip_str(dst)
        key = (src_s, dec.src.label, dec.dst.label)
        inc = self.incidents.get(key)
        if inc is None:
            inc = _Incident(first=ts)
            self.incidents[key] = inc
        inc.last = max(inc.last, ts)
        inc.flows += 1
        if len(inc.dsts) < 256 or dst_s in inc.dsts:
            inc.dsts[dst_s] += 1
        if len(inc.services) < 256 or service in inc.services:
            inc.services[service] += 1
        high = dec.dst.zone in self.s.high_dst_zones or dec.src.zone in self.s.high_src_zones
        self.ctx.report(
            self.name,
            key,
            ts=ts,
            first_seen=inc.first,
            severity=Severity.HIGH if high else Severity.MEDIUM,
            src=src_s,
            dst=dst_s if len(inc.dsts) == 1 else "",
            count=inc.flows,
            summary=f"{src_s} ({dec.src.label}) -> {dec.dst.label}: {inc.flows} flow(s) the flow "
            f"policy forbids, e.g. {dst_s} {service} ({dec.reason})",
            evidence={
                "src_zone": dec.src.label,
                "dst_zone": dec.dst.label,
                "services": dict(inc.services.most_common(20)),
                "decision": dec.reason,
                "rule": dec.rule.id if dec.rule is not None else None,
                "flows": inc.flows,
                "destinations": dict(inc.dsts.most_common(10)),
            },
        )

    def expire(self, now: float) -> None:
        udp = self.udp
        while udp:
            key, ts = next(iter(udp.items()))
            if now - ts <= self.s.udp_flow_seconds:
                break
            del udp[key]
