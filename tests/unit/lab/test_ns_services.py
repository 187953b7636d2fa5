"""The lab servers' parts without root: service configs, the service plan, users, certificates.

Each writer renders into a temporary root; where the daemon's own checker is
installed (``unbound-checkconf``, ``rsyslogd -N1``) it judges the file.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest
from cryptography import x509

from netwarden.lab.ns.nsproc import Bound, is_bound, listening
from netwarden.lab.ns.pki import issue, new_ca
from netwarden.lab.ns.services import ServiceContext, plan_services, registry
from netwarden.lab.ns.services.labtls import (
    SERVICE_CERT,
    SERVICE_KEY,
    ensure_service_certificate,
    lab_ca_files,
)
from netwarden.lab.ns.sysprep import add_automation_user

ADDRESSES = (IPv4Address("10.10.10.101"), IPv4Address("10.10.20.10"))
SITE = (IPv4Network("10.10.0.0/16"), IPv4Network("10.11.0.0/16"))


def _ctx(root: Path, provides: tuple[str, ...], **changes: object) -> ServiceContext:
    values: dict[str, object] = {
        "hostname": "jed-srv1",
        "addresses": ADDRESSES,
        "provides": provides,
        "site_networks": SITE,
        "ntp_upstreams": (IPv4Address("10.10.20.11"), ADDRESSES[1]),
        "log_host": IPv4Address("10.10.20.13"),
        "dns_records": (("jed-ntp1.gs.example.int", IPv4Address("10.10.20.11")),),
        "local_syslog": True,
        "root": root,
    }
    values.update(changes)
    return ServiceContext(**values)  # type: ignore[arg-type]


def _render(service: str, root: Path, provides: tuple[str, ...] = ()) -> tuple[str, list[str]]:
    daemon = registry()[service].writer(_ctx(root, provides or (service,)))
    config = next(a for a in daemon.argv if "/etc/netwarden-lab/" in a).split("=")[-1]
    return (root / config.lstrip("/")).read_text(), list(daemon.argv)


def test_every_example_service_has_a_writer_or_is_named_missing() -> None:
    plan = plan_services(
        ("smb", "dns", "https", "ntp", "syslog", "tacacs", "ldaps", "kerberos",
         "node-exporter", "prometheus-federate"),  # every `provides` of inventory/host_vars
        log_host=None,
        root=Path("/nonexistent"),
    )  # fmt: skip
    assert plan.not_provided == ()  # tacacs: the lab's own server (netwarden.lab.tacplus)
    daemons = sorted(r.daemon for _, r in plan.not_installed)
    assert daemons == sorted(
        ["sshd", "smbd", "unbound", "nginx", "chronyd", "rsyslogd", "prometheus-node-exporter",
         "prometheus", "slapd", "krb5kdc", "tacplus"]
    )  # fmt: skip
    assert plan_services(("radius",), log_host=None, root=Path("/")).not_provided == ("radius",)


def test_plan_adds_sshd_and_a_forwarding_rsyslog_and_runs_nginx_once(tmp_path: Path) -> None:
    for binary in ("usr/sbin/sshd", "usr/sbin/rsyslogd", "usr/sbin/nginx"):
        (tmp_path / binary).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / binary).touch()
    plan = plan_services(("web", "https"), log_host=IPv4Address("10.0.0.9"), root=tmp_path)
    assert [r.daemon for r in plan.daemons] == ["rsyslogd", "nginx", "sshd"]  # start order
    assert plan_services((), log_host=None, root=tmp_path).daemons[0].daemon == "sshd"


def test_sshd_keys_only_for_netwarden_on_each_address(tmp_path: Path) -> None:
    text, argv = _render("ssh", tmp_path)
    assert [line for line in text.splitlines() if line.startswith("ListenAddress")] == [
        "ListenAddress 10.10.10.101:22",
        "ListenAddress 10.10.20.10:22",
    ]
    for line in ("PermitRootLogin no", "PasswordAuthentication no", "AllowUsers netwarden",
                 "AuthenticationMethods publickey"):  # fmt: skip
        assert line in text.splitlines()
    assert argv[:2] == ["/usr/sbin/sshd", "-D"]
    assert "-e" not in argv


def test_chrony_serves_the_site_follows_other_upstreams_and_never_steers_the_clock(
    tmp_path: Path,
) -> None:
    text, argv = _render("ntp", tmp_path)
    lines = text.splitlines()
    assert "server 10.10.20.11 iburst" in lines
    assert "server 10.10.20.10 iburst" not in lines  # itself
    assert {"allow 10.10.0.0/16", "allow 10.11.0.0/16"} <= set(lines)
    assert "-x" in argv
    assert "-d" in argv


def test_unbound_answers_inventory_names_refuses_everything_else(tmp_path: Path) -> None:
    text, _ = _render("dns", tmp_path)
    assert '    local-zone: "." refuse' in text
    assert '    local-zone: "gs.example.int." static' in text
    assert '    local-data: "jed-ntp1.gs.example.int. 3600 IN A 10.10.20.11"' in text
    assert "forward-zone" not in text
    assert "    access-control: 10.11.0.0/16 allow" in text
    checker = shutil.which("unbound-checkconf") or "/usr/sbin/unbound-checkconf"
    if not Path(checker).exists():
        pytest.skip("unbound is not installed")
    result = subprocess.run([checker, str(tmp_path / "etc/netwarden-lab/unbound.conf")],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout


def test_rsyslog_receives_by_sender_address_and_forwards(tmp_path: Path) -> None:
    text, _ = _render("syslog", tmp_path)
    assert "%FROMHOST-IP%" in text
    assert "%HOSTNAME%" not in text
    assert 'input(type="imudp" address="10.10.20.10" port="514" ruleset="remote")' in text
    assert 'type="imtcp"' not in text  # no plain tcp/514; TLS on 6514 only with the driver
    assert 'target="10.10.20.13"' in text
    if not Path("/usr/sbin/rsyslogd").exists():
        pytest.skip("rsyslog is not installed")
    result = subprocess.run(["/usr/sbin/rsyslogd", "-N1", "-f",
                             str(tmp_path / "etc/netwarden-lab/rsyslog.conf")],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout


def test_a_forwarder_does_not_listen(tmp_path: Path) -> None:
    daemon = registry()["syslog"].writer(_ctx(tmp_path, ("dns",)))
    assert daemon.listens == ()


def test_nginx_https_uses_the_lab_ca_certificate(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path / "root", ("https",))
    with pytest.raises(ValueError, match="https needs the lab CA's certificate"):
        registry()["https"].writer(ctx)
    ensure_service_certificate(ctx, tmp_path / "lab")
    registry()["https"].writer(ctx)
    text = ctx.path("/etc/netwarden-lab/nginx.conf").read_text()
    assert "listen 10.10.20.10:443 ssl;" in text
    assert ":80;" not in text
    assert f"ssl_certificate {SERVICE_CERT};" in text
    assert f"ssl_certificate_key {SERVICE_KEY};" in text
    ca = x509.load_pem_x509_certificate(lab_ca_files(tmp_path / "lab")[0].read_bytes())
    leaf = x509.load_pem_x509_certificate(ctx.path(SERVICE_CERT).read_bytes())
    leaf.verify_directly_issued_by(ca)
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(sans.get_values_for_type(x509.IPAddress)) == set(ADDRESSES)
    assert "<h1>jed-srv1</h1>" in ctx.path("/var/www/netwarden-lab/index.html").read_text()


def test_automation_user_is_added_once_with_only_the_given_key(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/bash\nbob:x:2000:2000::/home/bob:/bin/sh"
    )
    (etc / "group").write_text("root:x:0:\nbob:x:2000:\n")
    (etc / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOnly lab"
    uid, gid = add_automation_user(tmp_path, "netwarden", key)
    assert (uid, gid) == (2001, 2001)
    add_automation_user(tmp_path, "netwarden", key)  # a restart: nothing added twice
    for name in ("passwd", "group", "shadow"):
        lines = (etc / name).read_text().splitlines()
        assert [line.split(":")[0] for line in lines].count("netwarden") == 1, name
    assert (etc / "passwd").read_text().splitlines()[1].startswith("bob:")  # line kept whole
    assert "netwarden:*:" in (etc / "shadow").read_text()  # no password: key login only
    keys = tmp_path / "home/netwarden/.ssh/authorized_keys"
    assert keys.read_text() == key + "\n"
    assert keys.stat().st_mode & 0o777 == 0o600
    with pytest.raises(ValueError, match="one OpenSSH public key line"):
        add_automation_user(tmp_path, "netwarden", "ssh-ed25519 AAAA\nssh-rsa BBBB")


def test_lab_certificates_chain_to_their_ca() -> None:
    ca = new_ca("lab CA")
    leaf = issue(ca, "vpn-server-0", server=True)
    leaf.certificate().verify_directly_issued_by(ca.certificate())
    usages = leaf.certificate().extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert [u.dotted_string for u in usages] == ["1.3.6.1.5.5.7.3.1"]  # serverAuth
    assert "PRIVATE" not in repr(leaf)


def test_listening_reads_this_process_sockets() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        bound = listening(__import__("os").getpid())
        assert Bound("tcp", IPv4Address("127.0.0.1"), port) in bound
        assert is_bound(bound, "tcp", IPv4Address("127.0.0.1"), port)
        assert not is_bound(bound, "tcp", IPv4Address("127.0.0.2"), port)
