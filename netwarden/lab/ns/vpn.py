"""Site-to-site OpenVPN between two lab namespaces over TUN (a member state's entity and HQ).

:func:`start_site_to_site` runs two ``openvpn`` processes in peer-to-peer TLS mode
(``tls-server`` in ``server_ns``, ``tls-client`` in ``client_ns``) with ``topology
subnet``: the first host of the tunnel network on the server end, the second on the
client end. Each end routes the other's networks into the tunnel (``server_routes``
by the server: the partner's LAN; ``client_routes`` by the client: HQ's partners
zone). Certificates are made at start (:mod:`~netwarden.lab.ns.pki`): one CA per lab
(``<lab>/vpn/ca.*``), a server and a client certificate per tunnel, each end checking
the other's name and key usage; the control channel is wrapped with ``tls-crypt``
(``openvpn --genkey secret``). Keys are 0600 in ``<lab>/vpn/t<N>/``.

Tunnel N (in the order tunnels are first started in a lab) uses UDP port 1194+N on
the server address and the TUN device ``nwvpn<N>`` at both ends, so several partners
can end on one firewall. Both pids are recorded as soon as each process exists.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from netwarden.errors import LabError, LabServiceError
from netwarden.lab.ns.nsproc import log_tail, netns_exists, pid_ident
from netwarden.lab.ns.pki import Issued, issue, new_ca
from netwarden.lab.ns.record import Recorder
from netwarden.privatefile import private_dir, write_private

logger = logging.getLogger(__name__)

VPN_DIR = "vpn"
BASE_PORT = 1194
READY_LINE = "Initialization Sequence Completed"
CIPHERS = "AES-256-GCM:CHACHA20-POLY1305"


@dataclass(frozen=True)
class TunnelEnds:
    """The addressing of one tunnel: server and client ends in ``network``.

    Examples:
        >>> ends = TunnelEnds.of(IPv4Network("10.255.0.0/30"))
        >>> str(ends.server), str(ends.client), ends.netmask
        ('10.255.0.1', '10.255.0.2', '255.255.255.252')
    """

    network: IPv4Network
    server: IPv4Address
    client: IPv4Address

    @property
    def netmask(self) -> str:
        return str(self.network.netmask)

    @classmethod
    def of(cls, network: IPv4Network) -> TunnelEnds:
        if network.prefixlen > 30:
            raise LabError(f"VPN tunnel {network}: needs two host addresses (a /30 or wider)")
        hosts = network.hosts()
        return cls(network, next(hosts), next(hosts))


def _routes(networks: Iterable[IPv4Network], via: IPv4Address) -> list[str]:
    return [f"route {n.network_address} {n.netmask} {via}" for n in networks]


def config_text(
    *,
    role: str,
    index: int,
    directory: Path,
    local: IPv4Address,
    remote: IPv4Address,
    ends: TunnelEnds,
    routes: Iterable[IPv4Network],
) -> str:
    """One end's OpenVPN config (``role`` ``server`` or ``client``).

    Examples:
        >>> text = config_text(role="client", index=0, directory=Path("/lab/vpn/t0"),
        ...     local=IPv4Address("198.51.100.20"), remote=IPv4Address("172.31.10.1"),
        ...     ends=TunnelEnds.of(IPv4Network("10.255.0.0/30")),
        ...     routes=[IPv4Network("10.10.70.0/24")])
        >>> "route 10.10.70.0 255.255.255.0 10.255.0.1" in text, "remote 172.31.10.1 1194" in text
        (True, True)
    """
    server = role == "server"
    peer_role = "client" if server else "server"
    lines = [
        f"# netwarden lab: site-to-site VPN {index}, {role} end",
        f"cd {directory}",
        f"dev nwvpn{index}",
        "dev-type tun",
        "proto udp4",
        *(
            [f"local {local}", f"lport {BASE_PORT + index}"]
            if server
            else ["nobind", f"remote {remote} {BASE_PORT + index}"]
        ),
        "topology subnet",
        f"ifconfig {ends.server if server else ends.client} {ends.netmask}",
        *_routes(routes, ends.client if server else ends.server),
        "tls-server" if server else "tls-client",
        *(["dh none"] if server else []),
        "ca ca.crt",
        f"cert {role}.crt",
        f"key {role}.key",
        "tls-crypt tls-crypt.key",
        f"remote-cert-tls {peer_role}",
        f"verify-x509-name vpn-{peer_role}-{index} name",
        f"data-ciphers {CIPHERS}",
        "keepalive 5 30",
        "script-security 1",
        "verb 3",
    ]
    return "\n".join(lines) + "\n"


def _index(vpn: Path, tunnel: IPv4Network) -> int:
    """This tunnel's number in the lab: the one it had, else the first free one."""
    used: set[int] = set()
    for marker in vpn.glob("t*/tunnel.txt"):
        number = int(marker.parent.name[1:])
        if marker.read_text(encoding="ascii").strip() == str(tunnel):
            return number
        used.add(number)
    return next(n for n in range(len(used) + 1) if n not in used)


