"""The server snapshot (issue 15): what a server session keeps of each read, how it is
sanitised, and that the linux rule pack parses it as it parses an offline bundle.

The command outputs are generated here, shaped like Debian 12's (``sshd -T``, ``sysctl
-a``, ``dpkg-query -W``, ``ss -H -ltnup``); the live path is tested in
tests/lab/test_live_compliance.py against real servers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netwarden.compliance.engine import Engine
from netwarden.compliance.models import Status
from netwarden.compliance.platforms.linux import SECTIONS as PACK_SECTIONS
from netwarden.compliance.platforms.linux import parse_bundle
from netwarden.compliance.sources import Artifact, FolderSource, Target
from netwarden.config.backup import stored_form
from netwarden.config.dialects import dialect_for
from netwarden.devices.linuxstate import (
    READS,
    SECTIONS,
    SNAPSHOT_MARK,
    is_snapshot,
    normalize_sockets,
    sanitize_snapshot,
    section_text,
)
from netwarden.inventory.models import Platform

READ = {r.section: r for r in READS}
WHERE = "on srv1 (10.0.0.5:22)"

OUTPUTS = {
    "sshd": "port 22\npermitrootlogin no\n"
    "passwordauthentication yes\nmaxauthtries 3\nciphers aes256-gcm@openssh.com\n",
    "sysctl": "net.ipv4.tcp_fastopen_key = 00000000-11111111-22222222-33333333\n"
    "net.ipv4.ip_forward = 0\nkernel.random.boot_id = 5b1e\nfs.file-nr = 992 0 9223372036854775807\n"
    "net.ipv4.conf.all.rp_filter = 1\nkernel.randomize_va_space = 2\n",
    "auditctl-l": "# auditctl is not installed\n",
    "auditctl-s": "# auditctl is not installed\n",
    "login.defs": "# comment\n\nPASS_MAX_DAYS\t99999\nUMASK\t\t022\n",
    "pam": "# here are the per-package modules\npassword\t[success=1 default=ignore]\tpam_unix.so "
    "obscure yescrypt\npassword\trequisite\t\t\tpam_deny.so\n",
    "packages": "ii  openssh-server 1:9.2p1-2+deb12u3\nrc  telnetd 0.17-41\nii  sudo 1.9.13p3\n",
    "sockets": 'tcp LISTEN 0 128 10.0.0.5:22 0.0.0.0:* users:(("sshd",pid=312,fd=3))\n'
    'udp UNCONN 0 0 0.0.0.0:37516 0.0.0.0:* users:(("rsyslogd",pid=40,fd=5))\n'
    'udp UNCONN 0 0 10.0.0.5:53 0.0.0.0:* users:(("unbound",pid=41,fd=3))\n'
    'tcp LISTEN 0 128 10.0.0.5:22 0.0.0.0:* users:(("sshd",pid=313,fd=3))\n',
}


def snapshot(outputs: dict[str, str | None] | None = None) -> str:
    """A snapshot as :class:`LinuxServerSession` builds it, from the outputs given."""
    got = {**OUTPUTS, **(outputs or {})}
    parts = [f"{SNAPSHOT_MARK}: srv1 (read-only; secrets removed)\n"]
    for read in READS:
        out = got[read.section]
        parts.append(
            section_text(read, f"{read.what} as root {WHERE}", out, "exit 1: sudo: denied")
        )
    return sanitize_snapshot("".join(parts))


def test_the_session_writes_exactly_the_sections_the_pack_reads() -> None:
    assert SECTIONS == PACK_SECTIONS


def test_what_each_section_keeps() -> None:
    text = snapshot()
    assert is_snapshot(text)
    facts = parse_bundle(text, "live/srv1/server-snapshot")
    assert set(facts.sections) == set(SECTIONS)
    sysctl = facts.sections["sysctl"]
    assert sorted(sysctl.values) == [
        "kernel.randomize_va_space",
        "net.ipv4.conf.all.rp_filter",
        "net.ipv4.ip_forward",
    ]  # no secret key, no volatile counter, no boot id
    assert "tcp_fastopen_key" not in text
    assert [t for _, t in facts.sections["packages"].lines if not t.startswith("#")] == [
        "openssh-server 1:9.2p1-2+deb12u3",
        "sudo 1.9.13p3",
    ]  # removed (rc) packages are not installed
    assert [t for _, t in facts.sections["sockets"].lines if not t.startswith("#")] == [
        "tcp 10.0.0.5:22 sshd",
        "udp 10.0.0.5:53 unbound",
    ]  # no pids, one line per socket, no client's ephemeral UDP port
    assert facts.sections["sshd"].values["passwordauthentication"][1] == "yes"
    assert facts.sections["login.defs"].values["PASS_MAX_DAYS"][1] == "99999"  # tab-separated
    assert "# comment" not in text
    assert "pam_unix.so obscure yescrypt" in text  # PAM lines are kept as they are


def test_every_section_says_where_it_was_read() -> None:
    facts = parse_bundle(snapshot(), "live/srv1/server-snapshot")
    for name, sec in facts.sections.items():
        assert sec.source == f"{READ[name].what} as root {WHERE}", name
        assert not sec.unread


def test_a_section_that_could_not_be_read_is_an_error_with_the_reason() -> None:
    text = snapshot({"sshd": None})
    results = {
        r.rule: r
        for r in Engine().audit(
            Target("srv1", "linux", Artifact("live/srv1/server-snapshot", text))
        )
    }
    got = results["linux-ssh-root-login"]
    assert got.status is Status.ERROR
    assert got.message == "the sshd output could not be read: exit 1: sudo: denied"
    assert results["linux-sysctl-network"].status is not Status.ERROR


def test_the_linux_pack_on_a_snapshot_quotes_the_line_and_the_read() -> None:
    text = snapshot()
    results = {
        r.rule: r
        for r in Engine().audit(
            Target("srv1", "linux", Artifact("live/srv1/server-snapshot", text))
        )
    }
    got = results["linux-ssh-password-auth"]
    assert got.status is Status.FAIL
    (ev,) = got.evidence
    assert ev.text == "passwordauthentication yes"
    assert ev.file == "live/srv1/server-snapshot"
    assert text.splitlines()[ev.line - 1] == "passwordauthentication yes"
    assert ev.note == f"read: sshd -T as root {WHERE}"
    assert results["linux-no-insecure-services"].status is Status.PASS  # telnetd: removed only
    assert results["linux-auditd-running"].status is Status.FAIL
    assert results["linux-auditd-running"].evidence[0].text == "# auditctl is not installed"


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ("root:$6$rounds=5000$salt$hash:19000:0:99999:7:::", "root:<removed>:19000:0:99999:7:::"),
        ("x:$y$j9T$abc$def:1", "x:<removed>:1"),
        ("permitrootlogin no", "permitrootlogin no"),
    ],
)
def test_sanitize_removes_hashes(line: str, kept: str) -> None:
    assert sanitize_snapshot(f"#@ pam\n{line}\n") == f"#@ pam\n{kept}\n"


def test_sanitize_removes_a_private_key_block() -> None:
    text = "#@ pam\na\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n-----END OPENSSH PRIVATE KEY-----\nz\n"
    assert sanitize_snapshot(text) == "#@ pam\na\n<removed> (a private key)\nz\n"


def test_a_backup_keeps_the_snapshot_and_drift_compares_it_line_by_line() -> None:
    text = snapshot()
    assert stored_form(text) == text  # already sanitised; the IOS patterns would blank PAM lines
    lines = dialect_for(Platform.LINUX).canonical_lines(text)
    assert lines == text.splitlines()
    assert "#@ sshd" in lines  # sections and their sources count


def test_sockets_helper_ignores_what_is_not_a_socket_line() -> None:
    assert normalize_sockets("garbage\n") == []


def test_a_folder_of_backups_audits_a_server_snapshot_with_the_linux_pack(tmp_path: Path) -> None:
    """``audit --configs <backup repo>``: a server's ``<name>.cfg`` is its snapshot, not IOS."""
    (tmp_path / "srv1.cfg").write_text(snapshot())
    (tmp_path / "sw1.cfg").write_text("hostname sw1\ninterface Vlan1\n")
    targets = {t.name: t for t in FolderSource(tmp_path).targets()}
    assert targets["srv1"].platform == "linux"
    assert targets["sw1"].platform == "ios"
    results = {r.rule: r for r in Engine().audit(targets["srv1"])}
    assert results["linux-ssh-password-auth"].status is Status.FAIL
