"""What the simulated IOS parser knows: keywords per mode, sub-modes, abbreviations.

This is rule data, not logic: the word lists decide which commands a mode accepts
(anything else is ``% Invalid input``), which commands enter a sub-mode, and how
abbreviated keywords (``int gi1/0/1``, ``sw mo acc``) expand.

Examples:
    >>> interface_name("gi1/0/3")
    'GigabitEthernet1/0/3'
    >>> expand_config_words(["int", "lo0"], "config")
    ['interface', 'lo0']
    >>> submode_of(["interface", "Vlan10"], "config")
    'config-if'
"""

from __future__ import annotations

import logging
import re

logger = logging.getLogger(__name__)

GLOBAL_WORDS = frozenset(
    {
        "aaa", "access-list", "alias", "archive", "authentication", "banner", "boot",
        "boot-end-marker", "boot-start-marker", "call-home", "cdp", "class-map", "clock",
        "control-plane", "crypto", "default", "device-tracking", "diagnostic", "dot1x",
        "enable", "errdisable", "event", "file", "hostname", "hw-module", "interface", "ip",
        "ipv6", "key", "license", "line", "lldp", "logging", "login", "mac", "memory",
        "mls", "monitor", "netconf-yang", "no", "ntp", "parser", "platform", "policy-map",
        "port-channel", "power", "privilege", "qos", "radius", "radius-server", "redundancy",
        "restconf", "route-map", "router", "sdm", "security", "service", "snmp",
        "snmp-server", "spanning-tree", "switch", "system", "tacacs", "tacacs-server",
        "track", "transceiver", "udld", "username", "version", "vlan", "vrf", "vtp",
    }
)  # fmt: skip

_MODE_WORDS: dict[str, frozenset[str]] = {
    "config-if": frozenset(
        {
            "arp", "authentication", "auto", "bandwidth", "carrier-delay", "cdp",
            "channel-group", "default", "delay", "description", "device-tracking", "dot1x",
            "duplex", "encapsulation", "flowcontrol", "hold-queue", "ip", "ipv6", "keepalive",
            "lldp", "load-interval", "logging", "mab", "macro", "media-type", "mls", "mtu",
            "negotiation", "no", "power", "priority-queue", "qos", "service-policy",
            "shutdown", "snmp", "spanning-tree", "speed", "srr-queue", "standby",
            "storm-control", "switchport", "trust", "tunnel", "udld", "vrf", "vrrp",
            "access-session", "source",
        }
    ),
    "config-line": frozenset(
        {
            "absolute-timeout", "access-class", "autocommand", "default", "escape-character",
            "exec", "exec-timeout", "history", "ipv6", "length", "logging", "login",
            "motd-banner", "no", "password", "privilege", "session-timeout", "speed",
            "stopbits", "transport", "width",
        }
    ),
    "config-vlan": frozenset({"default", "media", "mtu", "name", "no", "remote-span",
                              "shutdown", "state"}),
    "config-archive": frozenset({"default", "log", "maximum", "no", "path", "rollback",
                                 "time-period", "write-memory"}),
    "config-archive-log-cfg": frozenset({"default", "hidekeys", "logging", "no", "notify"}),
    "config-router": frozenset(
        {
            "address-family", "area", "auto-summary", "bgp", "default", "default-information",
            "default-metric", "distance", "distribute-list", "eigrp", "log-adjacency-changes",
            "maximum-paths", "metric", "neighbor", "network", "no", "offset-list",
            "passive-interface", "redistribute", "router-id", "summary-address", "timers",
            "version",
        }
    ),
    "config-ext-nacl": frozenset({"default", "deny", "no", "permit", "remark"}),
    "config-server-tacacs": frozenset({"address", "default", "key", "no", "port",
                                       "single-connection", "timeout"}),
    "config-std-nacl": frozenset({"default", "deny", "no", "permit", "remark"}),
}  # fmt: skip

