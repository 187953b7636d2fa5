"""nginx for ``web``/``http`` (port 80) and ``https`` (port 443): a static page per server.

``https`` uses a self-signed certificate made at start that names the server and
its addresses (``/etc/netwarden-lab/tls/``, key ``0600``).
"""

from __future__ import annotations

import html
import logging

from netwarden.lab.ns.services.base import LAB_ETC, Daemon, Listen, ServiceContext, register

logger = logging.getLogger(__name__)

WEB_ROOT = "/var/www/netwarden-lab"
TLS_DIR = f"{LAB_ETC}/tls"


def page(hostname: str) -> str:
    """The static page: the server's name, so a client sees whom it reached."""
    name = html.escape(hostname)
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">'
        f"<title>{name}</title></head>\n"
        f"<body><h1>{name}</h1><p>netwarden lab web server</p></body></html>\n"
    )


def ensure_certificate(ctx: ServiceContext) -> None:
    """A self-signed certificate for the server's name and addresses, unless it has one.

    ``start_server`` makes it before the holder starts (the holder then never loads
    the cryptography library: a smaller process per server).
    """
    cert, key = ctx.path(f"{TLS_DIR}/server.crt"), ctx.path(f"{TLS_DIR}/server.key")
    if cert.is_file() and key.is_file():
        return
    from netwarden.lab.ns.pki import issue  # noqa: PLC0415 - only when not made beforehand

    issued = issue(None, ctx.hostname, server=True, ip_sans=ctx.addresses, dns_sans=(ctx.hostname,))
    ctx.write(f"{TLS_DIR}/server.key", issued.key_pem.decode(), 0o600)
    ctx.write(f"{TLS_DIR}/server.crt", issued.cert_pem.decode(), 0o644)


@register(
    "web", "http", "https", daemon="nginx", binary="/usr/sbin/nginx", package="nginx", order=50
)
def nginx(ctx: ServiceContext) -> Daemon:
    """``nginx`` (``daemon off``) on the server's addresses, only the lab page."""
    config = f"{LAB_ETC}/nginx.conf"
    plain = any(s in ctx.provides for s in ("web", "http")) or "https" not in ctx.provides
    tls = "https" in ctx.provides
    listens: list[Listen] = []
    server: list[str] = []
    for address in ctx.addresses:
        if plain:
            server.append(f"        listen {address}:80;")
            listens.append(Listen("tcp", 80, address))
        if tls:
            server.append(f"        listen {address}:443 ssl;")
            listens.append(Listen("tcp", 443, address))
    if tls:
        ensure_certificate(ctx)
        server += [
            f"        ssl_certificate {TLS_DIR}/server.crt;",
            f"        ssl_certificate_key {TLS_DIR}/server.key;",
            "        ssl_protocols TLSv1.2 TLSv1.3;",
        ]
    lines = [
        "# netwarden lab: written by the server's holder at start",
        "daemon off;",
        "user www-data;",
        "worker_processes 1;",
        "pid /run/nginx.pid;",
        "error_log stderr notice;",
        "events { worker_connections 128; }",
        "http {",
        "    include /etc/nginx/mime.types;",
        "    default_type application/octet-stream;",
        "    access_log /var/log/nginx/access.log;",
        "    server_tokens off;",
        "    server {",
        *server,
        f"        server_name {ctx.hostname};",
        f"        root {WEB_ROOT};",
        "        index index.html;",
        "        location / { try_files $uri $uri/ =404; }",
        "    }",
        "}",
    ]
    ctx.write(config, "\n".join(lines) + "\n")
    ctx.write(f"{WEB_ROOT}/index.html", page(ctx.hostname))
    ctx.directory("/var/log/nginx", 0o755)
    return Daemon(
        name="nginx",
        argv=("/usr/sbin/nginx", "-c", config),
        listens=tuple(listens),
        check=("/usr/sbin/nginx", "-t", "-q", "-c", config),
    )