def _ca(vpn: Path) -> Issued:
    cert, key = vpn / "ca.crt", vpn / "ca.key"
    if cert.is_file() and key.is_file():
        return Issued(cert.read_bytes(), key.read_bytes())
    ca = new_ca("netwarden lab VPN CA")
    write_private(key, ca.key_pem.decode())
    write_private(cert, ca.cert_pem.decode())
    return ca


def _materials(tdir: Path, ca: Issued, index: int) -> None:
    write_private(tdir / "ca.crt", ca.cert_pem.decode())
    for role in ("server", "client"):
        leaf = issue(ca, f"vpn-{role}-{index}", server=role == "server", client=role == "client")
        write_private(tdir / f"{role}.key", leaf.key_pem.decode())
        write_private(tdir / f"{role}.crt", leaf.cert_pem.decode())
    key = tdir / "tls-crypt.key"
    key.unlink(missing_ok=True)
    old = os.umask(0o077)
    try:
        subprocess.run(["openvpn", "--genkey", "secret", str(key)], check=True,
                       capture_output=True, text=True, timeout=30)  # fmt: skip
    finally:
        os.umask(old)
    key.chmod(0o600)


def _spawn(
    netns: str, config: Path, log: Path, record: Recorder, role: str
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            ["ip", "netns", "exec", netns, "openvpn", "--config", str(config)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            cwd="/", start_new_session=True,
        )  # fmt: skip
    record("pid", pid_ident(process.pid), role=f"vpn-{role}", netns=netns)
    return process


def _wait(processes: dict[str, tuple[subprocess.Popen[bytes], Path]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = dict(processes)
    while pending:
        for role, (process, log) in list(pending.items()):
            if process.poll() is not None:
                raise LabServiceError(
                    f"VPN {role} end exited with status {process.returncode}; {log}:\n{log_tail(log)}"
                )
            if READY_LINE in log.read_text(encoding="utf-8", errors="replace"):
                del pending[role]
        if pending and time.monotonic() >= deadline:
            role, (_, log) = next(iter(pending.items()))
            raise LabServiceError(
                f"VPN {role} end not up after {timeout:g} s; {log}:\n{log_tail(log)}"
            )
        time.sleep(0.1)


def start_site_to_site(
    *,
    server_ns: str,
    server_addr: IPv4Address,
    client_ns: str,
    client_addr: IPv4Address,
    tunnel: IPv4Network,
    server_routes: Iterable[IPv4Network],
    client_routes: Iterable[IPv4Network],
    lab_dir: Path,
    record: Recorder,
    timeout: float = 30.0,
) -> tuple[int, int]:
    """Start both ends (module docstring), wait until both report the tunnel up; (server, client) pids.

    Raises:
        LabError: a namespace is missing or the tunnel network is too small.
        LabServiceError: an end exited or did not come up within ``timeout`` s (both
            processes are recorded; ``lab down`` stops whichever still runs).
    """
    for netns in (server_ns, client_ns):
        if not netns_exists(netns):
            raise LabError(f"VPN: network namespace {netns} does not exist")
    ends = TunnelEnds.of(tunnel)
    vpn = lab_dir.resolve() / VPN_DIR
    record("dir", str(vpn), role="vpn")
    private_dir(vpn)
    index = _index(vpn, tunnel)
    tdir = private_dir(vpn / f"t{index}")
    (tdir / "tunnel.txt").write_text(f"{tunnel}\n", encoding="ascii")
    _materials(tdir, _ca(vpn), index)
    configs = {
        "server": config_text(role="server", index=index, directory=tdir, local=server_addr,
                              remote=client_addr, ends=ends, routes=server_routes),
        "client": config_text(role="client", index=index, directory=tdir, local=client_addr,
                              remote=server_addr, ends=ends, routes=client_routes),
    }  # fmt: skip
    started: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    for role, netns in (("server", server_ns), ("client", client_ns)):
        config = write_private(tdir / f"{role}.conf", configs[role])
        log = tdir / f"{role}.log"
        log.unlink(missing_ok=True)
        started[role] = (_spawn(netns, config, log, record, role), log)
    try:
        _wait(started, timeout)
    except LabServiceError:
        for process, _ in started.values():  # an end alone is of no use: stop both now
            if process.poll() is None:
                process.terminate()
                process.wait(10)
        raise
    logger.info("VPN %d up: %s (%s) <-> %s (%s) over %s", index, server_ns, server_addr,
                client_ns, client_addr, tunnel)  # fmt: skip
    return started["server"][0].pid, started["client"][0].pid