# Second words that decide between an interface command and a global one.
_IF_SECOND: dict[str, frozenset[str]] = {
    "ip": frozenset(
        {
            "access-group", "address", "arp", "dhcp", "directed-broadcast", "flow",
            "helper-address", "igmp", "local-proxy-arp", "mroute-cache", "mtu", "nat",
            "ospf", "pim", "policy", "proxy-arp", "redirects", "route-cache", "tcp",
            "unreachables", "verify", "virtual-reassembly", "vrf", "wccp", "summary-address",
        }
    ),
    "logging": frozenset({"event"}),
    "snmp": frozenset({"trap", "ifindex"}),
    "spanning-tree": frozenset(
        {"bpdufilter", "bpduguard", "cost", "guard", "link-type", "port-priority", "portfast"}
    ),
    "power": frozenset({"inline", "efficient-ethernet"}),
}  # fmt: skip

_INCOMPLETE = frozenset(
    {
        "interface", "hostname", "vlan", "description", "username", "line", "router",
        "banner", "ntp", "snmp-server", "logging", "ip", "switchport", "spanning-tree",
        "enable", "aaa", "crypto", "access-list", "clock", "name", "path", "maximum",
        "channel-group", "speed", "duplex", "mtu", "exec-timeout", "transport",
        "access-class", "privilege", "boot", "file", "archive log", "no",
    }
)  # fmt: skip

# Keyword trees used to expand abbreviations; None: arguments follow.
_Tree = dict[str, "_Tree | None"]
_IP_TREE: _Tree = {
    "address": None, "access-group": None, "access-list": {"extended": None,
    "standard": None}, "domain": {"name": None, "lookup": None}, "domain-name": None,
    "domain-lookup": None, "default-gateway": None, "helper-address": None,
    "http": {"server": None, "secure-server": None}, "name-server": None, "route": None,
    "routing": None, "scp": {"server": {"enable": None}}, "ssh": {"version": None,
    "time-out": None, "authentication-retries": None, "source-interface": None,
    "logging": {"events": None}},
    "dhcp": {"snooping": None, "pool": None}, "host": None, "vrf": None, "sla": None,
    "ospf": None, "proxy-arp": None, "redirects": None, "unreachables": None,
}  # fmt: skip
_SWITCHPORT_TREE: _Tree = {
    "mode": {"access": None, "trunk": None, "dynamic": None},
    "access": {"vlan": None}, "voice": {"vlan": None}, "nonegotiate": None,
    "trunk": {"allowed": {"vlan": None}, "native": {"vlan": None}, "encapsulation": None},
    "port-security": None,
}  # fmt: skip
_GLOBAL_TREE: _Tree = dict.fromkeys(GLOBAL_WORDS) | {
    "ip": _IP_TREE,
    "file": {"prompt": {"quiet": None, "alert": None, "noisy": None}, "verify": None},
    "logging": {"buffered": None, "host": None, "trap": None, "console": None,
                "source-interface": None, "monitor": None, "origin-id": None},
    "ntp": {"server": None, "source": None, "authenticate": None, "peer": None},
    "snmp-server": {"community": None, "location": None, "contact": None, "host": None,
                    "user": None, "group": None, "view": None, "enable": None,
                    "chassis-id": None},
    "service": {"password-encryption": None, "timestamps": None, "pad": None,
                "config": None, "tcp-keepalives-in": None, "tcp-keepalives-out": None},
    "spanning-tree": {"mode": None, "extend": None, "portfast": None, "vlan": None,
                      "loopguard": None},
}  # fmt: skip
_MODE_TREES: dict[str, _Tree] = {
    "config": _GLOBAL_TREE,
    "config-if": dict.fromkeys(_MODE_WORDS["config-if"])
    | {"ip": _IP_TREE, "switchport": _SWITCHPORT_TREE},
}

