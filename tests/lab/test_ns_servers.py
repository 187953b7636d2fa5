"""A lab server in a namespace: real sshd, chrony, unbound, rsyslog, nginx, slapd, krb5kdc and the
lab's TACACS+ server, used by real clients (dig, ssl, ldapsearch, kinit, PyPI tacacs_plus).

Root only (skips otherwise). Two namespaces made by the test (``nwb<pid>s``: the
server, ``nwb<pid>c``: a client), joined by two veth pairs (the server's mgmt0 and
eth0 subnets). Every client talks from the client namespace (sockets created there,
or ``ip netns exec`` for dig); nothing uses the host's network.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import ssl
import stat
import struct
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import paramiko
import pytest

from netwarden.errors import LabError
from netwarden.lab.ns.nsproc import ns_connect, ns_socket
from netwarden.lab.ns.pki import new_ca
from netwarden.lab.ns.servers import (
    ServerSpec,
    StartedServer,
    start_server,
    stop_server,
    wait_ready,
)
from netwarden.lab.tacplus.policy import TacacsSecrets, TacacsUser
from tests.lab.nsparts import (
    Namespaces,
    Records,
    automation_key,
    host_mounts_under,
    namespaces,
    netns_inode,
    nothing,
    ns_inode,
    processes_in,
    require_root,
)

pytestmark = pytest.mark.lab

MGMT, SERVICE = IPv4Address("10.10.10.101"), IPv4Address("10.10.20.10")
CLIENT_MGMT, CLIENT = "10.10.10.50", "10.10.20.50"
DOMAIN_RECORDS = (
    ("jed-ntp1.gs.example.int", IPv4Address("10.10.20.11")),
    ("jed-srv1.gs.example.int", SERVICE),
)
DOMAIN, REALM = "gs.example.int", "GS.EXAMPLE.INT"
NTP_EPOCH = 2_208_988_800  # seconds from 1900 (NTP) to 1970 (Unix)
TACACS_KEY, TACACS_USER, TACACS_PASSWORD = (
    secrets.token_urlsafe(16),
    "netwarden",
    secrets.token_urlsafe(12),
)


@dataclass
class Lab:
    ns: Namespaces
    server_ns: str
    client_ns: str
    lab_dir: Path
    key_file: Path
    pubkey: str
    started: StartedServer
    records: list[tuple[str, str]]


def _topology(made: Namespaces) -> tuple[str, str]:
    server, client = made.add("s"), made.add("c")
    made.veth(server, "mgmt0", client, "mgmt0")
    made.veth(server, "eth0", client, "eth0")
    made.addr(server, f"{MGMT}/24", "mgmt0")
    made.addr(server, f"{SERVICE}/24", "eth0")
    made.addr(client, f"{CLIENT_MGMT}/24", "mgmt0")
    made.addr(client, f"{CLIENT}/24", "eth0")
    return server, client


def _spec(server_ns: str, services: tuple[str, ...]) -> ServerSpec:
    tacacs = TacacsSecrets(
        key=TACACS_KEY,  # type: ignore[arg-type]
        users=(TacacsUser.with_password(TACACS_USER, TACACS_PASSWORD, privilege=15,
                                        commands=("*",)),),
    )  # fmt: skip
    return ServerSpec(
        name="jed-srv1",
        netns=server_ns,
        addresses=(MGMT, SERVICE),
        services=services,
        site_networks=(IPv4Network("10.10.0.0/16"),),
        ntp_upstreams=(),
        log_host=None,
        dns_records=DOMAIN_RECORDS,
        domain=DOMAIN,
        tacacs=tacacs,
    )


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    require_root()
    tmp = tmp_path_factory.mktemp("nsserver")
    with namespaces() as made:
        server_ns, client_ns = _topology(made)
        key_file, pubkey = automation_key(tmp)
        records = Records()
        started = start_server(
            _spec(
                server_ns,
                ("ntp", "dns", "syslog", "https", "web", "ldaps", "kerberos", "tacacs", "radius"),
            ),
            tmp / "lab",
            pubkey,
            records,
        )
        try:
            wait_ready(started, timeout=60)
            yield Lab(made, server_ns, client_ns, tmp / "lab", key_file, pubkey, started, records)
        finally:
            stop_server(started)


def _ssh(lab: Lab, address: IPv4Address, *, user: str = "netwarden",
         key_file: Path | None = None, known_hosts: list[str] | None = None) -> paramiko.SSHClient:  # fmt: skip
    hosts = lab.lab_dir / f"known_hosts-{secrets.token_hex(4)}"
    hosts.write_text("\n".join(known_hosts or lab.started.known_hosts) + "\n")
    client = paramiko.SSHClient()
    client.load_host_keys(str(hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        str(address),
        username=user,
        key_filename=str(key_file or lab.key_file),
        sock=ns_connect(lab.client_ns, str(address), 22, 5.0),  # type: ignore[arg-type]
        look_for_keys=False,
        allow_agent=False,
        timeout=10,
    )
    return client


def _run(client: paramiko.SSHClient, command: str) -> str:
    _, out, _ = client.exec_command(command, timeout=10)
    return out.read().decode()


def test_records_write_ahead_and_known_hosts_per_address(lab: Lab) -> None:
    kinds = [kind for kind, _ in lab.records]
    assert kinds == ["dir", "dir", "pid", "pid"]  # node dir, lab CA dir, launcher, holder
    assert lab.records[1][1] == str(lab.lab_dir.resolve() / "pki")
    assert lab.records[3][1].startswith(f"{lab.started.pid}:")
    assert [line.split()[0] for line in lab.started.known_hosts] == [str(MGMT), str(SERVICE)]
    assert all(line.split()[1] == "ssh-ed25519" for line in lab.started.known_hosts)


@pytest.mark.parametrize("address", [MGMT, SERVICE], ids=["mgmt0", "eth0"])
def test_ssh_key_login_as_netwarden_with_host_key_checked(lab: Lab, address: IPv4Address) -> None:
    client = _ssh(lab, address)
    try:
        out = _run(client, "hostname; id -un; cat /etc/hostname; sudo -n true 2>&1 && echo sudo-ok")
    finally:
        client.close()
    lines = out.split()
    assert lines[:3] == ["jed-srv1", "netwarden", "jed-srv1"]
    if Path("/usr/bin/sudo").exists():
        assert "sudo-ok" in lines


def test_ssh_refuses_root_other_keys_and_a_wrong_host_key(lab: Lab, tmp_path: Path) -> None:
    with pytest.raises(paramiko.AuthenticationException):
        _ssh(lab, SERVICE, user="root")
    other_key, _ = automation_key(tmp_path)
    with pytest.raises(paramiko.AuthenticationException):
        _ssh(lab, SERVICE, key_file=other_key)
    _, wrong = automation_key(tmp_path)  # a host key the server does not have
    with pytest.raises(paramiko.BadHostKeyException):
        _ssh(lab, SERVICE, known_hosts=[f"{SERVICE} {' '.join(wrong.split()[:2])}"])


def test_writes_stay_in_the_overlay(lab: Lab) -> None:
    marker = f"/etc/netwarden-lab-test-{secrets.token_hex(4)}"
    client = _ssh(lab, SERVICE)
    try:
        _run(client, f"sudo -n sh -c 'echo written-in-lab > {marker}' || echo no-sudo")
        seen = _run(client, f"cat {marker} 2>/dev/null")
    finally:
        client.close()
    if not Path("/usr/bin/sudo").exists():
        pytest.skip("sudo is not installed: the automation user cannot write /etc")
    assert seen.strip() == "written-in-lab"
    assert not Path(marker).exists()  # the host's /etc is untouched
    upper = lab.started.node_dir / "upper" / marker.lstrip("/")
    assert upper.read_text().strip() == "written-in-lab"


def _ntp_query(netns: str, server: str) -> bytes:
    """One NTP client (mode 3) packet from ``netns``; the reply, or b"" on timeout."""
    sock = ns_socket(netns, socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(2.0)
    transmit = struct.pack("!II", int(time.time()) + NTP_EPOCH, secrets.randbits(32))
    packet = bytes([0x23]) + bytes(39) + transmit  # LI 0, version 4, mode 3 (client)
    try:
        sock.sendto(packet, (server, 123))
        reply, _ = sock.recvfrom(512)
    except TimeoutError:
        return b""
    finally:
        sock.close()
    assert reply[24:32] == transmit, "the reply does not answer our request (origin timestamp)"
    return reply


def test_ntp_answers_a_client_packet(lab: Lab) -> None:
    reply = b""
    for _ in range(30):  # bounded: chrony enters its local reference within seconds
        reply = _ntp_query(lab.client_ns, str(SERVICE))
        if reply and 1 <= reply[1] <= 15:
            break
        time.sleep(1)
    assert reply, "no NTP reply"
    assert reply[0] & 0x07 == 4  # mode 4: server
    assert 1 <= reply[1] <= 15, f"stratum {reply[1]}: not serving time"
    seconds = struct.unpack("!I", reply[40:44])[0] - NTP_EPOCH
    assert abs(seconds - time.time()) < 3600


def _dig(lab: Lab, *args: str) -> str:
    result = subprocess.run(
        ["ip", "netns", "exec", lab.client_ns, "dig", "+time=2", "+tries=2", f"@{SERVICE}", *args],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    return result.stdout


def test_dns_answers_inventory_names_and_refuses_the_rest(lab: Lab) -> None:
    if shutil.which("dig") is None:
        pytest.skip("dig (dnsutils) is not installed")
    assert _dig(lab, "+short", "jed-ntp1.gs.example.int", "A").split() == ["10.10.20.11"]
    assert _dig(lab, "+short", "-x", str(SERVICE)).split() == ["jed-srv1.gs.example.int."]
    assert "status: REFUSED" in _dig(lab, "www.example.com", "A")


def test_syslog_received_over_udp_and_tls_into_the_overlay(lab: Lab) -> None:
    token = secrets.token_hex(6)
    udp = ns_socket(lab.client_ns, socket.AF_INET, socket.SOCK_DGRAM)
    with udp:
        udp.sendto(
            f"<13>Dec  6 00:00:00 client lab-test: udp-{token}".encode(), (str(SERVICE), 514)
        )
    context = ssl.create_default_context(cafile=str(lab.lab_dir / "pki/ca.crt"))
    with (
        ns_connect(lab.client_ns, str(SERVICE), 6514, 5.0) as raw,
        context.wrap_socket(raw, server_hostname=str(SERVICE)) as tls,
    ):
        message = f"<13>1 2024-12-06T00:00:00Z client lab-test - - - tls-{token}".encode()
        tls.sendall(f"{len(message)} ".encode() + message)  # RFC 5425 octet counting
    log = lab.started.node_dir / "upper/var/log/remote" / f"{CLIENT}.log"
    deadline = time.monotonic() + 15
    text = ""
    while time.monotonic() < deadline:
        text = log.read_text() if log.exists() else ""
        if f"udp-{token}" in text and f"tls-{token}" in text:
            break
        time.sleep(0.2)
    assert f"udp-{token}" in text
    assert f"tls-{token}" in text


def _other_ca(tmp_path: Path) -> Path:
    """A CA that is not the lab's (a client trusting only it must refuse the servers)."""
    path = tmp_path / "other-ca.crt"
    path.write_bytes(new_ca("not the lab CA").cert_pem)
    return path


