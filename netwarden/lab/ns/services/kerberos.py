"""MIT Kerberos' KDC for ``kerberos``: the organisation's realm on udp/88 and tcp/88.

The realm is the organisation's domain in capitals (``gs.example.int`` ->
``GS.EXAMPLE.INT``). At each start the holder creates the realm's database anew
(``kdb5_util create``, master key stashed, a random master password never written)
and a principal for the automation user (``netwarden@REALM``) with a random password
made at that start, kept ``0600`` in the server's root
(``/etc/netwarden-lab/secrets/kerberos-netwarden.password``, i.e. in the node's
directory of the lab, never in the repo). Pre-authentication is required and only
AES keys are made. ``krb5kdc -n`` listens on each address only; no kadmind (no
remote administration in the lab).
"""

from __future__ import annotations

import logging
import secrets
import shutil

from netwarden.lab.ns.services.base import (
    AUTOMATION_USER,
    LAB_ETC,
    Daemon,
    Listen,
    ServiceContext,
    register,
)
from netwarden.lab.ns.services.slapd import base_dn

logger = logging.getLogger(__name__)

KDC_PORT = 88
KRB5_DIR = f"{LAB_ETC}/krb5"
DATA_DIR = "/var/lib/netwarden-lab/krb5kdc"
PASSWORD_FILE = f"{LAB_ETC}/secrets/kerberos-{AUTOMATION_USER}.password"
ENCTYPES = "aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal"


def realm(domain: str) -> str:
    """The Kerberos realm of a DNS domain.

    Examples:
        >>> realm("gs.example.int.")
        'GS.EXAMPLE.INT'

    Raises:
        ValueError: the domain cannot name a realm (empty, or not host-name labels).
    """
    base_dn(domain)  # the same checks
    return domain.strip(".").upper()


@register("kerberos", daemon="krb5kdc", binary="/usr/sbin/krb5kdc", package="krb5-kdc", order=40)
def krb5kdc(ctx: ServiceContext) -> Daemon:
    """``krb5kdc -n`` for the realm; database and automation principal made first.

    Raises:
        ValueError: no domain to name the realm.
    """
    name = realm(ctx.domain)
    listen = ", ".join(f"{address}:{KDC_PORT}" for address in ctx.addresses)
    kdc_conf, krb5_conf = f"{KRB5_DIR}/kdc.conf", f"{KRB5_DIR}/krb5.conf"
    kdc_lines = [
        "# netwarden lab: written by the server's holder at start",
        "[kdcdefaults]",
        f"    kdc_listen = {listen}",
        f"    kdc_tcp_listen = {listen}",
        "[realms]",
        f"    {name} = {{",
        f"        database_name = {DATA_DIR}/principal",
        f"        key_stash_file = {DATA_DIR}/stash",
        f"        acl_file = {KRB5_DIR}/kadm5.acl",
        "        max_life = 10h 0m 0s",
        "        default_principal_flags = +preauth",
        f"        supported_enctypes = {ENCTYPES}",
        "        master_key_type = aes256-cts-hmac-sha1-96",
        "    }",
        "[logging]",
        "    kdc = STDERR",
    ]
    krb5_lines = [
        "# netwarden lab: written by the server's holder at start",
        "[libdefaults]",
        f"    default_realm = {name}",
        "    dns_lookup_kdc = false",
        "    dns_lookup_realm = false",
        "[realms]",
        f"    {name} = {{",
        f"        kdc = {ctx.addresses[0]}:{KDC_PORT}",
        "    }",
    ]
    ctx.write(kdc_conf, "\n".join(kdc_lines) + "\n", 0o640)
    ctx.write(krb5_conf, "\n".join(krb5_lines) + "\n")
    ctx.write(f"{KRB5_DIR}/kadm5.acl", "# no remote administration in the lab\n", 0o640)
    password = secrets.token_urlsafe(24)
    ctx.directory(f"{LAB_ETC}/secrets", 0o700)
    ctx.write(PASSWORD_FILE, password + "\n", 0o600)
    data = ctx.path(DATA_DIR)
    if data.exists():  # made anew at each start, with a new password
        shutil.rmtree(data)
    ctx.directory(DATA_DIR, 0o700)
    master = secrets.token_urlsafe(32)  # only to create the stash; written nowhere
    principal = f"{AUTOMATION_USER}@{name}"
    return Daemon(
        name="krb5kdc",
        argv=("/usr/sbin/krb5kdc", "-n", "-r", name),
        listens=tuple(
            Listen(proto, KDC_PORT, address)
            for address in ctx.addresses
            for proto in ("udp", "tcp")
        ),
        prepare=(
            ("/usr/sbin/kdb5_util", "-r", name, "create", "-s", "-P", master),
            ("/usr/sbin/kadmin.local", "-r", name, "-q", f"addprinc -pw {password} {principal}"),
        ),
        env={"KRB5_CONFIG": krb5_conf, "KRB5_KDC_PROFILE": kdc_conf},
    )
