"""The simulator's running configuration: a tree of lines with Cisco IOS semantics.

A config is a list of :class:`ConfigNode` (one line each, children by indentation).
:class:`ConfigApplier` feeds command lines into a tree the way IOS does in
configuration mode: ``no <cmd>`` removes the matching line and its children, a
single-valued command (``hostname``, ``ip address``, ``description`` ...) replaces
the previous value, a mode command (``interface X``, ``line vty 0 4`` ...) enters a
sub-mode. The module also renders ``show running-config`` text; the diffs that
``show archive config differences`` and ``incremental-diffs`` print are in
:mod:`netwarden.lab.sim.configdiff`.

Examples:
    >>> tree = ConfigTree.build("hostname a\\ninterface Loopback0\\n description x\\n")
    >>> tree.apply_text("hostname b\\ninterface Loopback0\\n no description\\n")
    []
    >>> print(tree.render_body(), end="")
    hostname b
    !
    interface Loopback0
    !
    end
"""

from __future__ import annotations

import copy
import logging
import re
from dataclasses import dataclass, field

from netwarden.lab.sim import portchannel, snmpusers, stpconfig
from netwarden.lab.sim.cligrammar import (
    bad_word_index,
    expand_config_words,
    interface_name,
    is_incomplete,
    known_in_mode,
    submode_of,
)
from netwarden.lab.sim.credlines import CredentialError, enable_secret_line, merge_username
from netwarden.lab.sim.values import refuse_value

logger = logging.getLogger(__name__)

# Lines IOS prints in "no" form because the feature is on by default.
_NEGATION_SHOWN: tuple[tuple[str, ...], ...] = (
    ("ip", "address"),
    ("switchport",),
    ("ip", "http", "server"),
    ("ip", "http", "secure-server"),
    ("service", "pad"),
    ("ip", "domain", "lookup"),
    ("ip", "domain-lookup"),
    ("cdp", "run"),
    ("cdp", "enable"),
    ("logging", "console"),
    ("ip", "source-route"),
    ("ip", "bootp", "server"),
    ("service", "config"),
    ("ip", "redirects"),
    ("ip", "unreachables"),
    ("ip", "proxy-arp"),
    ("lldp", "transmit"),
    ("lldp", "receive"),
    ("mop", "enabled"),
    ("keepalive",),
    ("auto-summary",),
    ("ip", "gratuitous-arps"),
    ("logging", "monitor"),
    ("exec",),
    ("file", "verify", "auto"),
    ("ip", "dhcp", "snooping", "information", "option"),
)

# Positive forms of the above that IOS does not print (they are the default).
_DEFAULT_ON = frozenset(
    s
    for s in _NEGATION_SHOWN
    if s not in {("ip", "http", "server"), ("ip", "http", "secure-server")}
)

# Commands that hold one value: a new one replaces the old (key = first N words).
_SINGLE_VALUED: dict[tuple[str, ...], int] = {
    ("hostname",): 1,
    ("description",): 1,
    ("ip", "address"): 2,
    ("switchport", "access", "vlan"): 3,
    ("switchport", "mode"): 2,
    ("switchport", "voice", "vlan"): 3,
    ("switchport", "trunk", "native", "vlan"): 4,
    ("switchport", "trunk", "allowed", "vlan"): 4,
    ("exec-timeout",): 1,
    ("session-timeout",): 1,
    ("absolute-timeout",): 1,
    ("enable", "secret"): 2,
    ("enable", "password"): 2,
    ("ip", "domain-name"): 2,
    ("ip", "domain", "name"): 3,
    ("ip", "default-gateway"): 2,
    ("name",): 1,
    ("speed",): 1,
    ("duplex",): 1,
    ("mtu",): 1,
    ("bandwidth",): 1,
    ("transport", "input"): 2,
    ("transport", "output"): 2,
    ("login",): 1,
    ("login", "on-failure"): 2,  # global login logging: independent of each other
    ("login", "on-success"): 2,
    ("login", "block-for"): 2,
    ("login", "delay"): 2,
    ("password",): 1,
    ("privilege", "level"): 2,
    ("logging", "buffered"): 2,
    ("logging", "trap"): 2,
    ("logging", "source-interface"): 2,
    ("snmp-server", "location"): 2,
    ("snmp-server", "contact"): 2,
    ("snmp-server", "chassis-id"): 2,
    ("snmp-server", "community"): 3,
    ("ntp", "source"): 2,
    ("ntp", "server"): 3,
    ("logging", "host"): 3,
    ("clock", "timezone"): 2,
    ("clock", "summer-time"): 2,
    ("ip", "ssh", "version"): 3,
    ("ip", "ssh", "time-out"): 3,
    ("ip", "ssh", "authentication-retries"): 3,
    ("ip", "ssh", "source-interface"): 3,
    ("spanning-tree", "mode"): 2,
    ("spanning-tree", "cost"): 2,
    ("spanning-tree", "port-priority"): 2,
    ("spanning-tree", "pathcost", "method"): 3,
    ("vtp", "mode"): 2,
    ("vtp", "domain"): 2,
    ("path",): 1,
    ("maximum",): 1,
    ("time-period",): 1,
    ("username",): 2,
    ("banner",): 2,
    ("version",): 1,
    ("channel-group",): 1,
    ("power", "inline"): 2,
    ("ip", "access-group"): 2,  # plus direction, see _line_key
    ("access-class",): 1,  # plus direction
    ("aaa", "authentication", "login"): 4,
    ("aaa", "authorization", "exec"): 4,
    ("aaa", "accounting", "exec"): 4,
    ("router-id",): 1,
    ("load-interval",): 1,
    ("state",): 1,
    ("ip", "scp", "server", "enable"): 4,
}

