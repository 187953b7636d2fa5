"""rsyslog for ``syslog`` (a receiver) and on every server that has a log host (a forwarder).

As a receiver it listens where the service catalogue says syslog is (``syslog:
[udp/514, tcp/6514]``): udp/514 and syslog over TLS (RFC 5425) on tcp/6514 of each
address, with the server's certificate from the lab CA (``labtls``; the gtls driver
of Debian's ``rsyslog-gnutls``; without it tcp/6514 is skipped with a warning). Plain
tcp/514 is not served: the catalogue does not list it, so the lab's firewalls would
drop it anyway and a sender that uses it is misconfigured. It writes what each
sender sends to ``/var/log/remote/<sender address>.log`` (the address, never the
sender-chosen host name, names the file). Its own logs (sshd's logins among them,
through ``/dev/log`` in the server's own ``/dev``) go to ``/var/log/syslog`` and
``/var/log/auth.log``, and to the log host over UDP when it has one. A receiver also runs the actions in
``/etc/rsyslog.d/remote/*.conf`` on what it receives (a relay to the access exporter).
"""

from __future__ import annotations

import logging

from netwarden.lab.ns.services.base import LAB_ETC, Daemon, Listen, ServiceContext, register
from netwarden.lab.ns.services.labtls import CA_CERT, SERVICE_CERT, SERVICE_KEY

logger = logging.getLogger(__name__)

SYSLOG_PORT = 514
SYSLOG_TLS_PORT = 6514
GTLS_DRIVER = "/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so"  # Debian rsyslog-gnutls
REMOTE_DIR = "/var/log/remote"
RELAY_DIR = "/etc/rsyslog.d/remote"  # actions for received messages (inside the remote ruleset)


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
        tls = _tls_ready(ctx)
        lines += [
            *_tls_global(tls),
            'module(load="imudp")',
            'ruleset(name="remote") {',
            '    action(type="omfile" dynaFile="remotefile" dirCreateMode="0750" fileCreateMode="0640")',
            # what the log host relays of what it received (the monitoring role puts the
            # access exporter's relay there; a restart re-reads it)
            f'    include(file="{RELAY_DIR}/*.conf" mode="optional")',
            "}",
        ]
        for address in ctx.addresses:
            lines.append(
                f'input(type="imudp" address="{address}" port="{SYSLOG_PORT}" ruleset="remote")'
            )
            listens.append(Listen("udp", SYSLOG_PORT, address))
            if tls:
                lines.append(
                    f'input(type="imtcp" address="{address}" port="{SYSLOG_TLS_PORT}" '
                    'ruleset="remote")'
                )
                listens.append(Listen("tcp", SYSLOG_TLS_PORT, address))
        ctx.directory(REMOTE_DIR, 0o750)
    # drop-ins, as Debian's rsyslog.conf has them: configuration management puts the
    # server's own forwarding there (the linux_server role; units.py restarts rsyslogd)
    lines.append('include(file="/etc/rsyslog.d/*.conf" mode="optional")')
    ctx.write(config, "\n".join(lines) + "\n")
    ctx.directory("/var/spool/rsyslog", 0o700)
    return Daemon(
        name="rsyslogd",
        argv=("/usr/sbin/rsyslogd", "-n", "-f", config, "-i", "/run/rsyslogd.pid"),
        listens=tuple(listens),
        check=("/usr/sbin/rsyslogd", "-N1", "-f", config),
    )


def _tls_ready(ctx: ServiceContext) -> bool:
    """Whether tcp/6514 can be served: the gtls driver is installed and the certificate made."""
    if not ctx.path(GTLS_DRIVER).is_file():
        logger.warning("%s: syslog over TLS (tcp/%d) skipped: %s (Debian rsyslog-gnutls) is "
                       "not installed", ctx.hostname, SYSLOG_TLS_PORT, GTLS_DRIVER)  # fmt: skip
        return False
    missing = [p for p in (SERVICE_CERT, SERVICE_KEY, CA_CERT) if not ctx.path(p).is_file()]
    if missing:
        raise ValueError(
            f"{ctx.hostname}: syslog over TLS needs the lab CA's certificate, missing "
            f"{', '.join(missing)} (start_server makes them before the holder)"
        )
    return True


def _tls_global(tls: bool) -> list[str]:
    """The gtls stream driver for every imtcp input: TLS only, no client certificate asked."""
    if not tls:
        return []
    return [
        f'global(DefaultNetstreamDriver="gtls" DefaultNetstreamDriverCAFile="{CA_CERT}"',
        f'       DefaultNetstreamDriverCertFile="{SERVICE_CERT}"',
        f'       DefaultNetstreamDriverKeyFile="{SERVICE_KEY}")',
        'module(load="imtcp" MaxSessions="200" StreamDriver.Name="gtls" StreamDriver.Mode="1"',
        '       StreamDriver.AuthMode="anon")',
    ]
