"""Config dialects by platform: how plan, apply, drift and settle read one platform's config text.

The workflows compare configs, compute what remains to change, and clean a
device's diff; how depends on the config language, not on the workflow. Each
platform registers a :class:`Dialect` here and the workflows call
:func:`dialect_for`; none tests a platform itself. Registered:

- ``ios``: :mod:`netwarden.ios.normalize` (canonical, order-insensitive where IOS
  is) and hier_config's remediation (the exact commands);
- ``linux``: nftables firewalls by
  :func:`~netwarden.devices.nftext.normalize_ruleset`, order kept (rule order is
  meaningful); a server snapshot (:mod:`netwarden.devices.linuxstate`, already in
  a stable order) line by line, as read. An nftables ruleset is replaced whole and atomically, so its
  "commands" are the lines the new ruleset adds (``+``) and removes (``-``).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

from hier_config import Platform as HierPlatform
from hier_config import WorkflowRemediation, get_hconfig

from netwarden.devices.linuxstate import is_snapshot
from netwarden.devices.nftext import normalize_ruleset
from netwarden.errors import RenderError
from netwarden.inventory.models import Platform
from netwarden.ios.normalize import (
    canonical_lines,
    filter_device_diff,
    filtered,
    tidy_remediation,
)


@dataclass(frozen=True)
class Dialect:
    """One platform's config text rules.

    Attributes:
        canonical_lines: the config as the lines comparisons see.
        remediation: what turns running (first) into intended (second); () when nothing.
        device_diff: the device's own diff, cleaned for a plan.
    """

    canonical_lines: Callable[[str], list[str]]
    remediation: Callable[[str, str], tuple[str, ...]]
    device_diff: Callable[[str], str]

    def canonical(self, text: str) -> str:
        return "\n".join(self.canonical_lines(text))


def ios_remediation(running: str, intended: str) -> tuple[str, ...]:
    """hier_config's commands that turn ``running`` into ``intended`` (both normalised).

    Examples:
        >>> ios_remediation("hostname a\\nntp server 10.0.0.1\\n", "hostname a\\nntp server 10.0.0.2\\n")
        ('no ntp server 10.0.0.1', 'ntp server 10.0.0.2')
    """
    run = get_hconfig(HierPlatform.CISCO_IOS, filtered(running))
    want = get_hconfig(HierPlatform.CISCO_IOS, filtered(intended))
    return tidy_remediation(WorkflowRemediation(run, want).remediation_config.dump_simple())


def nft_lines(text: str) -> list[str]:
    """A linux device's config as compared: a ruleset normalised, a server snapshot as it is.

    Examples:
        >>> nft_lines("# netwarden server snapshot: s\\n#@ sshd\\n# read: sshd -T\\nport 22\\n")
        ['# netwarden server snapshot: s', '#@ sshd', '# read: sshd -T', 'port 22']
    """
    if is_snapshot(text):
        return text.splitlines()  # sections, sources and values all count
    return normalize_ruleset(text).splitlines()


def nft_remediation(running: str, intended: str) -> tuple[str, ...]:
    """The lines the intended ruleset adds (``+``) and removes (``-``), in diff order.

    Examples:
        >>> nft_remediation("table inet t {\\n}\\n", "# new\\nflush ruleset\\ntable inet t {\\n}\\n")
        ()
        >>> nft_remediation("table inet t {\\n\\tchain a {\\n\\t}\\n}", "table inet t {\\n}")
        ('-    chain a {', '-    }')
    """
    diff = difflib.unified_diff(nft_lines(running), nft_lines(intended), lineterm="", n=0)
    return tuple(line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---")))


def _kept(diff: str) -> str:
    return diff


_DIALECTS: dict[Platform, Dialect] = {}


def register_dialect(platform: Platform, dialect: Dialect) -> None:
    """Make ``dialect`` the config rules of ``platform`` (a later one replaces it)."""
    _DIALECTS[platform] = dialect


def dialect_for(platform: Platform) -> Dialect:
    """The registered dialect of ``platform``.

    Raises:
        RenderError: none is registered.
    """
    dialect = _DIALECTS.get(platform)
    if dialect is None:
        known = ", ".join(sorted(p.value for p in _DIALECTS)) or "none"
        raise RenderError(f"no config dialect for {platform.value!r} (registered: {known})")
    return dialect


register_dialect(Platform.IOS, Dialect(canonical_lines, ios_remediation, filter_device_diff))
register_dialect(Platform.LINUX, Dialect(nft_lines, nft_remediation, _kept))
