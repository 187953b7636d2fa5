"""Certificates the lab makes at start: a CA, server and client certificates (EC P-256).

Used by the site-to-site VPN (a CA per lab, one certificate per tunnel end) and by
the lab's web servers (a self-signed certificate naming the server's addresses).
Nothing here is a production PKI: keys live in the lab directory, mode 0600.

Examples:
    >>> ca = new_ca("netwarden lab CA")
    >>> leaf = issue(ca, "hq-fw", server=True)
    >>> b"BEGIN CERTIFICATE" in leaf.cert_pem and b"PRIVATE KEY" in leaf.key_pem
    True
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=397)
_BACKDATE = datetime.timedelta(hours=1)  # clocks of lab and clients need not agree to the second


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key (PEM); the key never appears in a repr."""

    cert_pem: bytes
    key_pem: bytes = field(repr=False)

    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    def private_key(self) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key(self.key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise TypeError("lab keys are EC keys")
        return key


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "netwarden lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def new_ca(common_name: str) -> Issued:
    """A self-signed CA that signs certificates only."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def issue(
    ca: Issued | None,
    common_name: str,
    *,
    server: bool = False,
    client: bool = False,
    ip_sans: tuple[IPv4Address, ...] = (),
    dns_sans: tuple[str, ...] = (),
) -> Issued:
    """A leaf certificate for ``common_name`` signed by ``ca`` (None: self-signed).

    ``server``/``client`` set the extended key usages OpenVPN's ``remote-cert-tls``
    and TLS clients check.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    issuer = ca.certificate().subject if ca is not None else _name(common_name)
    signer = ca.private_key() if ca is not None else key
    usages = [ExtendedKeyUsageOID.SERVER_AUTH] if server else []
    usages += [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_sans]
    sans += [x509.IPAddress(a) for a in ip_sans]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(signer, hashes.SHA256())
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))
