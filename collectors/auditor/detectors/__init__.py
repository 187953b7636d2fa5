"""Detectors: registered plugins (see ``base.py`` for the contract).

Importing this package registers the built-in detectors; code elsewhere finds them
through :func:`~collectors.auditor.detectors.base.registry`, never by import.
"""

from __future__ import annotations

from collectors.auditor.detectors import (  # noqa: F401  (imported for their @register)
    ack_scan,
    address_scan,
    arp_spoof,
    arp_sweep,
    beaconing,
    cleartext_credentials,
    dhcp_starvation,
    dns_tunnel,
    ftp_bruteforce,
    ping_sweep,
    policy_violation,
    port_scan,
    rdp_bruteforce,
    rogue_dhcp,
    ssh_bruteforce,
    stealth_scan,
    telnet_bruteforce,
    tiny_fragment,
    udp_sweep,
    unknown_device,
)
from collectors.auditor.detectors.base import (
    Detector,
    DetectorContext,
    register,
    registry,
)

__all__ = ["Detector", "DetectorContext", "register", "registry"]
