"""nginx for ``web``/``http`` (port 80) and ``https`` (port 443): a static page per server.

``https`` uses the server's certificate from the lab CA (``labtls``: made by
``start_server`` before the holder, naming the server, ``<server>.<domain>`` and its
addresses, key ``0600``), so a client given the lab CA's file (``<lab>/.lab/pki/ca.crt``)
verifies it.
"""

from __future__ import annotations

import html
import logging

from netwarden.lab.ns.services.base import LAB_ETC, Daemon, Listen, ServiceContext, register
from netwarden.lab.ns.services.labtls import SERVICE_CERT, SERVICE_KEY

logger = logging.getLogger(__name__)

WEB_ROOT = "/var/www/netwarden-lab"


def page(hostname: str) -> str:
    """The static page: the server's name, so a client sees whom it reached."""
    name = html.escape(hostname)
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">'
        f"<title>{name}</title></head>\n"
        f"<body><h1>{name}</h1><p>netwarden lab web server</p></body></html>\n"
    )


@register(
    "web", "http", "https", daemon="nginx", binary="/usr/sbin/nginx", package="nginx", order=50
)
def nginx(ctx: ServiceContext) -> Daemon:
    """``nginx`` (``daemon off``) on the server's addresses, only the lab page.

    Raises:
        ValueError: ``https`` without the lab CA's certificate in the server's root.
    """
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
        missing = [p for p in (SERVICE_CERT, SERVICE_KEY) if not ctx.path(p).is_file()]
        if missing:
            raise ValueError(
                f"{ctx.hostname}: https needs the lab CA's certificate, missing "
                f"{', '.join(missing)} (start_server makes them before the holder)"
            )
        server += [
            f"        ssl_certificate {SERVICE_CERT};",
            f"        ssl_certificate_key {SERVICE_KEY};",
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