INTERFACE_TYPES = (
    "GigabitEthernet", "FastEthernet", "TenGigabitEthernet", "TwoGigabitEthernet",
    "FiveGigabitEthernet", "TwentyFiveGigE", "FortyGigabitEthernet", "HundredGigE",
    "AppGigabitEthernet", "Ethernet", "Loopback", "Vlan", "Port-channel", "Tunnel",
    "Serial", "BDI", "Null",
)  # fmt: skip
_INTERFACE_ALIASES = {
    "gi": "GigabitEthernet", "g": "GigabitEthernet", "fa": "FastEthernet",
    "f": "FastEthernet", "te": "TenGigabitEthernet", "tw": "TwoGigabitEthernet",
    "twe": "TwentyFiveGigE", "fi": "FiveGigabitEthernet", "fo": "FortyGigabitEthernet",
    "hu": "HundredGigE", "lo": "Loopback", "vl": "Vlan", "po": "Port-channel",
    "tu": "Tunnel", "se": "Serial", "e": "Ethernet", "eth": "Ethernet",
    "ap": "AppGigabitEthernet",
}  # fmt: skip
_IFNAME_RE = re.compile(r"^([A-Za-z-]+)\s*(\d+(?:[/.:]\d+)*)$")


def interface_name(text: str) -> str | None:
    """The full IOS name of an interface given in any abbreviation, or None."""
    match = _IFNAME_RE.match(text.strip())
    if match is None:
        return None
    kind, number = match.group(1).lower(), match.group(2)
    full = _INTERFACE_ALIASES.get(kind)
    if full is None:
        candidates = [t for t in INTERFACE_TYPES if t.lower().startswith(kind)]
        if len(candidates) != 1:
            return None
        full = candidates[0]
    return full + number


def expand_word(word: str, choices: _Tree | frozenset[str]) -> str:
    """``word`` unchanged if exact or unknown; the keyword when it is a unique prefix."""
    if word in choices:
        return word
    lowered = word.lower()
    matches = [c for c in choices if c.startswith(lowered)]
    return matches[0] if len(matches) == 1 else word


def expand_config_words(words: list[str], mode: str) -> list[str]:
    """Expand abbreviated keywords of a configuration command."""
    if not words:
        return words
    tree = _MODE_TREES.get(mode) or dict.fromkeys(_MODE_WORDS.get(mode, frozenset()))
    out: list[str] = []
    rest = list(words)
    if (
        expand_word(rest[0], {"no": None, "default": None}) in ("no", "default")
        and len(rest[0]) >= 2
    ):
        out.append(expand_word(rest.pop(0), {"no": None, "default": None}))
    node: _Tree | None = tree
    while rest and node:
        word = expand_word(rest.pop(0), node)
        out.append(word)
        node = node.get(word)
    out.extend(rest)
    return out


def _main_word(words: list[str]) -> tuple[str, str]:
    index = 1 if words and words[0] in ("no", "default") and len(words) > 1 else 0
    first = words[index] if len(words) > index else ""
    second = words[index + 1] if len(words) > index + 1 else ""
    return first, second


def known_in_mode(words: list[str], mode: str) -> bool:
    """Whether ``words`` (expanded) is a command of ``mode``."""
    if mode in ("config-std-nacl", "config-ext-nacl") and words and words[0].isdigit():
        words = words[1:]  # a sequence number: "10 permit 10.0.0.0 0.0.0.255"
    first, second = _main_word(words)
    if not first:
        return True
    if mode == "config":
        return first in GLOBAL_WORDS
    allowed = _MODE_WORDS.get(mode)
    if allowed is None:  # a mode we have no word list for: anything but a global command
        return first not in GLOBAL_WORDS or first in ("no", "default")
    if first not in allowed:
        return False
    if mode == "config-if" and first in _IF_SECOND:
        return second in _IF_SECOND[first] and words[-1] != "default"
    return True


def keywords_at(words: list[str], mode: str) -> list[str] | None:
    """The keywords that may follow ``words`` in ``mode``: [] when arguments follow,
    None when a word of ``words`` is not a keyword of its level (help then shows the caret).

    Examples:
        >>> keywords_at(["sw", "mo"], "config-if")
        ['access', 'trunk', 'dynamic']
        >>> keywords_at(["hostname"], "config")
        []
        >>> keywords_at(["bogus"], "config") is None
        True
    """
    tree: _Tree = _MODE_TREES.get(mode) or dict.fromkeys(
        _MODE_WORDS.get(mode, frozenset({"default", "exit", "no"}))
    )
    rest = list(words)
    if rest and expand_word(rest[0], {"no": None, "default": None}) in ("no", "default"):
        rest.pop(0)
    node: _Tree | None = tree
    for word in rest:
        if node is None:
            return []
        expanded = expand_word(word, node)
        if expanded not in node:
            return None if node is tree or mode in ("config", "config-if") else []
        node = node[expanded]
    return list(node) if node is not None else []


