"""The directory, Kerberos and syslog-over-TLS writers without root, and the lab CA.

Each writer renders into a temporary root that holds what ``start_server`` puts
there first (the service certificate from a lab CA in a temporary lab directory).
"""

from __future__ import annotations

import stat
import subprocess
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from cryptography import x509

from netwarden.lab.ns.services import ServiceContext, registry
from netwarden.lab.ns.services.kerberos import PASSWORD_FILE, realm
from netwarden.lab.ns.services.labtls import (
    CA_CERT,
    SERVICE_CERT,
    SERVICE_KEY,
    TLS_DIR,
    ensure_service_certificate,
    lab_ca_files,
    needs_certificate,
)
from netwarden.lab.ns.services.rsyslog import GTLS_DRIVER
from netwarden.lab.ns.services.slapd import base_dn, entries

ADDRESSES = (IPv4Address("10.10.10.101"), IPv4Address("10.10.20.10"))


def _ctx(root: Path, provides: tuple[str, ...], domain: str = "gs.example.int") -> ServiceContext:
    return ServiceContext("jed-aaa1", ADDRESSES, provides, domain=domain, root=root)


def _with_certificate(tmp_path: Path, provides: tuple[str, ...]) -> ServiceContext:
    ctx = _ctx(tmp_path / "root", provides)
    ensure_service_certificate(ctx, tmp_path / "lab")
    return ctx


def test_service_certificate_is_from_the_lab_ca_and_names_the_server(tmp_path: Path) -> None:
    ctx = _with_certificate(tmp_path, ("ldaps",))
    ca_cert, ca_key = lab_ca_files(tmp_path / "lab")
    assert stat.S_IMODE(ca_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(ctx.path(SERVICE_KEY).stat().st_mode) == 0o600
    assert ctx.path(CA_CERT).read_bytes() == ca_cert.read_bytes()
    ca = x509.load_pem_x509_certificate(ca_cert.read_bytes())
    leaf = x509.load_pem_x509_certificate(ctx.path(SERVICE_CERT).read_bytes())
    leaf.verify_directly_issued_by(ca)
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(sans.get_values_for_type(x509.DNSName)) == {"jed-aaa1", "jed-aaa1.gs.example.int"}
    assert set(sans.get_values_for_type(x509.IPAddress)) == set(ADDRESSES)
    before = ctx.path(SERVICE_CERT).read_bytes()
    ensure_service_certificate(ctx, tmp_path / "lab")
    assert ctx.path(SERVICE_CERT).read_bytes() == before  # kept while the CA is the same
    ca_cert.unlink()  # a new lab CA: the certificate is issued anew
    ensure_service_certificate(ctx, tmp_path / "lab")
    assert ctx.path(SERVICE_CERT).read_bytes() != before


def test_only_tls_services_need_a_certificate() -> None:
    assert needs_certificate(("ntp", "syslog"))
    assert needs_certificate(("ldaps",))
    assert needs_certificate(("https",))
    assert not needs_certificate(("kerberos", "tacacs", "web"))


def test_base_dn_and_realm_come_from_the_domain() -> None:
    assert base_dn("gs.example.int.") == "dc=gs,dc=example,dc=int"
    assert realm("gs.example.int") == "GS.EXAMPLE.INT"
    for bad in ("", ".", "gs..int", "g s.int", "dc=x,dc=y"):
        with pytest.raises(ValueError, match="organisation's domain"):
            base_dn(bad)


def test_slapd_serves_ldaps_only_with_the_lab_certificate(tmp_path: Path) -> None:
    ctx = _with_certificate(tmp_path, ("ldaps",))
    daemon = registry()["ldaps"].writer(ctx)
    text = ctx.path("/etc/netwarden-lab/slapd.conf").read_text()
    assert 'suffix "dc=gs,dc=example,dc=int"' in text
    assert f"TLSCertificateFile {SERVICE_CERT}" in text
    assert "rootpw" not in text
    urls = daemon.argv[daemon.argv.index("-h") + 1].split()
    assert urls == ["ldaps://10.10.10.101:636/", "ldaps://10.10.20.10:636/"]
    assert {(listen.proto, listen.port) for listen in daemon.listens} == {("tcp", 636)}
    assert daemon.prepare[0][0] == "/usr/sbin/slapadd"
    ldif = ctx.path("/etc/netwarden-lab/ldap-entries.ldif").read_text()
    assert ldif == entries(ctx)
    assert "dn: uid=netwarden,ou=people,dc=gs,dc=example,dc=int" in ldif


def test_slapd_without_the_certificate_or_domain_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="lab CA's certificate"):
        registry()["ldaps"].writer(_ctx(tmp_path, ("ldaps",)))
    with pytest.raises(ValueError, match="organisation's domain"):
        registry()["ldaps"].writer(_ctx(tmp_path, ("ldaps",), domain=""))


