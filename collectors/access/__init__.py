"""The access exporter (the mtail pattern): syslog in, access counters and recent events out.

:mod:`~collectors.access.syslog` parses RFC 5424, RFC 3164 and IOS messages;
:mod:`~collectors.access.events` finds access events in them (IOS logins, config
changes, SSH user auth; sshd logins); :mod:`~collectors.access.ledger` labels and
counts them; :mod:`~collectors.access.receiver` receives syslog over UDP and TCP;
:mod:`~collectors.access.serve` serves ``/metrics`` and ``/events``.
"""

from __future__ import annotations
