"""Site-to-site OpenVPN between two namespaces: a partner LAN reaches HQ's network through the tunnel.

Root only (skips otherwise). ``nwb<pid>h`` stands for HQ's firewall, ``nwb<pid>p`` for
the partner, joined by one veth (their WAN addresses); each holds its LAN address on
its loopback. The only route between the two LANs is the tunnel, and the test checks
the packets crossed the TUN device.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from netwarden.lab.ns.nsproc import alive, pid_ident
from netwarden.lab.ns.vpn import start_site_to_site
from tests.lab.nsparts import Namespaces, Records, kill_quietly, namespaces, require_root

pytestmark = pytest.mark.lab

HQ_WAN, PARTNER_WAN = IPv4Address("172.31.10.1"), IPv4Address("198.51.100.20")
HQ_LAN, PARTNER_LAN = IPv4Network("10.10.70.0/24"), IPv4Network("192.168.77.0/24")
TUNNEL = IPv4Network("10.255.70.0/30")


@pytest.fixture
def pair() -> Iterator[tuple[Namespaces, str, str]]:
    require_root()
    if shutil.which("openvpn") is None:
        pytest.skip("openvpn is not installed")
    if not Path("/dev/net/tun").exists():
        pytest.skip("no /dev/net/tun")
    with namespaces() as made:
        hq, partner = made.add("h"), made.add("p")
        made.veth(hq, "wan0", partner, "wan0")
        # The WAN: two /24s as the lab's WAN would route them; here one link, routed.
        made.addr(hq, f"{HQ_WAN}/30", "wan0")
        made.addr(partner, f"{PARTNER_WAN}/24", "wan0")
        subprocess.run(
            ["ip", "-n", hq, "route", "add", f"{PARTNER_WAN}/32", "dev", "wan0"], check=True
        )
        subprocess.run(
            ["ip", "-n", partner, "route", "add", f"{HQ_WAN}/32", "dev", "wan0"], check=True
        )
        made.addr(hq, f"{HQ_LAN.network_address + 1}/24", "lo")
        made.addr(partner, f"{PARTNER_LAN.network_address + 1}/24", "lo")
        yield made, hq, partner


def _tun_packets(netns: str, dev: str) -> int:
    out = subprocess.run(["ip", "-n", netns, "-s", "-j", "link", "show", dev],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    stats = json.loads(out)[0]["stats64"]
    return int(stats["rx"]["packets"]) + int(stats["tx"]["packets"])


def _ping(netns: str, source: IPv4Address, target: IPv4Address) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", netns, "ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", str(source), str(target)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def test_partner_lan_reaches_hq_over_the_tunnel(
    pair: tuple[Namespaces, str, str], tmp_path: Path
) -> None:
    _, hq, partner = pair
    hq_host, partner_host = HQ_LAN.network_address + 1, PARTNER_LAN.network_address + 1
    assert _ping(partner, partner_host, hq_host).returncode != 0  # no way across before the tunnel
    records = Records()
    pids: tuple[int, ...] = ()
    try:
        pids = start_site_to_site(
            server_ns=hq, server_addr=HQ_WAN, client_ns=partner, client_addr=PARTNER_WAN,
            tunnel=TUNNEL, server_routes=(PARTNER_LAN,), client_routes=(HQ_LAN,),
            lab_dir=tmp_path, record=records,
        )  # fmt: skip
        assert [r for r in records if r[0] == "pid"] == [("pid", pid_ident(p)) for p in pids]
        before = _tun_packets(partner, "nwvpn0")
        result = _ping(partner, partner_host, hq_host)
        assert result.returncode == 0, result.stdout + result.stderr
        assert _tun_packets(partner, "nwvpn0") >= before + 6  # 3 requests out, 3 replies in
        assert _ping(hq, hq_host, partner_host).returncode == 0  # and the other way
        routes = subprocess.run(["ip", "-n", partner, "route", "show", str(HQ_LAN)],
                                capture_output=True, text=True, check=True).stdout  # fmt: skip
        assert "dev nwvpn0" in routes
        for key in ("ca.key", "t0/server.key", "t0/client.key", "t0/tls-crypt.key"):
            assert stat.S_IMODE((tmp_path / "vpn" / key).stat().st_mode) == 0o600, key
    finally:
        for pid in pids:
            if alive(pid_ident(pid)):
                os.kill(pid, signal.SIGTERM)
        for pid in pids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                kill_quietly(pid)