def test_kdc_listens_on_each_address_with_a_fresh_random_password(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, ("kerberos",))
    daemon = registry()["kerberos"].writer(ctx)
    kdc = ctx.path("/etc/netwarden-lab/krb5/kdc.conf").read_text()
    assert "kdc_listen = 10.10.10.101:88, 10.10.20.10:88" in kdc
    assert "kdc_tcp_listen = 10.10.10.101:88, 10.10.20.10:88" in kdc
    assert "GS.EXAMPLE.INT = {" in kdc
    assert "+preauth" in kdc
    assert daemon.argv == ("/usr/sbin/krb5kdc", "-n", "-r", "GS.EXAMPLE.INT")
    assert daemon.env["KRB5_KDC_PROFILE"] == "/etc/netwarden-lab/krb5/kdc.conf"
    assert {(listen.proto, listen.port) for listen in daemon.listens} == {("udp", 88), ("tcp", 88)}
    secret = ctx.path(PASSWORD_FILE)
    password = secret.read_text().strip()
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert len(password) >= 24
    assert daemon.prepare[1][-1] == f"addprinc -pw {password} netwarden@GS.EXAMPLE.INT"
    registry()["kerberos"].writer(ctx)
    assert secret.read_text().strip() != password  # made anew at each start


def test_rsyslog_serves_tls_on_6514_when_the_driver_is_installed(tmp_path: Path) -> None:
    ctx = _with_certificate(tmp_path, ("syslog",))
    without = registry()["syslog"].writer(ctx)
    assert {(listen.proto, listen.port) for listen in without.listens} == {("udp", 514)}
    driver = ctx.path(GTLS_DRIVER)
    driver.parent.mkdir(parents=True)
    driver.touch()
    daemon = registry()["syslog"].writer(ctx)
    assert {(listen.proto, listen.port) for listen in daemon.listens} == {
        ("udp", 514),
        ("tcp", 6514),
    }
    config = ctx.path("/etc/netwarden-lab/rsyslog.conf")
    text = config.read_text()
    assert 'input(type="imtcp" address="10.10.20.10" port="6514" ruleset="remote")' in text
    assert 'StreamDriver.Name="gtls" StreamDriver.Mode="1"' in text
    assert f'DefaultNetstreamDriverCertFile="{SERVICE_CERT}"' in text
    if not Path("/usr/sbin/rsyslogd").exists() or not Path(GTLS_DRIVER).exists():
        pytest.skip("rsyslog-gnutls is not installed")
    checked = tmp_path / "rsyslog-check.conf"  # the same file, certificates in the temporary root
    checked.write_text(text.replace(f"{TLS_DIR}/", f"{ctx.path(TLS_DIR)}/"))
    result = subprocess.run(["/usr/sbin/rsyslogd", "-N1", "-f", str(checked)],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout


def test_rsyslog_tls_without_the_certificate_is_a_clear_error(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, ("syslog",))
    driver = ctx.path(GTLS_DRIVER)
    driver.parent.mkdir(parents=True)
    driver.touch()
    with pytest.raises(ValueError, match="lab CA's certificate"):
        registry()["syslog"].writer(ctx)
