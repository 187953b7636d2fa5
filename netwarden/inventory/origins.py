"""Where inventory values came from: Ansible's origin tags, key paths, error origins.

ansible-core 2.19 tags every value it loads with ``Origin(path, line)``; these
helpers turn tags into :class:`Source` objects so every problem names its file
and line (docs/decisions.md, decision 5).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from netwarden.errors import InventoryError
from netwarden.inventory.models import Source
from netwarden.inventory.yamlguard import MAX_VALUES, YamlLimitError, plain_data


def display_path(path: str | os.PathLike[str]) -> str:
    """A path relative to the working directory when it is below it (shorter messages)."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def origin_of(value: object) -> Source:
    """The file and line Ansible tagged ``value`` with (``Source()`` when untagged)."""
    from ansible._internal._datatag._tags import Origin  # noqa: PLC0415  (heavy import, load lazily)

    tag = Origin.get_tag(value)
    if tag is None or not tag.path:
        return Source()
    return Source(file=display_path(tag.path), line=tag.line_num or 0)


def origin_at(raw: object, loc: Sequence[str | int]) -> Source:
    """The origin of the deepest value along ``loc`` in ``raw`` (for a missing key, its parent)."""
    best = origin_of(raw)
    node = raw
    for part in loc:
        # Two branches, not one `or`: mypy narrows the index type per branch.
        if isinstance(node, Mapping) and part in node:  # noqa: SIM114
            node = node[part]
        elif isinstance(node, list | tuple) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            break
        here = origin_of(node)
        if here.file:
            best = here
    return best


def key_path(prefix: str, loc: Iterable[str | int]) -> str:
    """``policy`` + ``("ntp", "servers", 0)`` -> ``policy.ntp.servers[0]``."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def error_origin(exc: BaseException) -> Source | None:
    """The file and line an Ansible error (or one it wraps) points at."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        obj = getattr(current, "obj", None)
        path = getattr(obj, "path", None)
        if path:
            return Source(file=display_path(path), line=getattr(obj, "line_num", 0) or 0)
        current = current.__cause__ or current.__context__
    return None


def is_scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


def plain(value: Any, *, limit: int = MAX_VALUES) -> Any:
    """Ansible's tagged containers as plain dicts/lists/str (pydantic is strict about types).

    The walk is bounded (``limit`` values, ``yamlguard.MAX_DEPTH`` levels:
    :func:`~netwarden.inventory.yamlguard.plain_data`): YAML aliases make shared,
    even recursive, structures that a walk would otherwise expand without end.
    ``yamlguard`` refuses such files before Ansible reads them; this is the
    second line of defence.

    Raises:
        InventoryError: the value is larger or deeper than the limits; names its file and line.

    Examples:
        >>> plain({"a": ("x", 1, None)})
        {'a': ['x', 1, None]}
    """
    try:
        return plain_data(value, limit=limit)
    except YamlLimitError as exc:
        raise InventoryError(f"{origin_of(exc.node)}: {exc}") from None


# Nested entities that carry their own ``src``: model name -> paths ("*" = every item).
NESTED_SOURCES: dict[str, tuple[tuple[str, ...], ...]] = {
    "Site": (("zones", "*"),),
    "FlowPolicy": (("rules", "*"),),
    "Compliance": (("waivers", "*"),),
    "Device": (("interfaces", "*"),),
}


def attach_sources(data: Any, raw: Any, path: tuple[str, ...]) -> None:
    """Set ``src`` on the plain mappings at ``path`` from the tagged raw values beside them."""
    if not path:
        if isinstance(data, dict):
            data["src"] = origin_of(raw)
        return
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(data, dict) and isinstance(raw, Mapping):
            for key, value in data.items():
                attach_sources(value, raw.get(key), rest)
        elif isinstance(data, list) and isinstance(raw, list | tuple):
            for value, raw_value in zip(data, raw, strict=False):
                attach_sources(value, raw_value, rest)
    elif isinstance(data, dict) and isinstance(raw, Mapping) and head in data:
        attach_sources(data[head], raw.get(head), rest)
