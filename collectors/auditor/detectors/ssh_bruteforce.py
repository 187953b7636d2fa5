"""``ssh_bruteforce``: many short SSH sessions from one client (password guessing).

SSH is encrypted, so a failed login is inferred from the session's shape (see
``_bruteforce.py``). Default 10 short sessions in 10 minutes: Zeek's
``SSH::password_guesses_limit`` is 30 in 30 min on internet-facing borders; its own
test trace (11 sessions in 70 s) is run at 10, and Suricata's ET SCAN SSH rules
fire at 5 connections in 120 s.
"""

from __future__ import annotations

from typing import ClassVar

from collectors.auditor.config import DetectorSettings
from collectors.auditor.detectors._bruteforce import BruteForceDetector, BruteForceSettings
from collectors.auditor.detectors.base import register


@register
class SshBruteforce(BruteForceDetector):
    name: ClassVar[str] = "ssh_bruteforce"
    service: ClassVar[str] = "ssh"
    ports: ClassVar[tuple[int, ...]] = (22,)
    Settings: ClassVar[type[DetectorSettings]] = BruteForceSettings