def bad_word_index(words: list[str], mode: str) -> int:
    """The word IOS's caret points at when ``words`` is not a command of ``mode``.

    Examples:
        >>> bad_word_index(["ip", "bogus", "1"], "config-if")
        1
        >>> bad_word_index(["no", "frobnicate"], "config")
        1
    """
    index = (
        1
        if mode in ("config-std-nacl", "config-ext-nacl") and words[:1] and words[0].isdigit()
        else 0
    )
    if len(words) > index + 1 and words[index] in ("no", "default"):
        index += 1
    if index >= len(words):
        return max(0, len(words) - 1)
    first = words[index]
    allowed = _MODE_WORDS.get(mode)
    if mode == "config-if" and allowed is not None and first in allowed and first in _IF_SECOND:
        return min(index + 1, len(words) - 1)
    return index


def is_incomplete(words: list[str]) -> bool:
    joined = " ".join(words)
    return joined in _INCOMPLETE or (len(words) == 1 and words[0] in _INCOMPLETE)


def submode_of(words: list[str], mode: str) -> str | None:  # noqa: PLR0911 - one rule per mode
    """The mode a command enters, or None when it is a plain command."""
    if not words or words[0] in ("no", "default"):
        return None
    first, second = words[0], words[1] if len(words) > 1 else ""
    if mode == "config":
        return _global_submode(words, first, second)
    if mode == "config-archive" and words[:2] == ["log", "config"]:
        return "config-archive-log-cfg"
    if mode in ("config-router", "config-vrf") and first == "address-family":
        return mode + "-af"
    if mode == "config-pmap" and first == "class":
        return "config-pmap-c"
    if mode == "config-keychain" and first == "key":
        return "config-keychain-key"
    return None


def _global_submode(words: list[str], first: str, second: str) -> str | None:  # noqa: PLR0911
    simple = {
        "line": "config-line",
        "archive": "config-archive",
        "router": "config-router",
        "class-map": "config-cmap",
        "policy-map": "config-pmap",
        "route-map": "config-route-map",
        "control-plane": "config-cp",
        "redundancy": "config-red",
        "track": "config-track",
    }
    if first == "interface" and second:
        return "config-subif" if "." in second else "config-if"
    if first in simple:
        return (
            simple[first]
            if (second or first in ("archive", "control-plane", "redundancy"))
            else None
        )
    if first == "vlan" and re.fullmatch(r"[\d,-]+", second):
        return "config-vlan"
    pairs = {
        ("key", "chain"): "config-keychain",
        ("vrf", "definition"): "config-vrf",
        ("ip", "vrf"): "config-vrf",
        ("radius", "server"): "config-radius-server",
        ("tacacs", "server"): "config-server-tacacs",
    }
    if (first, second) in pairs:
        return pairs[(first, second)]
    if first == "ip" and second == "access-list" and len(words) > 3:
        return "config-ext-nacl" if words[2] == "extended" else "config-std-nacl"
    if first == "ipv6" and second == "access-list":
        return "config-ipv6-acl"
    if words[:3] == ["ip", "dhcp", "pool"]:
        return "dhcp-config"
    if words[:3] == ["aaa", "group", "server"] and len(words) > 3:
        return "config-sg-" + words[3]
    if words[:3] == ["spanning-tree", "mst", "configuration"]:
        return "config-mst"
    if words[:3] == ["crypto", "pki", "trustpoint"]:
        return "ca-trustpoint"
    if first == "ip" and second == "sla" and len(words) == 3:
        return "config-ip-sla"
    if words[:3] == ["event", "manager", "applet"]:
        return "config-applet"
    return None
