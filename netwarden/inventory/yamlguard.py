"""Limits on the YAML netwarden lets Ansible read: size, alias expansion, nesting, duplicate keys.

Ansible's loader (PyYAML underneath) builds an alias as a reference to the
anchored value, so a "billion laughs" file loads in microseconds, and then
every walk over the data (netwarden's :func:`~netwarden.inventory.origins.plain`,
pydantic, Ansible's own merging) expands it: nine lines of YAML become 10^9
values and gigabytes of memory. It also keeps only the last of two equal keys
in a mapping, with a warning nobody reads, so a second ``platform: linux`` in a
host_vars file silently changes the device.

So before Ansible reads an inventory, every YAML file it would read is scanned
here, as a stream of parser events (no values are built): a file larger than
:data:`MAX_FILE_BYTES`, aliases that would add more than
:data:`MAX_ALIAS_VALUES` values, an alias to a value that contains it (a
recursive structure), nesting deeper than :data:`MAX_DEPTH`, and duplicate keys
(both lines named) are findings with file and line. This is not a second YAML
parser for values: Ansible still reads every value (vault included).

Examples:
    >>> [str(f) for f in scan_yaml_text("a: 1\\nb: 2\\na: 3\\n")]
    ["line 3: a: duplicate key 'a' (also on line 1); Ansible would silently keep only the last one"]
    >>> bomb = "a: &a [x, x]\\nb: &b [*a, *a]\\nc: [*b, *b]\\n"
    >>> [f.fatal for f in scan_yaml_text(bomb, max_alias_values=10)]
    [True]
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 8 * 1024 * 1024
"""The largest YAML file netwarden lets Ansible read (a 200-office inventory's largest is 60 kB)."""
MAX_ALIAS_VALUES = 100_000
"""How many values aliases may add to one file, all aliases together (a bomb adds billions)."""
MAX_DEPTH = 64
"""The deepest nesting of mappings and lists (an inventory needs about 6)."""
MAX_VALUES = 500_000
"""How many values one walk over loaded data may visit (a second line of defence)."""

YAML_SUFFIXES = ("", ".yml", ".yaml", ".json")
"""File suffixes Ansible reads as variables (host_group_vars) or YAML inventory."""

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"


class YamlLimitError(ValueError):
    """A walk over loaded data went past :data:`MAX_VALUES` values or :data:`MAX_DEPTH` levels.

    ``node``: the value the walk stopped at (set by :func:`plain_data`), for its origin.
    """

    node: Any = None


@dataclass(frozen=True)
class YamlFinding:
    """One finding in one YAML file: the line, the key path, what is wrong.

    ``fatal`` findings (size, alias expansion, recursion, depth) mean the file
    must not be handed to Ansible at all.
    """

    line: int
    key: str
    message: str
    fatal: bool = False

    def __str__(self) -> str:
        return f"line {self.line}: {self.key or '(file)'}: {self.message}"


@dataclass
class _Frame:
    """An open mapping or sequence while scanning."""

    path: str
    is_map: bool
    size: int = 1
    anchor: str | None = None
    index: int = 0
    key_text: str = ""
    expecting_key: bool = True
    keys: dict[Any, int] = field(default_factory=dict)

    def child_path(self) -> str:
        if self.is_map:
            return f"{self.path}.{self.key_text}" if self.path else self.key_text
        return f"{self.path}[{self.index}]"


class _Scan:
    """State of one file's scan; :meth:`run` yields findings, the fatal one last."""

    def __init__(self, text: str, max_alias_values: int, max_depth: int) -> None:
        self.text = text
        self.max_alias_values = max_alias_values
        self.max_depth = max_depth
        self.anchors: dict[str, int] = {}
        self.stack: list[_Frame] = []
        self.aliased = 0
        self.resolver: Any = yaml.resolver.Resolver()
        self.constructor: Any = yaml.constructor.SafeConstructor()

    def _key_identity(self, event: yaml.ScalarEvent) -> tuple[Any, bool]:
        """The key as Ansible's dict would hold it (``1`` and ``1.0`` are one key), and if it is a merge."""
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.resolver.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag == _MERGE_TAG:
            return None, True
        if tag == _STR_TAG:
            return event.value, False
        try:
            value = self.constructor.construct_object(yaml.ScalarNode(tag, event.value))
            hash(value)
        except (yaml.YAMLError, TypeError, ValueError):
            return event.value, False
        return value, False

    def _add(self, size: int, line: int, key_event: yaml.ScalarEvent | None) -> YamlFinding | None:
        """Account a finished node of ``size`` values in its parent; a duplicate key is a finding."""
        if not self.stack:
            return None
        top = self.stack[-1]
        top.size += size
        if not top.is_map:
            top.index += 1
            return None
        if not top.expecting_key:
            top.expecting_key = True
            return None
        top.expecting_key = False
        top.key_text = "?"
        return self._key(top, line, key_event) if key_event is not None else None

    def _key(self, top: _Frame, line: int, key_event: yaml.ScalarEvent) -> YamlFinding | None:
        """Record a mapping key; the second of two equal keys is a finding naming both lines."""
        identity, merge = self._key_identity(key_event)
        top.key_text = "<<" if merge else key_event.value
        if merge:
            return None
        first = top.keys.get(identity)
        if first is not None:
            return YamlFinding(
                line,
                top.child_path(),
                f"duplicate key {key_event.value!r} (also on line {first}); "
                "Ansible would silently keep only the last one",
            )
        top.keys[identity] = line
        return None

    def _value_path(self) -> str:
        return self.stack[-1].child_path() if self.stack else ""

    def run(self) -> Iterator[YamlFinding]:
        try:
            for event in yaml.parse(self.text, Loader=_Loader):
                found = self._event(event)
                if found is not None:
                    yield found
                    if found.fatal:
                        return
        except yaml.YAMLError as exc:
            # Not valid YAML (or not YAML at all): Ansible reports it with its own message.
            logger.debug("YAML scan stopped: %s", exc)

    def _event(self, event: yaml.Event) -> YamlFinding | None:  # noqa: PLR0911  (one branch per event kind)
        line = event.start_mark.line + 1 if event.start_mark is not None else 0
        if isinstance(event, yaml.DocumentStartEvent):
            self.anchors.clear()
            self.stack.clear()
            return None
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            if len(self.stack) >= self.max_depth:
                return YamlFinding(
                    line,
                    self._value_path(),
                    f"nested deeper than {self.max_depth} levels; expected an inventory's "
                    "few levels of mappings and lists",
                    fatal=True,
                )
            path = self._value_path()
            self.stack.append(
                _Frame(
                    path=path,
                    is_map=isinstance(event, yaml.MappingStartEvent),
                    anchor=event.anchor,
                )
            )
            return None
        if isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            done = self.stack.pop()
            if done.anchor is not None:
                self.anchors[done.anchor] = done.size
            return self._add(done.size, line, None)
        if isinstance(event, yaml.ScalarEvent):
            if event.anchor is not None:
                self.anchors[event.anchor] = 1
            return self._add(1, line, event)
        if isinstance(event, yaml.AliasEvent):
            return self._alias(event, line)
        return None

    def _alias(self, event: yaml.AliasEvent, line: int) -> YamlFinding | None:
        name = str(event.anchor)
        path = self._value_path()
        if any(f.anchor == name for f in self.stack):
            return YamlFinding(
                line,
                path,
                f"alias *{name} refers to a value that contains it (a recursive structure); "
                "expected plain values",
                fatal=True,
            )
        size = self.anchors.get(name, 1)
        self.aliased += size
        if self.aliased > self.max_alias_values:
            return YamlFinding(
                line,
                path,
                f"YAML aliases expand this file by more than {self.max_alias_values} values "
                f"(alias *{name} alone adds {size}); refused as an alias bomb: expected plain "
                "values or a few aliases",
                fatal=True,
            )
        return self._add(size, line, None)


def scan_yaml_text(
    text: str, *, max_alias_values: int = MAX_ALIAS_VALUES, max_depth: int = MAX_DEPTH
) -> list[YamlFinding]:
    """Duplicate keys, alias bombs, recursive aliases and deep nesting in one YAML text."""
    return list(_Scan(text, max_alias_values, max_depth).run())


def scan_yaml_file(
    path: Path,
    read: Callable[[Path], str] | None = None,
    *,
    max_bytes: int = MAX_FILE_BYTES,
    max_alias_values: int = MAX_ALIAS_VALUES,
) -> list[YamlFinding]:
    """:func:`scan_yaml_text` of a file, after a size check; ``read`` decrypts (a vault) if given.

    Raises:
        OSError: the file cannot be read.
    """
    size = path.stat().st_size
    if size > max_bytes:
        return [_too_big(size, max_bytes)]
    text = read(path) if read is not None else path.read_text(encoding="utf-8", errors="replace")
    if len(text) > max_bytes:
        return [_too_big(len(text), max_bytes)]
    return scan_yaml_text(text, max_alias_values=max_alias_values)


def _too_big(size: int, limit: int) -> YamlFinding:
    return YamlFinding(
        1,
        "",
        f"the file is {size} bytes, more than the {limit} netwarden reads; expected an "
        "inventory file (split it, or remove what is not inventory)",
        fatal=True,
    )


def inventory_yaml_files(root: Path) -> list[Path]:
    """The files Ansible may read as YAML for the inventory ``root`` (a directory or a file).

    The inventory file(s) themselves, and everything under ``group_vars/`` and
    ``host_vars/`` beside them, skipping hidden files and backups (``~``), as
    Ansible's ``host_group_vars`` plugin does.
    """
    from ansible.inventory.manager import IGNORED  # noqa: PLC0415  (heavy import, load lazily)

    base = root if root.is_dir() else root.parent
    if root.is_dir():
        found = [
            p
            for p in sorted(root.iterdir())
            if p.is_file()
            and not p.name.startswith(".")
            and not IGNORED.search(p.name.encode())
            and p.suffix in YAML_SUFFIXES
        ]
    else:
        found = [root]
    for sub in ("group_vars", "host_vars"):
        top = base / sub
        if not top.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                path = Path(dirpath) / name
                if name.startswith(".") or name.endswith("~") or path.suffix not in YAML_SUFFIXES:
                    continue
                found.append(path)
    return found


def walk_budget(limit: int = MAX_VALUES, max_depth: int = MAX_DEPTH) -> Callable[[int], None]:
    """A counter for a recursive walk: call it with the depth at every value visited.

    Raises :class:`YamlLimitError` past ``limit`` values or ``max_depth`` levels,
    so a walk over aliased (or recursive) data stops early instead of expanding it.

    Examples:
        >>> spend = walk_budget(limit=2)
        >>> spend(0); spend(1)
        >>> spend(1)
        Traceback (most recent call last):
        ...
        netwarden.inventory.yamlguard.YamlLimitError: more than 2 values (YAML aliases expanding?); expected an inventory-sized value
    """
    left = [limit]

    def spend(depth: int) -> None:
        left[0] -= 1
        if left[0] < 0:
            raise YamlLimitError(
                f"more than {limit} values (YAML aliases expanding?); expected an inventory-sized value"
            )
        if depth > max_depth:
            raise YamlLimitError(
                f"nested deeper than {max_depth} levels (a recursive YAML alias?); "
                "expected an inventory's few levels"
            )

    return spend


def plain_scalar(value: Any) -> Any:
    """A loaded scalar as a plain value: exact bool, int, float (Ansible's tags dropped), None, else ``str``.

    Examples:
        >>> [type(plain_scalar(v)).__name__ for v in (True, 3, 2.5, None, "x")]
        ['bool', 'int', 'float', 'NoneType', 'str']
    """
    for kind in (bool, int, float):
        if isinstance(value, kind):
            return kind(value)
    return None if value is None else str(value)


def plain_data(
    value: Any,
    scalar: Callable[[Any], Any] = plain_scalar,
    *,
    limit: int = MAX_VALUES,
    max_depth: int = MAX_DEPTH,
) -> Any:
    """Loaded (tagged) data as plain dicts (``str`` keys) and lists, each scalar through ``scalar``.

    The walk is bounded (:func:`walk_budget`): YAML aliases make shared, even
    recursive, structures that a walk would otherwise expand without end.

    Raises:
        YamlLimitError: past ``limit`` values or ``max_depth`` levels; its
            ``node`` is the value the walk stopped at.

    Examples:
        >>> plain_data({"a": ("x", 1, None)})
        {'a': ['x', 1, None]}
    """
    spend = walk_budget(limit, max_depth)

    def walk(node: Any, depth: int) -> Any:
        try:
            spend(depth)
        except YamlLimitError as exc:
            exc.node = node
            raise
        if isinstance(node, Mapping):
            return {str(k): walk(v, depth + 1) for k, v in node.items()}
        if isinstance(node, list | tuple):
            return [walk(v, depth + 1) for v in node]
        return scalar(node)

    return walk(value, 0)
