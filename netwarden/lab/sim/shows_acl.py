"""Show commands read from the config: access lists, SNMPv3 users, the MOTD banner."""

from __future__ import annotations

import re
from collections.abc import Sequence

from netwarden.lab.sim.showmodel import ShowContext

_NAMED = re.compile(r"ip access-list (standard|extended) (\S+)$")
_NUMBERED = re.compile(r"access-list (\d+) (.+)$")
_USER = re.compile(
    r"snmp-server user (?P<name>\S+) (?P<group>\S+) (?:remote \S+ (?:udp-port \d+ )?)?"
    r"v3(?: encrypted)?(?: auth (?P<auth>md5|sha\S*) \S+)?(?: priv (?P<priv>\S+)(?: (?P<bits>128|192|256))? \S+)?"
    r"(?: access (?P<acl>\S+))?"
)


def _acl_kind(name: str, declared: str = "") -> str:
    if declared:
        return declared
    number = int(name)
    return "standard" if number < 100 or 1300 <= number < 2000 else "extended"


def _standard_entry(words: list[str]) -> str:
    """IOS's rendering of a standard entry: ``permit 10.0.0.0, wildcard bits 0.0.0.255``."""
    action, rest = words[0], words[1:]
    if len(rest) >= 2 and rest[0] == "host":
        return f"{action} {rest[1]}"
    if len(rest) >= 2 and re.fullmatch(r"[\d.]+", rest[1]):
        tail = " ".join(rest[2:])
        return f"{action} {rest[0]}, wildcard bits {rest[1]}" + (f" {tail}" if tail else "")
    return " ".join(words)


def acls(ctx: ShowContext) -> list[tuple[str, str, list[str]]]:
    """(name, "standard"|"extended", entries) of the config's IPv4 access lists, in order."""
    found: dict[str, tuple[str, str, list[str]]] = {}
    current: list[str] | None = None
    for line in ctx.running_config.splitlines():
        named = _NAMED.match(line)
        numbered = _NUMBERED.match(line)
        if named:
            kind, name = named.groups()
            current = found.setdefault(name, (name, kind, []))[2]
        elif numbered:
            name, entry = numbered.groups()
            found.setdefault(name, (name, _acl_kind(name), []))[2].append(entry)
            current = None
        elif current is not None and line.startswith(" "):
            words = line.split()
            if words[0].isdigit():
                words = words[1:]
            if words and words[0] in ("permit", "deny"):
                current.append(" ".join(words))
        else:
            current = None
    return list(found.values())


def access_lists(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show access-lists [NAME]`` (and ``show ip access-lists``): sequence numbers by 10."""
    if len(args) > 1:
        return None
    lines: list[str] = []
    selected = [a for a in acls(ctx) if not args or a[0] == args[0]]
    for name, kind, entries in selected:
        lines.append(f"{kind.capitalize()} IP access list {name}")
        for number, entry in enumerate(entries, start=1):
            text = _standard_entry(entry.split()) if kind == "standard" else entry
            lines.append(f"    {number * 10} {text}")
    return "\n".join(lines)


def snmp_user(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show snmp user``: the SNMPv3 users (kept apart from the running config, as on IOS).

    Empty output when there are none.
    """
    if len(args) > 1:
        return None
    engine = "80000009030000" + ctx.base_mac.replace(".", "").upper()
    blocks: list[str] = []
    for line in ctx.snmp_users:
        match = _USER.match(line)
        if match is None or (args and match["name"] != args[0]):
            continue
        auth = (match["auth"] or "none").upper().replace("SHA-", "SHA")
        priv = match["priv"] or "none"
        if priv == "aes":
            priv = f"AES{match['bits'] or 128}"
        acl = f" access-list: {match['acl']}" if match["acl"] else ""
        blocks.append(
            "\n".join(
                [
                    f"User name: {match['name']}",
                    f"Engine ID: {engine}",
                    f"storage-type: nonvolatile        active{acl}",
                    f"Authentication Protocol: {auth}",
                    f"Privacy Protocol: {priv.upper()}",
                    f"Group-name: {match['group']}",
                    "",
                ]
            )
        )
    return "\n".join(blocks)


def banner_motd(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show banner motd``: the banner's text, without its delimiters (nothing when unset)."""
    if args:
        return None
    lines = ctx.running_config.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("banner motd "):
            first = line.split(None, 2)[2]
            delimiter = "^C" if first.startswith("^C") else first[:1]
            body = first[len(delimiter) :]
            if delimiter in body:
                return body.split(delimiter, 1)[0]
            text = [body] if body else []
            for rest in lines[index + 1 :]:
                if delimiter in rest:
                    tail = rest.split(delimiter, 1)[0]
                    return "\n".join([*text, tail] if tail else text)
                text.append(rest)
            return "\n".join(text)
    return ""
