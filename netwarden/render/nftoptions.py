"""The ``nftables_firewall`` role's toggles as the nftables renderer's options.

The role passes its variables (``nftables_firewall_*``) to the renderer, on the
lookup's route and on ``netwarden_config``'s alike; :meth:`NftOptions.from_vars`
validates them here, so a bad value is refused with its variable's name on both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from netwarden.errors import RenderError

__all__ = ["LOG_RATE", "ROLE_PREFIX", "NftOptions"]

LOG_RATE = "10/second burst 20 packets"
ROLE_PREFIX = "nftables_firewall_"
_RATE = re.compile(r"^[1-9][0-9]{0,5}/(second|minute|hour)( burst [1-9][0-9]{0,5} packets)?$")


@dataclass(frozen=True)
class NftOptions:
    """The role's toggles (``nftables_firewall_<name>``); the defaults are the full ruleset.

    ``management_path_enabled=False`` renders a firewall nothing reaches: no policy
    rule to its management address and no established/related in ``input``, so
    even the session that loads it is cut. It exists to prove commit-confirm: the
    firewall's own revert timer restores the previous ruleset.

    Examples:
        >>> NftOptions.from_vars({"nftables_firewall_nat_enabled": False}).nat_enabled
        False
        >>> NftOptions.from_vars({"nftables_firewall_log_rate": "lots"})
        Traceback (most recent call last):
        ...
        netwarden.errors.RenderError: nftables_firewall_log_rate: 'lots' is not an nft rate (e.g. '10/second burst 20 packets')
    """

    log_drops_enabled: bool = True
    log_rate: str = LOG_RATE
    antispoof_enabled: bool = True
    nat_enabled: bool = True
    management_path_enabled: bool = True
    partners_enabled: bool = True

    @classmethod
    def from_vars(cls, variables: Mapping[str, object] | None) -> NftOptions:
        """From role variables (``nftables_firewall_*``; other names are ignored).

        Raises:
            RenderError: an unknown ``nftables_firewall_*`` toggle, a toggle that is
                not a boolean, or a rate nft does not take.
        """
        known = set(cls.__dataclass_fields__)
        values: dict[str, Any] = {}
        for key, value in (variables or {}).items():
            if not key.startswith(ROLE_PREFIX):
                continue
            name = key[len(ROLE_PREFIX) :]
            if name not in known:
                continue  # the role's own plumbing (render, apply, output_dir ...)
            if name == "log_rate":
                if not isinstance(value, str) or not _RATE.match(value):
                    raise RenderError(
                        f"{key}: {value!r} is not an nft rate (e.g. '10/second burst 20 packets')"
                    )
            elif not isinstance(value, bool):
                raise RenderError(f"{key}: {value!r} is not a boolean (true or false)")
            values[name] = value
        return cls(**values)
