"""The predicate API: what a platform module needs to register its parser and its checks.

A platform module (:mod:`netwarden.compliance.platforms`) registers a
:class:`PlatformDriver` with :func:`register_platform` (how its configs are
parsed, which pack audits them) and its checks with :func:`predicate`. A
predicate is a small function ``(ctx, args) -> Outcome``: ``ctx`` is the
:class:`AuditContext` of one device, ``args`` the rule's arguments validated by
the predicate's pydantic model when the pack is loaded.

This module knows nothing of the engine or of any platform: platform modules
import it, and the engine imports the platforms (once), so the registry is
filled before a pack is compiled; no import goes the other way.

Examples:
    >>> from netwarden.compliance.models import Status
    >>> passed("ok").status is Status.PASS
    True
    >>> absent("sw1.cfg", "no `aaa new-model`").line  # the whole file was searched
    0
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from netwarden.compliance.models import ComplianceError, Evidence, Status
from netwarden.compliance.sources import Artifact, Target
from netwarden.inventory.models import Device, Inventory
from netwarden.ios.sanitize import redact_line


@dataclass(slots=True)
class Outcome:
    """What a predicate decided: a status, a message in plain words, the lines that decided it."""

    status: Status
    message: str = ""
    evidence: list[Evidence] = field(default_factory=list)


def passed(message: str = "", evidence: Iterable[Evidence] = ()) -> Outcome:
    return Outcome(Status.PASS, message, list(evidence))


def failed(message: str, evidence: Iterable[Evidence] = ()) -> Outcome:
    return Outcome(Status.FAIL, message, list(evidence))


def not_applicable(message: str) -> Outcome:
    return Outcome(Status.NOT_APPLICABLE, message)


def evidence(file: str, line: int, text: str, note: str = "") -> Evidence:
    """Evidence for one config line; the text is redacted here, once, for every caller."""
    return Evidence.trusted(file=file, line=line, text=redact_line(text), note=note)


def absent(file: str, note: str) -> Evidence:
    """Evidence that something is missing: the whole file was searched (line 0)."""
    return Evidence.trusted(file=file, line=0, text="", note=note)


@dataclass(slots=True)
class AuditContext:
    """What a predicate may look at for one device."""

    target: Target
    doc: Any
    device: Device | None = None
    inventory: Inventory | None = None
    startup: Any = None
    intended: Any = None
    memo: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return self.target.running.path


class PlatformDriver(Protocol):
    """How a platform's configs are parsed and which pack audits them.

    ``parse(artifact, extra)`` returns the document predicates receive as
    ``ctx.doc`` (``extra``: further files of the device, e.g. a Linux server's
    command outputs); it raises ``ValueError`` (or a subclass) on input it
    cannot read.
    """

    name: str
    pack: str

    def parse(self, artifact: Artifact, extra: Mapping[str, Artifact]) -> Any: ...


PredicateFn = Callable[[AuditContext, Any], Outcome]


@dataclass(frozen=True, slots=True)
class PredicateSpec:
    """A registered predicate: its name in the packs, the function, its arguments' model."""

    name: str
    fn: PredicateFn
    args: type[BaseModel] | None


_PREDICATES: dict[str, PredicateSpec] = {}
_DRIVERS: dict[str, PlatformDriver] = {}
F = TypeVar("F", bound=PredicateFn)


def predicate(name: str, args: type[BaseModel] | None = None) -> Callable[[F], F]:
    """Register a predicate under ``name``; ``args`` validates its arguments at pack load."""

    def deco(fn: F) -> F:
        if name in _PREDICATES:
            raise ComplianceError(f"predicate {name!r} is registered twice")
        _PREDICATES[name] = PredicateSpec(name, fn, args)
        return fn

    return deco


def register_platform(driver: PlatformDriver) -> None:
    """Make ``driver`` the one for its platform (a pack's ``platform`` names it)."""
    _DRIVERS[driver.name] = driver


def drivers() -> dict[str, PlatformDriver]:
    """The platform drivers registered (a copy), by platform name.

    Only the platform modules imported so far have registered: importing
    :mod:`netwarden.compliance.engine` imports :mod:`netwarden.compliance.platforms`,
    so from there on this is every built-in platform.
    """
    return dict(_DRIVERS)


def predicate_specs() -> Mapping[str, PredicateSpec]:
    """The predicates registered (a read-only view), by name; as complete as :func:`drivers`."""
    return MappingProxyType(_PREDICATES)
