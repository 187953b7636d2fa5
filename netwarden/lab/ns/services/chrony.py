"""chrony for ``ntp``: serves the site's networks, follows the given upstreams.

``chronyd -x`` never touches the clock: the clock is not namespaced, the host's is
not the lab's to steer. ``local stratum 8 orphan`` lets a lab NTP server answer
without a real time source (the lab has none), and two of them agree on one.
"""

from __future__ import annotations

import logging

from netwarden.lab.ns.services.base import LAB_ETC, Daemon, Listen, ServiceContext, register

logger = logging.getLogger(__name__)

NTP_PORT = 123


@register("ntp", daemon="chronyd", binary="/usr/sbin/chronyd", package="chrony", order=30)
def chrony(ctx: ServiceContext) -> Daemon:
    """``chronyd -d -x``: NTP on udp/123 of the server's namespace (it holds only its addresses)."""
    config = f"{LAB_ETC}/chrony.conf"
    lines = [
        "# netwarden lab: written by the server's holder at start",
        *(f"server {upstream} iburst" for upstream in ctx.others(ctx.ntp_upstreams)),
        "local stratum 8 orphan",
        *(f"allow {network}" for network in ctx.site_networks),
        "driftfile /var/lib/chrony/chrony.drift",
        "bindcmdaddress 127.0.0.1",
        "pidfile /run/chrony/chronyd.pid",
    ]
    ctx.write(config, "\n".join(lines) + "\n")
    ctx.directory("/run/chrony", 0o750, owner="_chrony")
    ctx.directory("/var/lib/chrony", 0o750, owner="_chrony")
    # chrony binds one address per family at most: it listens on every address of the
    # namespace, which are exactly the server's; `allow` keeps it to the site's networks.
    return Daemon(
        name="chronyd",
        argv=("/usr/sbin/chronyd", "-d", "-x", "-f", config),
        listens=tuple(Listen("udp", NTP_PORT, a) for a in ctx.addresses),
        check=None,
    )