_BANNER_RE = re.compile(r"^banner\s+(\S+)\s+(\^C|\S)(.*)$", re.DOTALL)


@dataclass
class ConfigNode:
    """One configuration line and the lines under it."""

    text: str
    children: list[ConfigNode] = field(default_factory=list)

    def words(self) -> list[str]:
        return self.text.split()


def _line_key(text: str) -> tuple[str, ...]:
    """The identity of a line: two lines with the same key replace each other."""
    if text.startswith("banner "):
        return tuple(text.split(None, 2)[:2])
    words = text.split()
    if words[:2] == ["ip", "address"] and words[-1] == "secondary":
        return tuple(words)
    if words[:2] == ["ip", "access-group"] or words[:1] == ["access-class"]:
        return (*words[: 1 if words[0] == "access-class" else 2], words[-1])
    for size in (5, 4, 3, 2, 1):
        length = _SINGLE_VALUED.get(tuple(words[:size]))
        if length is not None and len(words) >= length:
            return tuple(words[:length])
    return tuple(words)


def _starts_with(words: list[str], prefix: list[str]) -> bool:
    return words[: len(prefix)] == prefix


def _negation_shown(words: list[str]) -> tuple[str, ...] | None:
    for shown in _NEGATION_SHOWN:
        if tuple(words[: len(shown)]) == shown:
            return shown
    return None


def normalize_line(line: str) -> str:
    return " ".join(line.split())


@dataclass
class ApplyResult:
    """What one command line did.

    ``error`` is "" when the line was accepted, else ``invalid``, ``incomplete`` or
    ``refused`` (the device's own words in ``message``); ``error_word`` is the index
    of the word the caret points at for ``invalid``.
    """

    changed: bool = False
    error: str = ""
    message: str = ""
    end: bool = False  # "end" or "exit" from the top: leave configuration mode
    error_word: int = 0


class ConfigTree:
    """A configuration as a tree of lines."""

    def __init__(self, root: list[ConfigNode] | None = None) -> None:
        self.root: list[ConfigNode] = root if root is not None else []
        self.revision = 0  # counts the changes made through ConfigApplier (see stpdomain)
        # SNMPv3 users: accepted, never rendered (see netwarden.lab.sim.snmpusers)
        self.snmp_users: dict[tuple[str, str], str] = {}

    @classmethod
    def build(cls, text: str, physical: frozenset[str] = frozenset()) -> ConfigTree:
        """Build a tree by applying ``text`` to an empty config (IOS semantics)."""
        tree = cls()
        tree.apply_text(text, physical)
        return tree

    def copy(self) -> ConfigTree:
        clone = ConfigTree(copy.deepcopy(self.root))
        clone.snmp_users = dict(self.snmp_users)
        return clone

    def apply_text(
        self,
        text: str,
        physical: frozenset[str] = frozenset(),
        stp_root: stpconfig.RootView | None = None,
    ) -> list[str]:
        """Apply a config file (indentation gives the hierarchy); return the errors."""
        applier = ConfigApplier(self, physical, stp_root)
        errors: list[str] = []
        for raw in text.splitlines():
            result = applier.feed_file_line(raw)
            if result.error:
                errors.append(f"{raw.strip()}: {result.error}")
            if result.end:
                break
        return errors

    # ----------------------------------------------------------------- queries
    def find(self, *texts: str) -> ConfigNode | None:
        nodes = self.root
        found: ConfigNode | None = None
        for text in texts:
            found = next((n for n in nodes if n.text == text), None)
            if found is None:
                return None
            nodes = found.children
        return found

    def top_starting(self, prefix: str) -> list[ConfigNode]:
        """Top-level lines whose words start with the words of ``prefix``."""
        words = prefix.split()
        return [n for n in self.root if _starts_with(n.words(), words)]

    def value(self, prefix: str) -> str | None:
        """The rest of the first top-level line starting with ``prefix``."""
        nodes = self.top_starting(prefix)
        if not nodes:
            return None
        return nodes[0].text[len(prefix) :].strip()

    # --------------------------------------------------------------- rendering
    def render_body(self) -> str:
        """The config as ``show running-config`` prints it, from the first line to ``end``."""
        out: list[str] = []
        previous_was_section = True
        for node in self.root:
            section = bool(node.children) or node.text.startswith("interface ")
            if section and not previous_was_section:
                out.append("!")
            _render(node, 0, out)
            if section:
                out.append("!")
                previous_was_section = True
            else:
                previous_was_section = False
        out.append("end")
        return "\n".join(out) + "\n"

    def flat_lines(self) -> list[str]:
        out: list[str] = []
        for node in self.root:
            _render(node, 0, out)
        return out


