"""playbooks/servers.yml (roles/linux_server) against the namespace lab's real servers (issue 15).

``netwarden lab up --no-sim`` for the example inventory (one lab for the module); the
real ``ansible-playbook`` (this venv's) runs from inside the management server
jed-mon1's namespace, logs in to each server over SSH with the lab's key (host keys
checked against the lab's known_hosts.txt) and converges five servers: the canary
bru-srv1 and nyc-srv1 (field offices), HQ's NTP servers and its log server. Then real
clients check what changed: the real sshd refuses a password and takes the key,
``sshd -T`` shows the hardened values, the node exporter answers on :9100, a
``logger`` line on bru-srv1 reaches jed-log1 (syslog over TLS), bru-srv1's chrony selects an HQ NTP
server (bounded wait), a second run is changed=0, ``--check --diff`` after a manual
change shows it and changes nothing, and a toggle changes ``sshd -T``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest

from netwarden.lab.ns.nsproc import ns_connect
from tests.lab.nslab import REPO, cli, force_cleanup, in_ns, lab_prefix

pytestmark = [
    pytest.mark.lab,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
]

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
LIMIT = ("bru-srv1", "nyc-srv1", "jed-log1", "jed-ntp1", "jed-ntp2")
CANARY = "bru-srv1"
BRU, LOG_HOST = "10.13.10.101", "10.10.10.102"  # management addresses
HQ_NTP = ("10.10.20.12", "10.10.20.13")  # jed-ntp1, jed-ntp2 service addresses
RECAP = re.compile(
    r"^(?P<host>\S+)\s+: ok=\d+\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+"
    r"failed=(?P<failed>\d+)",
    re.M,
)


@dataclass(frozen=True)
class Lab:
    path: Path
    mon: str  # jed-mon1's namespace: the controller's place in the lab
    log_ns: str  # jed-log1's namespace

    @property
    def key(self) -> Path:
        return self.path / ".lab" / "ssh" / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.path / "known_hosts.txt"


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    recap: dict[str, tuple[int, int, int]]  # host: (changed, unreachable, failed)


TOPICS = ("sshd", "sysctl", "password_policy", "auditd", "chrony", "rsyslog", "node_exporter",
          "unwanted_services")  # fmt: skip


def only(topic: str) -> tuple[str, str]:
    """The role's ``topic`` alone. ``--skip-tags`` the others rather than ``--tags topic``:
    the playbook's untagged ordering play must still run (it makes the hosts' group)."""
    return "--skip-tags", ",".join(f"linux_server_{t}" for t in TOPICS if t != topic)


def play(lab: Lab, *args: str, log: Path, hosts: tuple[str, ...] = LIMIT) -> Run:
    """ansible-playbook playbooks/servers.yml from jed-mon1's namespace, on ``hosts`` (the five
    servers; a test that changed one server checks and restores only that one, which on two
    cores is several times quicker than five); output appended to ``log``."""
    env = {
        **os.environ,
        "ANSIBLE_VAULT_PASSWORD_FILE": str(lab.path / ".vault-password"),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
    }
    done = subprocess.run(
        ["ip", "netns", "exec", lab.mon, str(ANSIBLE_PLAYBOOK), "-i", str(lab.path),
         "playbooks/servers.yml", "--limit", ",".join(hosts), *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    with log.open("a") as out:
        out.write(f"\n$ ansible-playbook servers.yml {' '.join(args)}\n{done.stdout}{done.stderr}")
    recap = {
        m["host"]: (int(m["changed"]), int(m["unreachable"]), int(m["failed"]))
        for m in RECAP.finditer(done.stdout)
    }
    return Run(done.returncode, done.stdout + done.stderr, recap)


def on(lab: Lab, address: str, command: str) -> subprocess.CompletedProcess[str]:
    """``command`` on a lab server, over SSH as the automation user (host key checked)."""
    return in_ns(
        lab.mon, "ssh", "-i", str(lab.key), "-o", "BatchMode=yes",
        "-o", f"UserKnownHostsFile={lab.known_hosts}", "-o", "StrictHostKeyChecking=yes",
        f"netwarden@{address}", command, timeout=60,
    )  # fmt: skip


def sshd_t(lab: Lab, address: str) -> dict[str, str]:
    done = on(lab, address, "sudo /usr/sbin/sshd -T")
    assert done.returncode == 0, done.stderr
    out: dict[str, str] = {}
    for line in done.stdout.splitlines():
        key, _, value = line.partition(" ")
        out[key] = f"{out[key]} {value}" if key in out else value
    return out


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp(f"srvrole{os.getpid()}")
    path, log = base / "lab", base / "cli.log"
    try:
        code = cli(
            "lab", "up", "-i", str(REPO / "inventory"), "--out", str(path), "--no-sim", log=log
        )
        assert code == 0, log.read_text()
        prefix = lab_prefix(path)
        yield Lab(path, f"{prefix}-jed-jed-mon1", f"{prefix}-jed-jed-log1")
    finally:
        if path.exists():
            cli("lab", "down", str(path), log=log)
        force_cleanup(lab_prefix(path))


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ansible") / "ansible.log"


@pytest.fixture(scope="module")
def planned(lab: Lab, log: Path) -> tuple[Run, dict[str, str], dict[str, str]]:
    """``--check --diff`` on the fresh lab: (the run, sshd -T before, sshd -T after)."""
    before = sshd_t(lab, BRU)
    run = play(lab, "--check", "--diff", log=log)
    return run, before, sshd_t(lab, BRU)


@pytest.fixture(scope="module")
def applied(lab: Lab, log: Path, planned: tuple[Run, dict[str, str], dict[str, str]]) -> Run:
    del planned  # the plan first, on the servers as the lab made them
    run = play(lab, log=log)
    assert run.returncode == 0, run.stdout[-4000:]
    return run


def test_the_plan_on_fresh_servers_shows_changes_and_makes_none(
    planned: tuple[Run, dict[str, str], dict[str, str]],
) -> None:
    run, before, after = planned
    assert run.returncode == 0, run.stdout[-4000:]
    assert all(changed > 0 for changed, _, _ in run.recap.values()), run.recap
    assert "+LogLevel VERBOSE" in run.stdout  # the sshd_config diff
    assert after == before  # sshd_config (what sshd -T reads) is as it was
    assert before["loglevel"] == "INFO"


def test_the_first_run_converges_every_server(applied: Run) -> None:
    assert sorted(applied.recap) == sorted(LIMIT), applied.stdout[-2000:]
    for host, (changed, unreachable, failed) in applied.recap.items():
        assert (unreachable, failed) == (0, 0), host
        assert changed > 0, f"{host}: the lab server's stock configuration was already hardened?"
    # the canary ran first and alone: its role's tasks ended before any other host's began
    converge = applied.stdout[applied.stdout.index("PLAY [Converge the servers") :]
    canary_done = converge.index("PLAY [Converge the servers", 1)  # the second batch's play
    assert f"[{CANARY}]" in converge[:canary_done]
    assert not any(f"[{h}]" in converge[:canary_done] for h in LIMIT if h != CANARY)
    # the namespace's limitations are reported, not failed
    assert "auditd: the kernel refuses audit requests here" in applied.stdout


def test_password_login_is_refused_and_the_key_works(lab: Lab, applied: Run) -> None:
    del applied
    known = paramiko.HostKeys(str(lab.known_hosts))
    for auth in ("password", "key"):
        with ns_connect(lab.mon, BRU, 22, timeout=10) as sock:
            transport = paramiko.Transport(sock)
            try:
                transport.start_client(timeout=10)
                server_key = transport.get_remote_server_key()
                assert known.check(BRU, server_key), "host key not the one known_hosts lists"
                if auth == "password":
                    with pytest.raises(paramiko.BadAuthenticationType) as refused:
                        transport.auth_password("netwarden", "not-the-password-anyway")
                    assert refused.value.allowed_types == ["publickey"]
                else:
                    key = paramiko.Ed25519Key.from_private_key_file(str(lab.key))
                    transport.auth_publickey("netwarden", key)
                    assert transport.is_authenticated()
            finally:
                transport.close()


def test_sshd_runs_the_hardened_configuration(lab: Lab, applied: Run) -> None:
    del applied
    seen = sshd_t(lab, BRU)
    assert seen["permitrootlogin"] == "no"
    assert seen["passwordauthentication"] == "no"
    assert seen["kbdinteractiveauthentication"] == "no"
    assert seen["pubkeyauthentication"] == "yes"
    assert seen["loglevel"] == "VERBOSE"
    assert seen["maxauthtries"] == "3"
    assert (seen["clientaliveinterval"], seen["clientalivecountmax"]) == ("300", "2")
    assert seen["allowgroups"].split() == ["netwarden", "sshadmins"]
    supported = on(lab, BRU, "ssh -Q cipher; ssh -Q kex; ssh -Q mac").stdout.split()
    for key in ("ciphers", "kexalgorithms", "macs"):
        chosen = seen[key].split(",")
        assert chosen, key
        assert set(chosen) <= set(supported), f"{key}: {chosen} not all supported"
    assert "mlkem768x25519-sha256" not in seen["kexalgorithms"]  # OpenSSH 9.2 lacks it
    assert "hmac-sha1" not in seen["macs"].split(",")
    # and the running daemon is the one reading it (the holder restarted it)
    ps = on(lab, BRU, "ps -o args= -C sshd").stdout
    assert "-f /etc/ssh/sshd_config" in ps, ps


def test_the_node_exporter_answers_from_the_management_server(lab: Lab, applied: Run) -> None:
    del applied
    with ns_connect(lab.mon, BRU, 9100, timeout=10) as sock:
        sock.sendall(f"GET /metrics HTTP/1.0\r\nHost: {BRU}\r\n\r\n".encode())
        data = b""
        while len(data) < 65536 and (chunk := sock.recv(8192)):
            data += chunk
    assert data.startswith((b"HTTP/1.0 200", b"HTTP/1.1 200")), data[:200]
    assert b"\nnode_uname_info{" in data


def test_a_field_server_log_line_reaches_the_log_server(lab: Lab, applied: Run) -> None:
    del applied
    assert on(lab, BRU, "test -f /etc/rsyslog.d/60-netwarden-forward.conf").returncode == 0
    tag = f"nwrole{os.getpid()}"
    assert on(lab, BRU, f"logger -t {tag} linux-server-role-test").returncode == 0
    deadline = time.monotonic() + 30
    found = ""
    while time.monotonic() < deadline and not found:
        found = on(lab, LOG_HOST, f"sudo grep -rh {tag} /var/log/remote/").stdout
        time.sleep(0.5)
    assert "linux-server-role-test" in found
    assert "bru-srv1" in found
    # the role's forwarding is syslog over TLS (the lab inventory's choice), checked with
    # the lab CA: the log server holds an established tcp/6514 session from bru-srv1
    # (the lab's own forwarder uses udp/514)
    sessions = in_ns(lab.log_ns, "ss", "-tnH", "state", "established", "( sport = :6514 )")
    peers = [line.split()[-1] for line in sessions.stdout.splitlines() if line.strip()]
    assert any(p.startswith(("10.13.10.101:", "10.13.20.10:")) for p in peers), sessions.stdout


def test_a_field_server_takes_its_time_from_hq(lab: Lab, applied: Run) -> None:
    del applied
    deadline = time.monotonic() + 90  # iburst: a few polls of a few seconds
    sources = ""
    while time.monotonic() < deadline:
        sources = on(lab, BRU, "chronyc -n sources").stdout
        if any(re.search(rf"^\^\*\s+{re.escape(a)}\s", sources, re.M) for a in HQ_NTP):
            break
        time.sleep(2)
    assert any(re.search(rf"^\^\*\s+{re.escape(a)}\s", sources, re.M) for a in HQ_NTP), sources


def test_a_second_run_changes_nothing(lab: Lab, applied: Run, log: Path) -> None:
    del applied
    run = play(lab, log=log)
    assert run.returncode == 0, run.stdout[-3000:]
    assert {h: c for h, (c, _, _) in run.recap.items()} == dict.fromkeys(LIMIT, 0), run.stdout[
        -3000:
    ]


def test_check_diff_shows_a_manual_change_and_changes_nothing(
    lab: Lab, applied: Run, log: Path
) -> None:
    del applied
    drift = "sudo sed -i 's/^MaxAuthTries 3$/MaxAuthTries 6/' /etc/ssh/sshd_config"
    assert on(lab, BRU, drift).returncode == 0
    try:
        run = play(lab, "--check", "--diff", log=log, hosts=(CANARY,))
        assert run.returncode == 0, run.stdout[-3000:]
        assert "-MaxAuthTries 6" in run.stdout
        assert "+MaxAuthTries 3" in run.stdout
        assert run.recap[CANARY][0] >= 1
        still = on(lab, BRU, "sudo grep -c '^MaxAuthTries 6$' /etc/ssh/sshd_config")
        assert still.stdout.strip() == "1"  # --check changed nothing
    finally:
        fixed = play(lab, *only("sshd"), log=log, hosts=(CANARY,))
    assert fixed.returncode == 0, fixed.stdout[-3000:]
    assert sshd_t(lab, BRU)["maxauthtries"] == "3"


def test_turning_a_toggle_off_changes_sshd(lab: Lab, applied: Run, log: Path) -> None:
    del applied
    try:
        run = play(lab, *only("sshd"), "-e", "linux_server_sshd_password_authentication=true",
                   log=log, hosts=(CANARY,))  # fmt: skip
        assert run.returncode == 0, run.stdout[-3000:]
        assert sshd_t(lab, BRU)["passwordauthentication"] == "yes"
    finally:
        back = play(lab, *only("sshd"), log=log, hosts=(CANARY,))
    assert back.returncode == 0, back.stdout[-3000:]
    assert sshd_t(lab, BRU)["passwordauthentication"] == "no"


def _deb(tmp: Path, name: str) -> Path:
    """An empty Debian package called ``name`` (one marker file), built with dpkg-deb."""
    root = tmp / name
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: 0.0~netwarden-lab\nArchitecture: all\n"
        "Maintainer: netwarden lab <lab@netwarden.invalid>\n"
        f"Description: netwarden lab stand-in named {name}\n"
    )
    marker = root / "usr" / "share" / "doc" / name / "netwarden-lab-stand-in"
    marker.parent.mkdir(parents=True)
    marker.write_text("installed by tests/lab/test_linux_server_role.py\n")
    deb = tmp / f"{name}.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(root), str(deb)],
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    return deb


def _upload(lab: Lab, address: str, data: bytes, dest: str) -> None:
    done = subprocess.run(
        ["ip", "netns", "exec", lab.mon, "ssh", "-i", str(lab.key), "-o", "BatchMode=yes",
         "-o", f"UserKnownHostsFile={lab.known_hosts}", "-o", "StrictHostKeyChecking=yes",
         f"netwarden@{address}", f"cat > {dest}"],
        input=data, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def _status(lab: Lab, address: str, package: str) -> str:
    """dpkg's status of ``package`` on the server ("installed", "not-installed", "unknown")."""
    done = on(lab, address, f"dpkg-query -W -f='${{db:Status-Status}}' {package}")
    return done.stdout.strip() if done.returncode == 0 else "unknown"


