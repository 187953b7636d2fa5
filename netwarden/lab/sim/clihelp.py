"""Context help (``?``) and Tab completion of the simulated IOS command line.

Both walk the same tables the session executes from: the exec verbs of the
session, the ``show`` keyword tree of :mod:`netwarden.lab.sim.shows` and the
per-mode keyword trees of :mod:`netwarden.lab.sim.cligrammar`, so a keyword that
help lists is one the parser takes, and an abbreviation that Tab completes is one
it expands. The texts beside the keywords are IOS's own where we know them.

Examples:
    >>> state = HelpState(verbs=("enable", "exit", "show"), mode=None)
    >>> completion("sh", state)
    'show '
    >>> help_text("sh", state, "sw1>")
    'show  '
    >>> print(help_text("show privilege ", state, "sw1>"))
      |  Output modifiers
      <cr>
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from netwarden.lab.sim import cligrammar, shows
from netwarden.lab.sim.clihelp_text import CONFIG_HELP, INTERFACE_TYPE_HELP
from netwarden.lab.sim.execcmds import invalid_at, word_column

logger = logging.getLogger(__name__)

EXEC_HELP: dict[str, str] = {
    "archive": "manage archive files",
    "clear": "Reset functions",
    "configure": "Enter configuration mode",
    "copy": "Copy from one file to another",
    "delete": "Delete a file",
    "dir": "List files on a filesystem",
    "disable": "Turn off privileged commands",
    "enable": "Turn on privileged commands",
    "exit": "Exit from the EXEC",
    "logout": "Exit from the EXEC",
    "more": "Display the contents of a file",
    "ping": "Send echo messages",
    "quit": "Exit from the EXEC",
    "show": "Show running system information",
    "terminal": "Set terminal line parameters",
    "traceroute": "Trace route to destination",
    "verify": "Verify a file",
    "write": "Write running configuration to memory, network, or terminal",
}
SHOW_HELP: dict[str, str] = {
    "access-lists": "List access lists",
    "all": "Configuration with defaults",
    "archive": "Archive functions",
    "address-table": "MAC forwarding table",
    "arp": "ARP table",
    "banner": "Display banner information",
    "boot": "show boot attributes",
    "cdp": "CDP information",
    "clock": "Display the system clock",
    "configuration": "Contents of Non-Volatile memory",
    "controllers": "Interface controller status",
    "counters": "Show interface counters",
    "description": "Show interface description",
    "detail": "Show detailed information",
    "dynamic": "dynamic entry type",
    "etherchannel": "EtherChannel information",
    "environment": "Environmental monitoring status",
    "flash:": "display information about flash: file system",
    "history": "Display the session command history",
    "hosts": "IP domain-name, lookup style, nameservers, and host table",
    "interface": "Show interface configuration",
    "interfaces": "Interface status and configuration",
    "inventory": "Show the physical inventory",
    "ip": "IP information",
    "ipv6": "IPv6 information",
    "lacp": "Port channel information",
    "license": "Show license information",
    "line": "TTY line information",
    "lldp": "LLDP information",
    "logging": "Show the contents of logging buffers",
    "mac-address-table": "MAC forwarding table",
    "motd": "Message-of-the-day banner",
    "mac": "MAC configuration",
    "memory": "Memory statistics",
    "neighbors": "Show neighbor entries",
    "ntp": "Network time protocol",
    "route": "IP routing table",
    "privilege": "Show current privilege level",
    "processes": "Active process statistics",
    "running-config": "Current operating configuration",
    "sessions": "Information about Telnet connections",
    "snmp": "snmp statistics",
    "spanning-tree": "Spanning tree topology",
    "ssh": "Status of SSH server connections",
    "startup-config": "Contents of startup configuration",
    "status": "Show interface line status",
    "summary": "Show interface summary",
    "switchport": "Show interface switchport information",
    "sys-id": "LACP System ID",
    "switch": "show switch information",
    "terminal": "Display terminal configuration parameters",
    "transceiver": "Show interface transceiver",
    "trunk": "Show interface trunk information",
    "user": "snmp users",
    "users": "Display information about terminal lines",
    "version": "System hardware and software status",
    "vlan": "VTP VLAN status",
    "vrf": "VPN Routing/Forwarding instance information",
}
# Where a keyword means something else after another keyword (IOS's own words there).
SHOW_PATH_HELP: dict[tuple[str, ...], dict[str, str]] = {
    ("spanning-tree",): {
        "root": "Status and configuration of the root bridge",
        "summary": "Summary of port states",
        "vlan": "VLAN Switch Spanning Trees",
    },
}
_FILTER_HELP = {
    "begin": "Begin with the line that matches",
    "count": "Count number of lines which match regexp",
    "exclude": "Exclude lines that match",
    "include": "Include lines that match",
    "section": "Filter a section of output",
}
_SUBCOMMANDS: dict[str, dict[str, str]] = {
    "configure": {
        "confirm": "Confirm replacement of running-config with a new config file",
        "memory": "Configure from NV memory",
        "network": "Configure from a TFTP network host",
        "replace": "Replace the running-config with a new config file",
        "revert": "Parameters for reverting the configuration",
        "terminal": "Configure from the terminal",
    },
    "terminal": {
        "exec": "Configure EXEC",
        "length": "Set number of lines on a screen",
        "monitor": "Copy debug output to the current terminal line",
        "no": "Negate a command or set its defaults",
        "width": "Set width of the display terminal",
    },
    "write": {"memory": "Write to NV memory"},
}
_ARGUMENT_HELP: dict[str, tuple[str, str]] = {
    "hostname": ("WORD", "This system's network name"),
    "description": ("LINE", "Up to 240 characters describing this interface"),
    "ping": ("WORD", "Ping destination address or hostname"),
    "traceroute": ("WORD", "Trace route to destination address or hostname"),
    "dir": ("WORD", "Directory or file name"),
    "length": ("<0-512>", "Number of lines on screen (0 for no pausing)"),
    "width": ("<0-512>", "Number of characters on a screen line"),
}
_ARGUMENT_DEFAULT = ("LINE", "Arguments of the command")


@dataclass(frozen=True)
class HelpState:
    """Where help is asked: the exec verbs allowed, and the config mode (None: exec)."""

    verbs: tuple[str, ...]
    mode: str | None


@dataclass(frozen=True)
class _Level:
    """What may come next: keywords with help, an argument, whether <cr> ends it."""

    keywords: dict[str, str]
    argument: tuple[str, str] | None = None
    complete: bool = False
    pipe: bool = False


def _format(level: _Level) -> str:
    rows = sorted(level.keywords.items())
    if level.argument is not None:
        rows.append(level.argument)
    if level.pipe:
        rows.append(("|", "Output modifiers"))
    width = max((len(word) for word, _text in rows), default=0)
    lines = [f"  {word.ljust(width)}  {text}".rstrip() for word, text in rows]
    if level.complete or not rows:
        lines.append("  <cr>")
    return "\n".join(lines)


def _show_level(args: Sequence[str]) -> _Level | int:
    """The level after ``show <args>`` (full words), or the index of the word not taken."""
    found = shows.resolve(args)
    if found.ambiguous or found.rest:
        return len(found.path)
    children = shows.keywords_at(found.path)
    renders = found.renderer is not None or found.path[:1] in (
        ("running-config",), ("startup-config",), ("archive",), ("flash:",), ("privilege",),
    )  # fmt: skip
    special = SHOW_PATH_HELP.get(found.path, {})
    keywords = {word: special.get(word) or SHOW_HELP.get(word, "") for word in children}
    if found.path[:1] == ("interfaces",) or found.path == ("running-config", "interface"):
        argument: tuple[str, str] | None = ("WORD", "Interface name (GigabitEthernet1/0/1 ...)")
        return _Level(keywords, argument, complete=renders, pipe=renders)
    return _Level(keywords, complete=renders or not found.path, pipe=renders and bool(found.path))


def _exec_level(words: Sequence[str], verbs: tuple[str, ...]) -> _Level | int:  # noqa: PLR0911 - per verb
    if not words:
        return _Level({v: EXEC_HELP.get(v, "") for v in verbs})
    verb = cligrammar.expand_word(words[0].lower(), frozenset(verbs))
    if verb not in verbs:
        return 0
    if "|" in words:
        bar = list(words).index("|")
        after = words[bar + 1 :]
        if not after:
            return _Level(dict(_FILTER_HELP))
        return _Level({}, ("LINE", "Regular Expression"))
    rest = words[1:]
    if verb == "show":
        level = _show_level(rest)
        return level if isinstance(level, _Level) else level + 1
    sub = _SUBCOMMANDS.get(verb)
    if sub is not None:
        if not rest:
            return _Level(sub)
        chosen = cligrammar.expand_word(rest[0].lower(), frozenset(sub))
        if chosen not in sub:
            return 1
        argument = _ARGUMENT_HELP.get(chosen) if len(rest) == 1 else None
        return _Level({}, argument, complete=argument is None)
    if verb in ("enable", "disable", "exit", "logout", "quit", "dir", "ping", "traceroute") or rest:
        return _Level({}, _ARGUMENT_HELP.get(verb) if not rest else None, complete=True)
    return _Level({}, _ARGUMENT_HELP.get(verb, ("WORD", "File or address")))


def _config_level(words: Sequence[str], mode: str, verbs: tuple[str, ...]) -> _Level | int:
    if words and cligrammar.expand_word(words[0], {"do": None}) == "do" and len(words[0]) >= 2:
        level = _exec_level(words[1:], verbs)
        return level if isinstance(level, _Level) else level + 1
    keywords = cligrammar.keywords_at(list(words), mode)
    if keywords is None:
        return len(words) - 1 if words else 0
    if not words:
        extra = {"do": CONFIG_HELP["do"], "end": CONFIG_HELP["end"], "exit": CONFIG_HELP["exit"]}
        return _Level({k: CONFIG_HELP.get(k, "") for k in keywords} | extra)
    if keywords:
        last = cligrammar.expand_config_words(list(words), mode)[-1]
        return _Level({k: CONFIG_HELP.get(f"{last} {k}", CONFIG_HELP.get(k, "")) for k in keywords})
    last = cligrammar.expand_config_words(list(words), mode)[-1]
    if last == "interface":
        return _Level({t: INTERFACE_TYPE_HELP.get(t, "") for t in cligrammar.INTERFACE_TYPES})
    return _Level({}, _ARGUMENT_HELP.get(last, _ARGUMENT_DEFAULT), complete=len(words) > 1)


def _level(words: Sequence[str], state: HelpState) -> _Level | int:
    if state.mode is None:
        return _exec_level(words, state.verbs)
    return _config_level(words, state.mode, state.verbs)


def _split(buffer: str) -> tuple[list[str], str]:
    """The whole words before the cursor, and the word being typed ("" after a space)."""
    words = buffer.replace("|", " | ").split()
    if buffer and not buffer[-1].isspace() and words:
        return words[:-1], words[-1]
    return words, ""


def help_text(buffer: str, state: HelpState, prompt: str) -> str:
    """What IOS prints for ``?`` typed after ``buffer`` (without the prompt reprinted after it)."""
    words, partial = _split(buffer)
    level = _level(words, state)
    if isinstance(level, int):
        return invalid_at(prompt, word_column(buffer, level)).rstrip("\n")
    if partial:
        matches = sorted(w for w in level.keywords if w.lower().startswith(partial.lower()))
        if not matches:
            return "% Unrecognized command"
        return "".join(f"{word}  " for word in matches)
    return _format(level)


def completion(buffer: str, state: HelpState) -> str | None:
    """The buffer with its last word completed (and a space after), or None (no unique match)."""
    words, partial = _split(buffer)
    if not partial:
        return None
    level = _level(words, state)
    if isinstance(level, int):
        return None
    matches = [w for w in level.keywords if w.lower().startswith(partial.lower())]
    exact = [w for w in matches if w.lower() == partial.lower()]
    if len(matches) != 1 and not exact:
        return None
    return buffer[: len(buffer) - len(partial)] + (exact or matches)[0] + " "
