"""OpenLDAP's slapd for ``ldaps``: the organisation's directory over TLS on tcp/636 only.

The base DN comes from the organisation's domain (``gs.example.int`` ->
``dc=gs,dc=example,dc=int``), with ``ou=people`` and an entry for the automation
user (``uid=netwarden``). The database is loaded at each start with ``slapadd``
from an LDIF the writer makes (the directory is derived from the inventory; nothing
in it is kept between starts). Anyone may search it, over TLS only: slapd listens on
``ldaps://`` of each address with the server's certificate from the lab CA
(``labtls``); there is no plain ``ldap://`` listener, no password and no rootpw
(only ``slapadd``, run by the holder, writes).
"""

from __future__ import annotations

import logging
import re
import shutil

from netwarden.lab.ns.services.base import (
    AUTOMATION_USER,
    LAB_ETC,
    Daemon,
    Listen,
    ServiceContext,
    register,
)
from netwarden.lab.ns.services.labtls import CA_CERT, SERVICE_CERT, SERVICE_KEY

logger = logging.getLogger(__name__)

LDAPS_PORT = 636
DATA_DIR = "/var/lib/netwarden-lab/ldap"
SCHEMAS = ("core", "cosine", "nis", "inetorgperson")
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def base_dn(domain: str) -> str:
    """The directory's base DN for a DNS domain.

    Examples:
        >>> base_dn("gs.example.int")
        'dc=gs,dc=example,dc=int'

    Raises:
        ValueError: the domain is empty or has a label that is not a host-name label.
    """
    labels = domain.strip(".").lower().split(".")
    if not domain.strip(".") or not all(_LABEL.match(label) for label in labels):
        raise ValueError(
            f"the organisation's domain {domain!r} cannot name an LDAP base DN "
            "(expected labels of a-z, 0-9, '-', e.g. gs.example.int)"
        )
    return ",".join(f"dc={label}" for label in labels)


def entries(ctx: ServiceContext) -> str:
    """The LDIF slapadd loads: the base, ``ou=people`` and the automation user."""
    base = base_dn(ctx.domain)
    first = base.split(",")[0].removeprefix("dc=")
    blocks = [
        [f"dn: {base}", "objectClass: dcObject", "objectClass: organization",
         f"dc: {first}", f"o: {ctx.domain.strip('.')}"],
        [f"dn: ou=people,{base}", "objectClass: organizationalUnit", "ou: people"],
        [f"dn: uid={AUTOMATION_USER},ou=people,{base}", "objectClass: inetOrgPerson",
         f"uid: {AUTOMATION_USER}", f"cn: {AUTOMATION_USER}", "sn: automation",
         "description: netwarden automation user"],
    ]  # fmt: skip
    return "\n\n".join("\n".join(block) for block in blocks) + "\n"


@register("ldaps", daemon="slapd", binary="/usr/sbin/slapd", package="slapd", order=40)
def slapd(ctx: ServiceContext) -> Daemon:
    """``slapd -d stats`` on ``ldaps://<address>`` of each address; loaded by ``slapadd`` first.

    Raises:
        ValueError: no domain to name the base DN, or the lab CA's certificate is missing.
    """
    base = base_dn(ctx.domain)
    missing = [p for p in (SERVICE_CERT, SERVICE_KEY, CA_CERT) if not ctx.path(p).is_file()]
    if missing:
        raise ValueError(
            f"{ctx.hostname}: ldaps needs the lab CA's certificate, missing {', '.join(missing)} "
            "(start_server makes them before the holder)"
        )
    config, ldif = f"{LAB_ETC}/slapd.conf", f"{LAB_ETC}/ldap-entries.ldif"
    lines = [
        "# netwarden lab: written by the server's holder at start",
        *(f"include /etc/ldap/schema/{schema}.schema" for schema in SCHEMAS),
        "pidfile /run/slapd-lab.pid",
        "argsfile /run/slapd-lab.args",
        "modulepath /usr/lib/ldap",
        "moduleload back_mdb",
        f"TLSCACertificateFile {CA_CERT}",
        f"TLSCertificateFile {SERVICE_CERT}",
        f"TLSCertificateKeyFile {SERVICE_KEY}",
        "TLSProtocolMin 3.3",
        "database mdb",
        f'suffix "{base}"',
        f'rootdn "cn=admin,{base}"',
        f"directory {DATA_DIR}",
        "maxsize 16777216",
        "index objectClass,uid eq",
        "access to attrs=userPassword by * none",
        "access to * by * read",
    ]
    ctx.write(config, "\n".join(lines) + "\n", 0o640)
    ctx.write(ldif, entries(ctx), 0o640)
    data = ctx.path(DATA_DIR)
    if data.exists():  # loaded anew at each start: the inventory is the source
        shutil.rmtree(data)
    ctx.directory(DATA_DIR, 0o700)
    urls = " ".join(f"ldaps://{address}:{LDAPS_PORT}/" for address in ctx.addresses)
    return Daemon(
        name="slapd",
        argv=("/usr/sbin/slapd", "-d", "stats", "-h", urls, "-f", config),
        listens=tuple(Listen("tcp", LDAPS_PORT, a) for a in ctx.addresses),
        prepare=(("/usr/sbin/slapadd", "-q", "-f", config, "-l", ldif),),
        check=("/usr/sbin/slaptest", "-u", "-Q", "-f", config),
    )
