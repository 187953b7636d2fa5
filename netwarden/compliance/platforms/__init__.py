"""Platform modules: each registers its driver and predicates (API: :mod:`netwarden.compliance.predicates`).

Importing this package registers the built-in platforms; the engine imports it
once and finds them through :func:`~netwarden.compliance.predicates.drivers`
and the predicate registry, never by name. A platform module imports the
predicate API (and, within a platform, its sibling: ``ios_net`` uses
``ios_rules``, ``nft_flows`` uses ``nftables``), never the engine.

- ``ios_rules``, ``ios_net``: Cisco IOS (the ``ios`` pack);
- ``nftables``, ``nft_flows``: nftables firewalls (the ``nftables`` pack);
- ``linux``: Linux servers (the ``linux`` pack).
"""

from __future__ import annotations

from netwarden.compliance.platforms import (  # noqa: F401  (imported for their registrations)
    ios_net,
    ios_rules,
    linux,
    nft_flows,
    nftables,
)
