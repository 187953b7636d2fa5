"""The lab servers' daemons: registered writers (see ``base.py`` for the contract).

Importing this package registers the built-in writers; the holder finds them
through :func:`~netwarden.lab.ns.services.base.registry`, never by import.
"""

from __future__ import annotations

from netwarden.lab.ns.services import (  # noqa: F401  (imported for their @register)
    chrony,
    kerberos,
    monitoring,
    nginx,
    rsyslog,
    samba,
    slapd,
    sshd,
    tacacs,
    unbound,
)
from netwarden.lab.ns.services.base import (
    Daemon,
    Listen,
    ServiceContext,
    ServicePlan,
    plan_services,
    register,
    registry,
)

__all__ = [
    "Daemon",
    "Listen",
    "ServiceContext",
    "ServicePlan",
    "plan_services",
    "register",
    "registry",
]