def _render(node: ConfigNode, depth: int, out: list[str]) -> None:
    out.append(" " * depth + node.text)
    for child in node.children:
        _render(child, depth + 1, out)


class ConfigApplier:
    """Feeds command lines into a tree with the modes of IOS configuration mode."""

    def __init__(
        self,
        tree: ConfigTree,
        physical: frozenset[str] = frozenset(),
        stp_root: stpconfig.RootView | None = None,
    ) -> None:
        self.tree = tree
        self.physical = physical
        self.stp_root = stp_root  # the current roots, for ``spanning-tree vlan N root primary``
        self.path: list[tuple[ConfigNode, str, int]] = []  # (node, mode, indent)
        self._banner: list[str] | None = None
        self._banner_delim = ""

    @property
    def mode(self) -> str:
        return self.path[-1][1] if self.path else "config"

    @property
    def in_banner(self) -> bool:
        return self._banner is not None

    def _children(self) -> list[ConfigNode]:
        return self.path[-1][0].children if self.path else self.tree.root

    # ------------------------------------------------------------------ input
    def feed_file_line(self, raw: str) -> ApplyResult:
        """One line of a config file: indentation decides the mode."""
        return self._counted(self._file_line(raw))

    def feed_interactive(self, line: str) -> ApplyResult:
        """One line typed in configuration mode: the mode decides, as on a terminal."""
        return self._counted(self._interactive(line))

    def _counted(self, result: ApplyResult) -> ApplyResult:
        if result.changed:
            self.tree.revision += 1
        return result

    def _file_line(self, raw: str) -> ApplyResult:
        if self._banner is not None:
            return self._feed_banner(self._banner, raw)
        stripped = raw.strip()
        if not stripped or stripped.startswith("!"):
            return ApplyResult()
        if stripped in ("Building configuration...",) or stripped.startswith(
            "Current configuration :"
        ):
            return ApplyResult()
        if stripped == "end":
            return ApplyResult(end=True)
        indent = len(raw) - len(raw.lstrip(" "))
        if indent == 0:
            self.path.clear()
        else:
            while self.path and self.path[-1][2] >= indent:
                self.path.pop()
        return self._command(stripped, indent)

    def _interactive(self, line: str) -> ApplyResult:
        if self._banner is not None:
            return self._feed_banner(self._banner, line)
        stripped = line.strip()
        if not stripped or stripped.startswith("!"):
            return ApplyResult()
        words = stripped.split()
        if words[0] == "end" or stripped == "\x1a":
            self.path.clear()
            return ApplyResult(end=True)
        if words[0] == "exit" and len(words) == 1:
            if not self.path:
                return ApplyResult(end=True)
            self.path.pop()
            return ApplyResult()
        # A command the current mode does not know goes to the parent modes; one that
        # no mode knows is refused where it was typed (IOS stays in the sub-mode).
        saved = list(self.path)
        while self.path and not known_in_mode(expand_config_words(words, self.mode), self.mode):
            self.path.pop()
        result = self._command(stripped, -1)
        if result.error == "invalid" and self.path != saved:
            self.path = saved
            mode_words = expand_config_words(words, self.mode)
            result.error_word = bad_word_index(mode_words, self.mode)
        return result

    # --------------------------------------------------------------- commands
    def _command(self, line: str, indent: int) -> ApplyResult:  # noqa: PLR0911, PLR0912 - IOS's cases
        words = expand_config_words(line.split(), self.mode)
        if not words:
            return ApplyResult()
        if words[0] == "banner" and len(words) >= 3:
            return self._start_banner(line)
        if not known_in_mode(words, self.mode):
            return ApplyResult(error="invalid", error_word=bad_word_index(words, self.mode))
        if is_incomplete(words):
            return ApplyResult(error="incomplete")
        if words[0] == "interface" or (words[0] == "no" and words[1:2] == ["interface"]):
            at = 1 if words[0] == "interface" else 2
            name = interface_name(" ".join(words[at:]))
            if name is None or (_is_physical_type(name) and name not in self.physical):
                return ApplyResult(error="invalid", error_word=at)
            if at == 2 and name in self.physical:
                return ApplyResult(error="invalid", error_word=at - 1)
            words = [*words[:at], name]
        refused = refuse_value(words)
        if refused is not None:
            error, message, word = refused
            return ApplyResult(error=error, message=message, error_word=word)
        if not self.path and words[0] == "username" and len(words) >= 2:
            return self._username(words)
        if not self.path and stpconfig.handles(words := stpconfig.expand(words)):
            return self._stp_vlan(words)
        negated = words[0] in ("no", "default")
        if not self.path and words[negated : negated + 2] == ["snmp-server", "user"]:
            return self._snmp_user(words)
        if not self.path and words[:2] in (["enable", "secret"], ["enable", "algorithm-type"]):
            return ApplyResult(changed=_set(self._children(), enable_secret_line(words)))
        if self.path and words[0] == "channel-group" and len(words) > 1:
            return self._channel_group(words)
        text = " ".join(words)
        submode = submode_of(words, self.mode)
        if submode is not None:
            node, created = _enter(self._children(), text)
            self.path.append((node, submode, indent))
            return ApplyResult(changed=created)
        if words[0] == "no" and len(words) > 1:
            changed = _negate(self._children(), words[1:], store=True)
            if changed and words[1:2] == ["interface"] and words[-1].startswith(portchannel.PREFIX):
                self._dissolve(words[-1][len(portchannel.PREFIX) :])
            return ApplyResult(changed=changed)
        if words[0] == "default" and len(words) > 1:
            return ApplyResult(changed=_negate(self._children(), words[1:], store=False))
        return ApplyResult(changed=_set(self._children(), text))

    def _username(self, words: list[str]) -> ApplyResult:
        """``username NAME ...``: merged into the user's one line, secrets hashed."""
        existing = next((n.text for n in self.tree.root if n.words()[:2] == words[:2]), None)
        encrypt = self.tree.find("service password-encryption") is not None
        try:
            text = merge_username(existing, words, encrypt_passwords=encrypt)
        except CredentialError as exc:
            return ApplyResult(error="refused", message=str(exc))
        return ApplyResult(changed=_set(self._children(), text))

    def _stp_vlan(self, words: list[str]) -> ApplyResult:
        """``spanning-tree vlan ...``: the per-VLAN lines rewritten as IOS stores them."""
        nodes = [n for n in self.tree.root if stpconfig.is_vlan_line(n.text)]
        outcome = stpconfig.vlan_command(words, [n.text for n in nodes], self.stp_root)
        if outcome.error or outcome.lines == [n.text for n in nodes]:
            return ApplyResult(
                error=outcome.error, message=outcome.message, error_word=outcome.error_word
            )
        where = (
            self.tree.root.index(nodes[0])
            if nodes
            else _insert_position(self.tree.root, "spanning-tree")
        )
        for node in nodes:
            self.tree.root.remove(node)
        self.tree.root[where:where] = [ConfigNode(text) for text in outcome.lines]
        return ApplyResult(changed=True)

    def _channel_group(self, words: list[str]) -> ApplyResult:
        """``channel-group N mode M``: the port joins bundle N; IOS creates Port-channelN."""
        member = self.path[-1][0]
        words, error, word = portchannel.check_channel_group(words, member.text.split()[-1])
        if error:
            return ApplyResult(error=error, error_word=word)
        changed = _set(member.children, " ".join(words))
        name = f"interface {portchannel.PREFIX}{words[1]}"
        if self.tree.find(name) is not None:
            return ApplyResult(changed=changed)
        channel, _created = _enter(self.tree.root, name)
        lines = portchannel.inherited([c.text for c in member.children])
        channel.children = [ConfigNode(line) for line in lines]
        message = f"Creating a port-channel interface {portchannel.PREFIX} {words[1]}"
        return ApplyResult(changed=True, message=message)

    def _dissolve(self, number: str) -> None:
        """``no interface Port-channelN``: its members leave the bundle too."""
        for node in self.tree.root:
            if node.text.startswith("interface "):
                node.children = [
                    c for c in node.children if not portchannel.is_member_line(c.text, number)
                ]

    def _snmp_user(self, words: list[str]) -> ApplyResult:
        """SNMPv3 users go to the tree's user table, never into its lines."""
        if words[0] in ("no", "default"):
            return ApplyResult(changed=snmpusers.remove(self.tree.snmp_users, words[1:]))
        error, word = snmpusers.store(self.tree.snmp_users, words)
        # always a change: IOS lists the line in every diff, the running config lacks it
        return ApplyResult(changed=not error, error=error, error_word=word)

    def _start_banner(self, line: str) -> ApplyResult:
        match = _BANNER_RE.match(line.strip())
        if match is None:
            return ApplyResult(error="invalid")
        kind, delim, rest = match.groups()
        self._banner_delim = delim
        self._banner = [f"banner {kind} ^C"]
        if delim in rest:
            body = rest.split(delim, 1)[0]
            return self._finish_banner(body)
        self._banner.append(rest)
        return ApplyResult(message=f"Enter TEXT message.  End with the character '{delim}'.")

    def _feed_banner(self, banner: list[str], raw: str) -> ApplyResult:
        """One line inside a banner (``banner`` is ``self._banner``, being filled)."""
        if self._banner_delim in raw:
            banner.append(raw.split(self._banner_delim, 1)[0])
            return self._finish_banner("\n".join(banner[1:]))
        banner.append(raw)
        return ApplyResult()

    def _finish_banner(self, body: str) -> ApplyResult:
        head = self._banner[0] if self._banner else "banner motd ^C"
        self._banner = None
        text = f"{head}{body}^C"
        return ApplyResult(changed=_set(self._children(), text))


