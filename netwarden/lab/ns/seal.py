"""The seal: nothing of the lab touches the host's network, and nothing leads out of it.

:func:`check_seal` looks at the namespaces themselves (not at the plan), so it also
catches what a daemon or an engineer changed afterwards:

- every link of a lab namespace is loopback, a bridge, a TUN device or a veth whose
  peer lives in another *lab* namespace (a peer in the host or any other namespace
  is a breach);
- every route with a gateway points at an address some lab namespace holds, so no
  route (default routes included) leads beyond the lab;
- no lab namespace has a NAT chain or a masquerade/snat/dnat/redirect rule;
- from the host side: no host link carries the lab's prefix or has its veth peer in
  a lab namespace.

:func:`host_snapshot` records what the host namespace shows (routes, links,
nftables ruleset, mounts) so a test or ``lab status`` can compare before and after.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

from netwarden.lab.ns import netops

ALLOWED_KINDS = frozenset({"bridge", "veth", "tun"})
PARALLEL = 4
_NAT = re.compile(r"\btype nat\b|\bmasquerade\b|\bsnat\b|\bdnat\b|\bredirect\b")


@dataclass(frozen=True)
class HostSnapshot:
    """What the host network namespace shows; compare two with :meth:`changes`."""

    routes: tuple[str, ...]
    routes6: tuple[str, ...]
    links: tuple[str, ...]
    nft: str
    mounts: tuple[str, ...]

    def changes(self, after: HostSnapshot) -> dict[str, tuple[set[str], set[str]]]:
        """Per item, (lines gone, lines new) between this snapshot and ``after``."""
        out: dict[str, tuple[set[str], set[str]]] = {}
        for name in ("routes", "routes6", "links", "mounts"):
            before_set, after_set = set(getattr(self, name)), set(getattr(after, name))
            if before_set != after_set:
                out[name] = (before_set - after_set, after_set - before_set)
        if self.nft != after.nft:
            b_lines, a_lines = set(self.nft.splitlines()), set(after.nft.splitlines())
            out["nft"] = (b_lines - a_lines, a_lines - b_lines)
        return out


def host_snapshot() -> HostSnapshot:
    def lines(args: list[str]) -> tuple[str, ...]:
        return tuple(sorted(netops.run(args).stdout.splitlines()))

    return HostSnapshot(
        routes=lines(["ip", "route", "show", "table", "all"]),
        routes6=lines(["ip", "-6", "route", "show", "table", "all"]),
        links=tuple(sorted(str(link.get("ifname")) for link in netops.host_links())),
        nft=netops.nft_ruleset(None),
        mounts=tuple(sorted(netops.mounts())),
    )


@dataclass(frozen=True)
class _Seen:
    """One lab namespace as the kernel shows it."""

    netns: str
    links: list[dict[str, Any]]
    ids: dict[int, str]
    routes: list[dict[str, Any]]
    nft: str

    def addresses(self) -> set[IPv4Address | IPv6Address]:
        return {
            ip_address(str(info["local"]))
            for link in self.links
            for info in link.get("addr_info", [])
            if isinstance(info, dict) and "local" in info
        }


def _inspect(netns: str) -> _Seen:
    links, ids, routes4 = netops.ip_json_batch(
        ["addr show", "netns list-id", "route show table all"], netns
    )
    routes6 = netops.ip_json(["-6", "route", "show", "table", "all"], netns)
    return _Seen(
        netns=netns,
        links=links,
        ids={
            int(i["nsid"]): str(i["name"])
            for i in ids
            if isinstance(i.get("nsid"), int) and "name" in i
        },
        routes=[*routes4, *routes6],
        nft=netops.nft_ruleset(netns),
    )


def _link_problems(seen: _Seen, lab: set[str]) -> list[str]:
    problems: list[str] = []
    for link in seen.links:
        name = link.get("ifname", "?")
        if link.get("link_type") == "loopback":
            continue
        kind = (link.get("linkinfo") or {}).get("info_kind")
        if kind not in ALLOWED_KINDS:
            problems.append(f"{seen.netns}: link {name} is of kind {kind or 'physical'}")
            continue
        if kind == "veth" and "link_netnsid" in link:
            peer_ns = seen.ids.get(int(link["link_netnsid"]))
            if peer_ns not in lab:
                where = peer_ns or "an unnamed namespace (the host's?)"
                problems.append(
                    f"{seen.netns}: veth {name} has its peer in {where}, outside the lab"
                )
    return problems


def _route_problems(seen: _Seen, held: set[IPv4Address | IPv6Address]) -> list[str]:
    problems = []
    for route in seen.routes:
        hops = [route, *(h for h in route.get("nexthops", []) if isinstance(h, dict))]
        for gateway in (h["gateway"] for h in hops if "gateway" in h):
            if ip_address(str(gateway)) not in held:
                problems.append(
                    f"{seen.netns}: route {route.get('dst', '?')} via {gateway}: "
                    "the gateway is no address of the lab"
                )
    return problems


def check_seal(namespaces: Iterable[str], prefix: str) -> list[str]:
    """Every breach of the seal, one line each (empty: sealed).

    ``namespaces`` are the lab's (existing) namespaces, ``prefix`` the lab's name
    prefix (``nw<id>``), which no host link may carry.
    """
    lab = set(namespaces)
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        seen = list(pool.map(_inspect, sorted(lab)))
    held: set[IPv4Address | IPv6Address] = set()
    for one in seen:
        held |= one.addresses()
    problems: list[str] = []
    for one in seen:
        problems += _link_problems(one, lab)
        problems += _route_problems(one, held)
        problems += [
            f"{one.netns}: NAT in nftables: {line.strip()}"
            for line in one.nft.splitlines()
            if _NAT.search(line)
        ]
    host_ids = netops.netns_ids(None)
    for link in netops.host_links():
        name = str(link.get("ifname", ""))
        if name.startswith(prefix):
            problems.append(f"host namespace: link {name} carries the lab's prefix {prefix}")
        if "link_netnsid" in link and host_ids.get(int(link["link_netnsid"])) in lab:
            peer = host_ids[int(link["link_netnsid"])]
            problems.append(f"host namespace: link {name} has its peer in the lab namespace {peer}")
    return problems