UNWANTED, KEPT = "talkd", "netwarden-lab-keep"  # talkd: in linux_server_unwanted_packages


def test_an_installed_unwanted_package_is_removed_and_nothing_else(
    lab: Lab, applied: Run, log: Path, tmp_path: Path
) -> None:
    """The package-removal path on a real dpkg: the lab server's /usr and dpkg database are
    the host's seen through its copy-on-write overlay (decisions 66, 73), so packages
    installed and removed there change only the lab. Two empty packages are installed on
    bru-srv1, one named like an unwanted service (talkd) and one not; the role removes
    exactly the first, and only on that server."""
    del applied
    for name in (UNWANTED, KEPT):
        _upload(lab, BRU, _deb(tmp_path, name).read_bytes(), f"/var/tmp/{name}.deb")
    install = on(lab, BRU, f"sudo dpkg -i /var/tmp/{UNWANTED}.deb /var/tmp/{KEPT}.deb")
    assert install.returncode == 0, install.stdout + install.stderr
    try:
        assert (_status(lab, BRU, UNWANTED), _status(lab, BRU, KEPT)) == ("installed",) * 2
        tags = only("unwanted_services")
        planned = play(lab, "--check", "--diff", *tags, log=log)
        assert planned.returncode == 0, planned.stdout[-3000:]
        changed = {h: c for h, (c, _, _) in planned.recap.items()}
        assert changed == {h: int(h == CANARY) for h in LIMIT}, changed  # only bru-srv1
        assert _status(lab, BRU, UNWANTED) == "installed"  # --check removed nothing

        run = play(lab, "-v", *tags, log=log)
        assert run.returncode == 0, run.stdout[-3000:]
        assert {h: c for h, (c, _, _) in run.recap.items()} == changed
        assert f"Removing {UNWANTED} " in run.stdout
        assert KEPT not in run.stdout  # not named to apt at all
        assert _status(lab, BRU, UNWANTED) in ("not-installed", "unknown")  # purged, no conffiles
        assert _status(lab, BRU, KEPT) == "installed"
        gone = on(lab, BRU, f"test -e /usr/share/doc/{UNWANTED}/netwarden-lab-stand-in")
        assert gone.returncode == 1

        again = play(lab, *tags, log=log)
        assert {h: c for h, (c, _, _) in again.recap.items()} == dict.fromkeys(LIMIT, 0)
    finally:
        on(lab, BRU, f"sudo dpkg --purge {UNWANTED} {KEPT}; rm -f /var/tmp/*.deb")