def _is_physical_type(name: str) -> bool:
    logical = ("Loopback", "Vlan", "Port-channel", "Tunnel", "BDI", "Null", "BVI", "NVI")
    return not name.startswith(logical)


def _insert_position(children: list[ConfigNode], text: str) -> int:
    first = text.split(maxsplit=1)[0]
    if first == "description":
        return 0  # IOS prints an interface's description first
    number = portchannel.channel_number(text)
    if number is not None:  # Port-channels in number order, after the other interfaces
        later = [
            i for i, n in enumerate(children) if (portchannel.channel_number(n.text) or 0) > number
        ]
        if later:
            return later[0]
    last_same = -1
    for index, node in enumerate(children):
        if node.words()[:1] == [first]:
            last_same = index
    if last_same >= 0:
        return last_same + 1
    for index, node in enumerate(children):
        if node.words()[:1] == ["line"]:
            return index
    return len(children)


def _enter(children: list[ConfigNode], text: str) -> tuple[ConfigNode, bool]:
    for node in children:
        if node.text == text:
            return node, False
    node = ConfigNode(text)
    children.insert(_insert_position(children, text), node)
    return node, True


def _set(children: list[ConfigNode], text: str) -> bool:
    words = text.split()
    key = _line_key(text)
    changed = False
    # "ip address X" cancels a stored "no ip address" (and so on).
    for node in list(children):
        node_words = node.words()
        if node_words[0] == "no" and _starts_with(words, node_words[1:]):
            children.remove(node)
            changed = True
    if tuple(words) in _DEFAULT_ON:
        return changed  # the default is not printed
    for index, node in enumerate(children):
        if node.text == text:
            return changed
        if _line_key(node.text) == key:
            children[index] = ConfigNode(text, node.children)
            return True
    children.insert(_insert_position(children, text), ConfigNode(text))
    return True


def _negate(children: list[ConfigNode], words: list[str], *, store: bool) -> bool:
    key = _line_key(" ".join(words))
    single = len(key) < len(words)
    changed = False
    for node in list(children):
        node_words = node.words()
        if node_words[0] == "no":
            continue
        if _starts_with(node_words, words) or (single and _line_key(node.text) == key):
            children.remove(node)
            changed = True
    shown = _negation_shown(words)
    if store and shown is not None:
        text = "no " + " ".join(shown)
        if not any(n.text == text for n in children):
            children.insert(_insert_position(children, text), ConfigNode(text))
            changed = True
    return changed
