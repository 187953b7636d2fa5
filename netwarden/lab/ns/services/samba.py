"""Samba for ``smb``: a read-only guest share on tcp/445 of the server's addresses.

Enough for a client to list and read a share (staff reaching their file server);
no accounts, no domain, no NetBIOS.
"""

from __future__ import annotations

import logging

from netwarden.lab.ns.services.base import LAB_ETC, Daemon, Listen, ServiceContext, register

logger = logging.getLogger(__name__)

SMB_PORT = 445
SHARE = "/srv/netwarden-lab/public"


@register("smb", daemon="smbd", binary="/usr/sbin/smbd", package="samba", order=50)
def samba(ctx: ServiceContext) -> Daemon:
    """``smbd --foreground --no-process-group`` bound to the server's addresses only."""
    config = f"{LAB_ETC}/smb.conf"
    allowed = " ".join(["127.", *(str(n) for n in ctx.site_networks)])
    lines = [
        "# netwarden lab: written by the server's holder at start",
        "[global]",
        f"    netbios name = {ctx.hostname[:15].upper()}",
        "    server role = standalone server",
        f"    interfaces = {' '.join(str(a) for a in ctx.addresses)}",
        "    bind interfaces only = yes",
        f"    smb ports = {SMB_PORT}",
        "    disable netbios = yes",
        "    map to guest = Bad User",
        f"    hosts allow = {allowed}",
        "    hosts deny = ALL",
        "    load printers = no",
        "    printing = bsd",
        "    printcap name = /dev/null",
        "    disable spoolss = yes",
        "    log level = 1",
        "    logging = file",
        "    log file = /var/log/samba/log.%m",
        "[public]",
        f"    path = {SHARE}",
        "    guest ok = yes",
        "    read only = yes",
        "    browseable = yes",
    ]
    ctx.write(config, "\n".join(lines) + "\n")
    ctx.write(f"{SHARE}/README.txt", f"{ctx.hostname}: netwarden lab file share\n")
    for path in ("/var/log/samba", "/run/samba", "/var/lib/samba/private", "/var/cache/samba"):
        ctx.directory(path, 0o755)
    return Daemon(
        name="smbd",
        argv=(
            "/usr/sbin/smbd",
            "--foreground",
            "--no-process-group",
            "--debug-stdout",
            f"--configfile={config}",
        ),
        listens=tuple(Listen("tcp", SMB_PORT, a) for a in ctx.addresses),
        check=("/usr/bin/testparm", "-s", "--suppress-prompt", config),
    )
