"""rsyslog for ``syslog`` (a receiver) and on every server that has a log host (a forwarder).

As a receiver it listens on udp/514 and tcp/514 of each address and writes what
each sender sends to ``/var/log/remote/<sender address>.log`` (the address, never the
sender-chosen host name, names the file). Its own logs (sshd's logins among them,
through ``/dev/log`` in the server's own ``/dev``) go to ``/var/log/syslog`` and
``/var/log/auth.log``, and to the log host over UDP when it has one.
"""

from __future__ import annotations

import logging

from netwarden.lab.ns.services.base import LAB_ETC, Daemon, Listen, ServiceContext, register

logger = logging.getLogger(__name__)

SYSLOG_PORT = 514
REMOTE_DIR = "/var/log/remote"


@register("syslog", daemon="rsyslogd", binary="/usr/sbin/rsyslogd", package="rsyslog", order=10)
def rsyslog(ctx: ServiceContext) -> Daemon:
    """``rsyslogd -n``: local logs, forwarding to the log host, and the receiver if provided."""
    config = f"{LAB_ETC}/rsyslog.conf"
    receiver = "syslog" in ctx.provides
    lines = [
        "# netwarden lab: written by the server's holder at start",
        'global(workDirectory="/var/spool/rsyslog")',
        'module(load="imuxsock")',
        'template(name="remotefile" type="string" string="/var/log/remote/%FROMHOST-IP%.log")',
        'auth,authpriv.* action(type="omfile" file="/var/log/auth.log")',
        '*.*;auth,authpriv.none action(type="omfile" file="/var/log/syslog")',
    ]
    if ctx.log_host is not None and ctx.log_host not in ctx.addresses:
        lines.append(
            f'*.* action(type="omfwd" target="{ctx.log_host}" port="{SYSLOG_PORT}" protocol="udp")'
        )
    listens: list[Listen] = []
    if receiver:
        lines += [
            'module(load="imudp")',
            'module(load="imtcp" MaxSessions="200")',
            'ruleset(name="remote") {',
            '    action(type="omfile" dynaFile="remotefile" dirCreateMode="0750" fileCreateMode="0640")',
            "}",
        ]
        for address in ctx.addresses:
            for proto in ("udp", "tcp"):
                lines.append(
                    f'input(type="im{proto}" address="{address}" port="{SYSLOG_PORT}" ruleset="remote")'
                )
                listens.append(Listen(proto, SYSLOG_PORT, address))
        ctx.directory(REMOTE_DIR, 0o750)
    ctx.write(config, "\n".join(lines) + "\n")
    ctx.directory("/var/spool/rsyslog", 0o700)
    return Daemon(
        name="rsyslogd",
        argv=("/usr/sbin/rsyslogd", "-n", "-f", config, "-i", "/run/rsyslogd.pid"),
        listens=tuple(listens),
        check=("/usr/sbin/rsyslogd", "-N1", "-f", config),
    )
