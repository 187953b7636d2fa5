"""Certificates for the lab's TLS services (syslog over TLS, LDAPS, HTTPS), signed by the lab's CA.

The CA is the lab's own (``<lab>/pki/ca.crt`` and ``ca.key``, ``0600``, made at the
first ``lab up`` that needs it, never in the repo). It is not the VPN's CA: a
service certificate signed by that one would also pass OpenVPN's
``remote-cert-tls server`` check, so a lab server could pose as a VPN end.

:func:`ensure_service_certificate` runs in ``start_server`` (on the host, before the
holder: the holder never loads the cryptography library) and writes into the
server's root ``/etc/netwarden-lab/tls/service.{crt,key}`` (the key ``0600``) and
``ca.crt``, naming the server, ``<server>.<domain>`` and every address.
"""

from __future__ import annotations

import logging
from pathlib import Path

from netwarden.lab.ns.services.base import LAB_ETC, ServiceContext
from netwarden.privatefile import private_dir, write_private

logger = logging.getLogger(__name__)

TLS_DIR = f"{LAB_ETC}/tls"
SERVICE_CERT = f"{TLS_DIR}/service.crt"
SERVICE_KEY = f"{TLS_DIR}/service.key"
CA_CERT = f"{TLS_DIR}/ca.crt"
PKI_DIR = "pki"  # in the lab directory
TLS_SERVICES = ("syslog", "ldaps", "https")  # the services that need a lab CA certificate


def lab_ca_files(lab_dir: Path) -> tuple[Path, Path]:
    """The lab CA's certificate and key files (they may not exist yet)."""
    return lab_dir / PKI_DIR / "ca.crt", lab_dir / PKI_DIR / "ca.key"


def ensure_lab_ca(lab_dir: Path) -> Path:
    """Make the lab CA unless it exists; return its certificate's path."""
    from netwarden.lab.ns.pki import new_ca  # noqa: PLC0415 - never in the holder

    cert, key = lab_ca_files(lab_dir)
    if not (cert.is_file() and key.is_file()):
        private_dir(cert.parent)
        ca = new_ca("netwarden lab CA")
        write_private(key, ca.key_pem.decode())
        write_private(cert, ca.cert_pem.decode())
        logger.info("lab CA made: %s", cert)
    return cert


def needs_certificate(provides: tuple[str, ...]) -> bool:
    """Whether a server providing ``provides`` runs a daemon that serves TLS with the lab CA."""
    return any(service in TLS_SERVICES for service in provides)


def install_lab_ca(ctx: ServiceContext, lab_dir: Path) -> None:
    """Only the lab CA's certificate (public) at ``ca.crt``: a syslog-over-TLS client checks
    its log server with it (the ``linux_server`` role's forwarding in the lab)."""
    cert = ensure_lab_ca(lab_dir)
    ctx.write(CA_CERT, cert.read_text(encoding="ascii"), 0o644)


def ensure_service_certificate(ctx: ServiceContext, lab_dir: Path) -> None:
    """The server's certificate from the lab CA (for its names and addresses), unless it has one.

    A certificate of an older CA (the lab directory was wiped, the CA made anew) is replaced.
    """
    from netwarden.lab.ns.pki import Issued, issue  # noqa: PLC0415 - never in the holder

    ca_cert, ca_key = lab_ca_files(lab_dir)
    ensure_lab_ca(lab_dir)
    ca_pem = ca_cert.read_bytes()
    cert, key, copy = ctx.path(SERVICE_CERT), ctx.path(SERVICE_KEY), ctx.path(CA_CERT)
    if cert.is_file() and key.is_file() and copy.is_file() and copy.read_bytes() == ca_pem:
        return
    names = (ctx.hostname, f"{ctx.hostname}.{ctx.domain}") if ctx.domain else (ctx.hostname,)
    ca = Issued(ca_pem, ca_key.read_bytes())
    issued = issue(ca, ctx.hostname, server=True, ip_sans=ctx.addresses, dns_sans=names)
    ctx.write(SERVICE_KEY, issued.key_pem.decode(), 0o600)
    ctx.write(SERVICE_CERT, issued.cert_pem.decode(), 0o644)
    ctx.write(CA_CERT, ca_pem.decode(), 0o644)