def test_syslog_has_no_plain_tcp_and_tls_needs_the_lab_ca(lab: Lab, tmp_path: Path) -> None:
    with pytest.raises(ConnectionRefusedError):
        ns_connect(lab.client_ns, str(SERVICE), 514, 5.0).close()
    other = _other_ca(tmp_path)
    context = ssl.create_default_context(cafile=str(other))
    with (
        ns_connect(lab.client_ns, str(SERVICE), 6514, 5.0) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        context.wrap_socket(raw, server_hostname=str(SERVICE))


def _in_client(lab: Lab, argv: list[str], env: dict[str, str],
               stdin: str = "") -> subprocess.CompletedProcess[str]:  # fmt: skip
    return subprocess.run(
        ["ip", "netns", "exec", lab.client_ns, "env", *(f"{k}={v}" for k, v in env.items()),
         *argv],
        input=stdin, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def test_ldapsearch_over_ldaps_with_the_lab_ca_finds_the_automation_user(
    lab: Lab, tmp_path: Path
) -> None:
    if shutil.which("ldapsearch") is None:
        pytest.skip("ldapsearch (ldap-utils) is not installed")
    base = "dc=gs,dc=example,dc=int"
    args = ["ldapsearch", "-x", "-LLL", "-H", f"ldaps://{SERVICE}", "-b", base, "(uid=netwarden)"]
    found = _in_client(lab, args, {"LDAPTLS_CACERT": str(lab.lab_dir / "pki/ca.crt"),
                                   "LDAPTLS_REQCERT": "demand"})  # fmt: skip
    assert found.returncode == 0, found.stderr
    assert f"dn: uid=netwarden,ou=people,{base}" in found.stdout
    untrusted = _in_client(lab, args, {"LDAPTLS_CACERT": str(_other_ca(tmp_path)),
                                       "LDAPTLS_REQCERT": "demand"})  # fmt: skip
    assert untrusted.returncode != 0  # the CA is checked: another CA's file is refused
    with pytest.raises(ConnectionRefusedError):  # no plain ldap://
        ns_connect(lab.client_ns, str(SERVICE), 389, 5.0).close()


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_kinit_gets_a_ticket_for_the_automation_principal(
    lab: Lab, tmp_path: Path, transport: str
) -> None:
    if shutil.which("kinit") is None:
        pytest.skip("kinit (krb5-user) is not installed")
    conf = tmp_path / "krb5.conf"
    conf.write_text(
        f"[libdefaults]\n default_realm = {REALM}\n dns_lookup_kdc = false\n"
        f" udp_preference_limit = {1 if transport == 'tcp' else 100000}\n"
        f"[realms]\n {REALM} = {{\n  kdc = {SERVICE}:88\n }}\n"
    )
    secret = lab.started.node_dir / "upper/etc/netwarden-lab/secrets/kerberos-netwarden.password"
    assert secret.stat().st_mode & 0o777 == 0o600
    env = {"KRB5_CONFIG": str(conf), "KRB5CCNAME": f"FILE:{tmp_path / 'ccache'}"}
    got = _in_client(lab, ["kinit", f"netwarden@{REALM}"], env, secret.read_text())
    assert got.returncode == 0, got.stderr
    listed = _in_client(lab, ["klist"], env)
    assert f"krbtgt/{REALM}@{REALM}" in listed.stdout
    wrong = _in_client(lab, ["kinit", f"netwarden@{REALM}"], env, "not-the-password\n")
    assert wrong.returncode != 0


def _http_get(sock: socket.socket, host: str) -> str:
    sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data.decode("utf-8", "replace")


def test_nginx_serves_the_page_over_http_and_https_with_the_lab_ca(
    lab: Lab, tmp_path: Path
) -> None:
    with ns_connect(lab.client_ns, str(SERVICE), 80, 5.0) as sock:
        answer = _http_get(sock, str(SERVICE))
    assert answer.startswith("HTTP/1.1 200")
    assert "<h1>jed-srv1</h1>" in answer
    context = ssl.create_default_context(cafile=str(lab.lab_dir / "pki/ca.crt"))
    for name in (str(SERVICE), f"jed-srv1.{DOMAIN}"):  # the certificate names both
        with (
            ns_connect(lab.client_ns, str(SERVICE), 443, 5.0) as raw,
            context.wrap_socket(raw, server_hostname=name) as tls,
        ):
            answer = _http_get(tls, name)
        assert answer.startswith("HTTP/1.1 200")
        assert "<h1>jed-srv1</h1>" in answer
    other = ssl.create_default_context(cafile=str(_other_ca(tmp_path)))
    with (
        ns_connect(lab.client_ns, str(SERVICE), 443, 5.0) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        other.wrap_socket(raw, server_hostname=str(SERVICE))


def test_a_service_without_lab_daemon_is_logged_not_failed(lab: Lab) -> None:
    log = (lab.started.node_dir / "holder.log").read_text()
    assert "service 'radius' is not provided in the lab" in log
    assert "service 'tacacs' is not provided" not in log


def _tacacs(lab: Lab, key: str = TACACS_KEY) -> Any:
    """The PyPI tacacs_plus client, its TCP connection made from the client namespace."""
    client_module = pytest.importorskip("tacacs_plus.client", reason="needs tacacs-plus (PyPI)")
    client = client_module.TACACSClient(str(SERVICE), 49, key, timeout=5)
    client._sock = ns_connect(lab.client_ns, str(SERVICE), 49, 5.0)
    return client


def test_tacacs_authenticates_authorizes_and_accounts_on_port_49(lab: Lab) -> None:
    flags = pytest.importorskip("tacacs_plus.flags")
    assert _tacacs(lab).authenticate(TACACS_USER, TACACS_PASSWORD).valid
    assert _tacacs(lab).authenticate(TACACS_USER, "not-the-password").invalid
    pap = flags.TAC_PLUS_AUTHEN_TYPE_PAP
    assert _tacacs(lab).authenticate(TACACS_USER, TACACS_PASSWORD, authen_type=pap).valid
    shell = [b"service=shell", b"cmd=show", b"cmd-arg=version"]
    assert _tacacs(lab).authorize(TACACS_USER, arguments=shell, priv_lvl=15).valid
    assert _tacacs(lab).authorize("nobody", arguments=shell).invalid
    task = f"task_id={secrets.token_hex(4)}".encode()
    assert _tacacs(lab).account(TACACS_USER, flags.TAC_PLUS_ACCT_FLAG_START,
                                arguments=[task, b"service=shell"]).valid  # fmt: skip
    try:
        wrong = _tacacs(lab, key="not-the-key").authenticate(TACACS_USER, TACACS_PASSWORD).valid
    except (ValueError, OSError, struct.error):
        wrong = False
    assert not wrong
    upper = lab.started.node_dir / "upper"
    accounting = (upper / "var/log/tacacs/accounting.jsonl").read_text()
    assert task.decode() in accounting
    assert CLIENT in accounting  # the peer, as the server saw it
    users = upper / "etc/netwarden-lab/secrets/tacacs-users.json"
    assert stat.S_IMODE(users.stat().st_mode) == 0o600
    assert TACACS_PASSWORD not in users.read_text()
    auth_log = upper / "var/log/auth.log"  # rsyslog runs here: the server logs to syslog
    text = ""
    for _ in range(100):  # bounded: rsyslog writes within moments
        text = auth_log.read_text() if auth_log.exists() else ""
        if f"login of '{TACACS_USER}' accepted" in text and "obfuscated with another key" in text:
            break
        time.sleep(0.1)
    assert f"tacplus: {CLIENT}: ascii login of '{TACACS_USER}' accepted" in text
    assert "obfuscated with another key" in text


def _leaks(started: StartedServer, netns: str, pid_ns: int, mnt_ns: int) -> dict[str, object]:
    return {
        "processes in the server's pid namespace": processes_in("pid", pid_ns),
        "processes in its mount namespace": processes_in("mnt", mnt_ns),
        "processes in its network namespace": processes_in("net", netns_inode(netns)),
        "host mounts of the lab": host_mounts_under(started.node_dir.parent.parent),
    }


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_stopping_or_killing_the_holder_leaves_nothing(tmp_path: Path, how: str) -> None:
    require_root()
    with namespaces() as made:
        server_ns, _ = _topology(made)
        _, pubkey = automation_key(tmp_path)
        before = host_mounts_under(tmp_path)
        started = start_server(_spec(server_ns, ("ntp", "syslog")), tmp_path / "lab", pubkey,
                               nothing)  # fmt: skip
        try:
            wait_ready(started, timeout=60)
            pid_ns, mnt_ns = ns_inode(started.pid, "pid"), ns_inode(started.pid, "mnt")
            assert ns_inode(started.pid, "mnt") != ns_inode(os.getpid(), "mnt")
            running = _leaks(started, server_ns, pid_ns, mnt_ns)
            assert len(running["processes in the server's pid namespace"]) >= 4  # type: ignore[arg-type]
            assert running["host mounts of the lab"] == before == []
            if how == "sigterm":
                stop_server(started)
            else:
                os.kill(started.pid, signal.SIGKILL)
                assert started.process is not None
                started.process.wait(20)
            left = _leaks(started, server_ns, pid_ns, mnt_ns)
            deadline = time.monotonic() + 20  # the kernel ends a pid namespace asynchronously
            while any(left.values()) and time.monotonic() < deadline:
                time.sleep(0.05)
                left = _leaks(started, server_ns, pid_ns, mnt_ns)
            assert left == {
                "processes in the server's pid namespace": [],
                "processes in its mount namespace": [],
                "processes in its network namespace": [],
                "host mounts of the lab": [],
            }
        finally:
            stop_server(started)


def test_a_missing_namespace_is_a_clear_error(tmp_path: Path) -> None:
    require_root()
    with pytest.raises(LabError, match="network namespace nwb-none does not exist"):
        start_server(_spec("nwb-none", ()), tmp_path, automation_key(tmp_path)[1],
                     nothing)  # fmt: skip
