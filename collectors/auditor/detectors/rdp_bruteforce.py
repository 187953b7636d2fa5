"""``rdp_bruteforce``: many short RDP sessions from one client (password guessing/spraying).

A failed NLA (CredSSP) login is a short TLS session of a few kilobytes; a real
desktop session streams far more. Default 10 in 10 minutes with a 16 KiB server
budget (the TLS certificate and CredSSP exchange are larger than SSH's).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from collectors.auditor.config import DetectorSettings
from collectors.auditor.detectors._bruteforce import BruteForceDetector, BruteForceSettings
from collectors.auditor.detectors.base import register


class RdpBruteforceSettings(BruteForceSettings):
    short_session_max_server_bytes: int = Field(default=16_384, ge=0)


@register
class RdpBruteforce(BruteForceDetector):
    name: ClassVar[str] = "rdp_bruteforce"
    service: ClassVar[str] = "rdp"
    ports: ClassVar[tuple[int, ...]] = (3389,)
    Settings: ClassVar[type[DetectorSettings]] = RdpBruteforceSettings
