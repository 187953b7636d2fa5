"""The diffs of the simulator's configs, as IOS's archive prints them.

``show archive config differences OLD NEW`` (:func:`contextual_diff`) and
``show archive config incremental-diffs FILE`` (:func:`incremental_diff`, what
NAPALM's ``compare_config`` reads).
"""

from __future__ import annotations

import logging

from netwarden.lab.sim.config import ConfigApplier, ConfigNode, ConfigTree

logger = logging.getLogger(__name__)


def _normalize(line: str) -> str:
    return " ".join(line.split())


def contextual_diff(old: ConfigTree, new: ConfigTree) -> str:
    """``show archive config differences OLD NEW``: lines of NEW (+) and OLD (-)."""
    lines = _ctx_diff(old.root, new.root, 0)
    head = "!Contextual Config Diffs:"
    if not lines:
        return f"{head}\n!No changes were found\n"
    return head + "\n" + "\n".join(lines) + "\n"


def _ctx_diff(old: list[ConfigNode], new: list[ConfigNode], depth: int) -> list[str]:
    out: list[str] = []
    old_by_text = {n.text: n for n in old}
    new_texts = {n.text for n in new}
    indent = " " * depth
    for node in new:
        previous = old_by_text.get(node.text)
        if previous is None:
            _signed(node, "+", depth, out)
            continue
        sub = _ctx_diff(previous.children, node.children, depth + 1)
        if sub:
            out.append(indent + node.text)
            out.extend(sub)
    for node in old:
        if node.text not in new_texts:
            _signed(node, "-", depth, out)
    return out


def _signed(node: ConfigNode, sign: str, depth: int, out: list[str]) -> None:
    out.append(" " * depth + sign + node.text)
    for child in node.children:
        _signed(child, sign, depth + 1, out)


def incremental_diff(running: ConfigTree, text: str, physical: frozenset[str] = frozenset()) -> str:
    """``show archive config incremental-diffs FILE``: the file's lines that change running."""
    scratch = running.copy()
    applier = ConfigApplier(scratch, physical)
    out: list[str] = []
    printed_context: list[str] = []
    for raw in text.splitlines():
        result = applier.feed_file_line(raw)
        if result.end:
            break
        if applier.in_banner or not (result.changed or result.error):
            continue
        stripped = raw.strip()
        context = [node.text for node, _mode, _indent in applier.path]
        if stripped and context and context[-1] == _normalize(stripped):
            context = context[:-1]  # the line entered a mode: it is its own context
        for depth, parent in enumerate(context):
            if printed_context[depth : depth + 1] != [parent]:
                out.append(" " * depth + parent)
        printed_context = context + ([_normalize(stripped)] if result.changed else [])
        if raw.startswith("banner"):
            banner = scratch.top_starting(" ".join(raw.split()[:2]))
            out.append(banner[0].text if banner else stripped)
        else:
            out.append(" " * len(context) + _normalize(stripped))
    if not out:
        return "!List of Commands:\nend\n!No changes were found\n"
    return "!List of Commands:\n" + "\n".join(out) + "\nend\n"
