"""A small TACACS+ server (RFC 8907) for the lab: codec, users file, server.

Debian 12 and PyPI carry no TACACS+ server, so the lab has its own:
:mod:`~netwarden.lab.tacplus.packet` (header, MD5 pseudo-pad obfuscation, the
bodies of authentication, authorization and accounting),
:mod:`~netwarden.lab.tacplus.policy` (the shared key and users: hashed passwords,
privilege levels, permitted commands) and :mod:`~netwarden.lab.tacplus.server`
(sessions over TCP, bounded). ``python -m netwarden.lab.tacplus <config.json>`` runs
it in the foreground; the lab's service writer (``lab.ns.services.tacacs``) starts
it that way in the server's namespace. It imports nothing of the rest of the lab.
"""

from __future__ import annotations
