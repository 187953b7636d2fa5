"""IOS text: parse, normalize, sanitize and redact configs; type 7, type 9 and SNMPv3 secrets.

One place for what netwarden knows about IOS configuration text, used by the
renderer, the config workflows, compliance and the simulator alike. It imports
nothing above :mod:`netwarden.inventory`.
"""
