"""``netwarden lab up --no-sim`` for the example inventory, as an engineer runs it (root).

One lab for the module (built once, removed at the end even on failure); the tests
that remove labs or kill ``up`` build their own in their own directories, so every
lab has its own namespace prefix (``nw`` + a hash of its directory). Traffic goes
only between lab namespaces; every probe is bounded. The servers' daemons are
helper B's part of issue 14: these tests start their own tiny listeners.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import ip_address, ip_network
from pathlib import Path

import pytest

from netwarden.lab.ns import seal
from tests.lab.nslab import (
    CLI,
    REPO,
    cli,
    fw_counter,
    in_ns,
    lab_prefix,
    netns_inodes,
    netns_with,
    ping,
    tcp_hello,
    tcp_listener,
)

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
]

EXAMPLE = REPO / "inventory"


@dataclass(frozen=True)
class Lab:
    path: Path
    prefix: str
    log: Path
    before: seal.HostSnapshot
    after: seal.HostSnapshot

    def ns(self, node: str) -> str:
        return self.nodes()[node]["netns"]

    def nodes(self) -> dict[str, dict[str, object]]:
        header = json.loads((self.path / ".lab" / "state.jsonl").read_text().splitlines()[0])
        nodes: dict[str, dict[str, object]] = header["header"]["nodes"]
        return nodes


def _down(path: Path, log: Path, prefix: str) -> None:
    if path.exists():
        cli("lab", "down", str(path), log=log)
    from tests.lab.nslab import force_cleanup

    force_cleanup(prefix)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("nslab")
    path, log = base / "lab", base / "cli.log"
    prefix = lab_prefix(path)
    before = seal.host_snapshot()
    try:
        code = cli("lab", "up", "--no-sim", "-i", str(EXAMPLE), "--out", str(path), log=log)
        assert code == 0, log.read_text()
        yield Lab(path, prefix, log, before, seal.host_snapshot())
    finally:
        _down(path, log, prefix)


def test_up_prints_nodes_and_figures(lab: Lab) -> None:
    text = lab.log.read_text()
    assert "lab up" in text
    rows = {tuple(c.strip() for c in line.split("│")[1:3]) for line in text.splitlines()}
    for kind, count in (("client", 30), ("firewall", 5), ("server", 12), ("sensor", 5)):
        assert (kind, str(count)) in rows, text
    assert "namespaces 60, processes" in text


def test_staff_at_a_field_office_reaches_hq_servers(lab: Lab) -> None:
    client, server = lab.ns("nyc-staff-c1"), lab.ns("jed-dns1")
    target = "10.10.20.14"  # jed-dns1's servers-zone address
    out_before = fw_counter(lab.ns("nyc-fw1"), "staff->wan")
    in_before = fw_counter(lab.ns("jed-fw1"), "wan->servers")
    assert ping(client, target)
    with tcp_listener(server, target, 18080):
        assert tcp_hello(client, target, 18080) == "hello 10.11.31.254"
    # through the field office's firewall, the WAN and HQ's firewall
    assert fw_counter(lab.ns("nyc-fw1"), "staff->wan") > out_before
    assert fw_counter(lab.ns("jed-fw1"), "wan->servers") > in_before
    route = in_ns(lab.ns("wan"), "ip", "route", "get", target).stdout
    assert "via 172.31.10.1" in route


def test_guests_reach_the_lab_internet_and_nothing_beyond(lab: Lab) -> None:
    guest = lab.ns("gva-guests-c1")
    assert ping(guest, "198.51.100.10")
    assert not ping(guest, "192.0.2.1", seconds=2)  # TEST-NET-1: no lab address, no route
    route = in_ns(lab.ns("wan"), "ip", "route", "get", "192.0.2.1")
    assert route.returncode != 0
    assert "unreachable" in route.stderr


def test_sensor_sees_a_connection_between_two_zones_of_its_site(lab: Lab) -> None:
    sensor, client, server = lab.ns("nyc-sensor1"), lab.ns("nyc-staff-c2"), lab.ns("nyc-srv1")
    target, port = "10.11.20.10", 18081  # nyc-srv1 in the servers zone; the client is staff
    capture = subprocess.Popen(
        ["ip", "netns", "exec", sensor, "timeout", "20", "tcpdump", "-i", "span0", "-nn", "-e",
         "-l", "-c", "2", f"tcp dst port {port} and tcp[tcpflags] & tcp-syn != 0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert capture.stderr is not None
        first = [capture.stderr.readline() for _ in range(2)]  # a notice, then "listening on"
        assert "listening on span0" in first[-1], first
        with tcp_listener(server, target, port):
            assert tcp_hello(client, target, port).startswith("hello 10.11.31.")
        out, _ = capture.communicate(timeout=30)
    finally:
        capture.kill()
        capture.wait(timeout=10)
    syns = [line for line in out.splitlines() if f"> {target}.{port}:" in line]
    # The SYN entering the staff bridge (from the client) and the servers bridge (from the
    # firewall): one connection, seen in both zones.
    assert len(syns) == 2, out
    macs = {line.split()[1] for line in syns}
    assert len(macs) == 2, f"both copies from the same port: {syns}"


def test_the_lab_is_sealed(lab: Lab) -> None:
    namespaces = netns_with(lab.prefix)
    assert len(namespaces) == 60
    assert seal.check_seal(namespaces, lab.prefix) == []
    lab_nets = [
        ip_network(str(a), strict=False)
        for node in lab.nodes().values()
        for a in node["addresses"]  # type: ignore[attr-defined]
    ]
    changes = lab.before.changes(lab.after)

    def ours(line: str) -> bool:
        if lab.prefix in line or str(lab.path) in line:
            return True
        for word in line.replace("/", " ").split():
            try:
                addr = ip_address(word)
            except ValueError:
                continue
            if any(addr in net for net in lab_nets):
                return True
        return False

    for item in ("routes", "routes6", "links", "nft"):
        gone, new = changes.get(item, (set(), set()))
        assert not [line for line in gone | new if ours(line)], (item, gone, new)
    gone, new = changes.get("mounts", (set(), set()))
    # Only the namespaces themselves (ip netns add bind-mounts /run/netns/<name>).
    assert {m for m in new if lab.prefix in m} == {f"/run/netns/{n}" for n in namespaces}
    assert not [m for m in new if str(lab.path) in m]
    # No host link is a lab link (check_seal also looks at their peers).
    host = json.loads(
        subprocess.run(["ip", "-j", "link"], capture_output=True, text=True, check=True).stdout
    )
    assert not [link["ifname"] for link in host if str(link["ifname"]).startswith(lab.prefix)]


def test_seal_check_finds_breaches(tmp_path: Path) -> None:
    """The seal check is not blind: a veth to a namespace outside the lab, a route to a
    gateway no lab namespace holds and a NAT rule are each reported (scratch namespaces)."""
    tag = f"nwt{os.getpid() % 100000}"
    inside, outside = f"{tag}-in", f"{tag}-out"
    try:
        for ns in (inside, outside):
            subprocess.run(["ip", "netns", "add", ns], check=True)
        subprocess.run(
            ["ip", "link", "add", "name", "a0", "netns", inside, "type", "veth", "peer", "name",
             "b0", "netns", outside], check=True,
        )  # fmt: skip
        subprocess.run(
            ["ip", "-n", inside, "addr", "add", "10.251.0.1/30", "dev", "a0"], check=True
        )
        subprocess.run(["ip", "-n", inside, "link", "set", "a0", "up"], check=True)
        subprocess.run(
            ["ip", "-n", inside, "route", "add", "default", "via", "10.251.0.2"], check=True
        )
        subprocess.run(
            ["ip", "netns", "exec", inside, "nft",
             ("add table ip t; add chain ip t post { type nat hook postrouting priority 100 ; } ; "
             "add rule ip t post masquerade")], check=True,
        )  # fmt: skip
        problems = "\n".join(seal.check_seal([inside], tag))
        assert f"peer in {outside}, outside the lab" in problems
        assert "via 10.251.0.2: the gateway is no address of the lab" in problems
        assert "NAT in nftables" in problems
        # With both namespaces in the lab and no NAT nor foreign gateway: sealed.
        subprocess.run(["ip", "netns", "exec", inside, "nft", "flush", "ruleset"], check=True)
        subprocess.run(
            ["ip", "-n", outside, "addr", "add", "10.251.0.2/30", "dev", "b0"], check=True
        )
        assert seal.check_seal([inside, outside], tag) == []
    finally:
        for ns in (inside, outside):
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


def test_up_twice_reports_the_running_lab(lab: Lab) -> None:
    state = lab.path / ".lab" / "state.jsonl"
    before = (state.read_bytes(), netns_inodes(netns_with(lab.prefix)))
    log = lab.path.parent / "twice.log"
    code = cli("lab", "up", "--no-sim", "-i", str(EXAMPLE), "--out", str(lab.path), log=log)
    assert code == 0, log.read_text()
    assert "lab already running (nothing changed)" in log.read_text()
    assert (state.read_bytes(), netns_inodes(netns_with(lab.prefix))) == before


def test_status_exec_and_lab_inventory(lab: Lab) -> None:
    out = subprocess.run(
        [*CLI, "lab", "status", str(lab.path), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    status = json.loads(out.stdout)
    assert status["running"]
    assert status["figures"]["namespaces"] == 60
    assert status["nodes_by_kind"]["partner"] == 1
    exec_out = subprocess.run(
        [*CLI, "lab", "exec", "--lab", str(lab.path), "nyc-staff-c1", "--", "ip", "-br", "addr"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert exec_out.returncode == 0
    assert "10.11.31.254/23" in exec_out.stdout
    unknown = subprocess.run(
        [*CLI, "lab", "exec", "--lab", str(lab.path), "nyc-staf-c1", "--", "true"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert unknown.returncode == 2
    assert "did you mean nyc-staff-c1" in unknown.stderr
    check = subprocess.run(
        [*CLI, "inventory", "check", "-i", str(lab.path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert (lab.path / ".vault-password").stat().st_mode & 0o777 == 0o600
    assert (lab.path / ".lab" / "ssh" / "id_ed25519").stat().st_mode & 0o777 == 0o600
    assert (lab.path / "known_hosts.txt").is_file()