def test_with_systemd_the_handlers_go_through_the_service_module(
    lab: Lab, applied: Run, log: Path
) -> None:
    """The systemd path, in check mode only (lab servers have no systemd; which manager the
    server has is the facts module's answer, tests/unit/ansible/test_linux_server_facts.py):
    with the service manager set to systemd, a changed sshd_config notifies the handler
    that reloads ``ssh`` through ``ansible.builtin.service``, and the lab holder's is
    skipped; with the server's own answer (netwarden-lab) it is the other way round. The
    handlers' modules and unit names are checked in tests/unit/ansible (the service
    module's check-mode result does not name the unit)."""
    del applied
    drift = "sudo sed -i 's/^MaxAuthTries 3$/MaxAuthTries 6/' /etc/ssh/sshd_config"
    assert on(lab, BRU, drift).returncode == 0
    tags = only("sshd")
    try:
        systemd = play(lab, "--check", "-v", *tags, "-e", "linux_server_service_manager=systemd",
                       log=log, hosts=(CANARY,))  # fmt: skip
        assert systemd.returncode == 0, systemd.stdout[-3000:]
        lab_own = play(lab, "--check", "-v", *tags, log=log, hosts=(CANARY,))
        assert lab_own.returncode == 0, lab_own.stdout[-3000:]
    finally:
        fixed = play(lab, *tags, log=log, hosts=(CANARY,))
    assert fixed.returncode == 0, fixed.stdout[-3000:]
    assert sshd_t(lab, BRU)["maxauthtries"] == "3"

    def handler(run: Run, name: str) -> str:
        """What the handler printed (its result lines, up to the blank line after them)."""
        m = re.search(rf"^RUNNING HANDLER \[linux_server : {re.escape(name)}\][^\n]*\n(.*?)\n\n",
                      run.stdout, re.M | re.S)  # fmt: skip
        assert m is not None, f"handler {name!r} did not run:\n{run.stdout[-3000:]}"
        return m[1]

    reload_ = handler(systemd, "Reload sshd")
    assert f"changed: [{CANARY}]" in reload_, reload_
    assert "service state changed" in reload_, reload_  # ansible.builtin.service's check mode
    assert f"skipping: [{CANARY}]" in handler(systemd, "Restart sshd on the lab server")
    assert f"skipping: [{CANARY}]" in handler(lab_own, "Reload sshd")
    assert f"changed: [{CANARY}]" in handler(lab_own, "Restart sshd on the lab server")
