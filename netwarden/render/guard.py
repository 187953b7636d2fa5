"""The render-time guard: every template value is one printable line unless declared multi-line.

A line break in a value would become a device command. The inventory models
refuse such values with file and line; this module refuses whatever slips
through (a model built without validation, a role variable set in Ansible),
twice:

- :func:`check_template_vars` walks the variables before rendering and names
  device and variable (both routes: ``netwarden render`` and the role's lookup
  plugin);
- :func:`finalize` is the Jinja environment's hook: it refuses any expression
  that would still print such a value (the caller names device, template and
  line from :class:`UnsafeOutputError`).

Examples:
    >>> check_template_vars("sw1", {"ios_baseline_device": {"model": "C9200L"}})
    >>> injected = {"ios_baseline_device": {"model": "C9200L\\nreload"}}
    >>> check_template_vars("sw1", injected)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    netwarden.errors.RenderError: sw1: template variable ios_baseline_device.model contains a line feed ...
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from netwarden.errors import RenderError
from netwarden.inventory.text import IOS_BANNER_DELIMITER, IOS_TEXT_MAX, text_problem

DEVICE_VAR = "ios_baseline_device"
"""The template variable holding one device's context (:mod:`netwarden.render.context`)."""
BANNER_LANGUAGES = ("ar", "en", "fr")
MULTILINE_VARS = frozenset(f"{DEVICE_VAR}.banners.{lang}" for lang in BANNER_LANGUAGES)
"""The template variables that may hold several lines (the only ones)."""
IN_BANNER_VARS = MULTILINE_VARS | {f"{DEVICE_VAR}.hostname", f"{DEVICE_VAR}.site.city"}
"""Variables printed inside an IOS banner, where the delimiter's first character ends it."""
_INDEX = re.compile(r"\[\d+\]")


class MultiLine(str):
    """A template value declared multi-line (:data:`MULTILINE_VARS`): ``finalize`` lets its line feeds through."""

    __slots__ = ()


class UnsafeOutputError(ValueError):
    """A template expression would print a line break or a control character."""

    def __init__(self, problem: str, value: str) -> None:
        self.problem = problem
        self.value = value
        super().__init__(problem)


def finalize(value: Any) -> Any:
    """Jinja's ``finalize``: every ``{{ }}`` output is one printable line unless declared multi-line.

    Raises:
        UnsafeOutputError: the value holds a line break or a control character
            (or, declared multi-line, the banner delimiter).
    """
    if isinstance(value, str):
        multiline = isinstance(value, MultiLine)
        problem = text_problem(
            value, multiline=multiline, forbid=IOS_BANNER_DELIMITER if multiline else ""
        )
        if problem is not None:
            raise UnsafeOutputError(problem, value)
    return value


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, string) for every string in ``value``, mapping keys included."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(key, f"{path} (key)")
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _strings(item, f"{path}[{i}]")


def check_template_vars(device: str, variables: Mapping[str, Any]) -> None:
    """Refuse any template variable that is not one printable line (unless declared multi-line).

    The render-time guard behind the inventory models' own checks: it names the
    device and the variable, and it runs on both routes (``netwarden render``
    and the role's lookup plugin).

    Raises:
        RenderError: a variable holds a line break, a control character, the
            banner delimiter where it would end a banner, or (one-line values)
            more than :data:`~netwarden.inventory.text.IOS_TEXT_MAX` characters.
    """
    for path, text in _strings(variables, ""):
        generic = _INDEX.sub("", path)
        multiline = generic in MULTILINE_VARS
        problem = text_problem(
            text,
            multiline=multiline,
            forbid=IOS_BANNER_DELIMITER if generic in IN_BANNER_VARS else "",
            max_length=None if multiline else IOS_TEXT_MAX,
        )
        if problem is not None:
            raise RenderError(
                f"{device}: template variable {path} {problem}; refusing to render it "
                f"(got {text[:80]!r}{'...' if len(text) > 80 else ''})"
            )
