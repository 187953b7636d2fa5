"""The detector contract, its context, and the registry detectors are found in.

A detector is a small class registered with :func:`register`; nothing imports a
detector by name (``detectors/__init__.py`` imports the built-in modules so their
``@register`` runs). The engine builds each enabled detector once per run:

    cls = registry()["port_scan"]
    det = cls(settings, ctx)        # settings: cls.Settings validated from the config

Contract (every built-in follows it; a plugin must too):

- ``name``: the detector's name, as it appears in events, metrics and the config.
- ``Settings``: a frozen pydantic model (subclass of
  :class:`~collectors.auditor.config.DetectorSettings`) holding the thresholds,
  with defaults documented and justified in ``docs/auditor.md``.
- ``needs_inventory``: True when the detector cannot work without the inventory
  (``policy_violation``, ``unknown_device``); the engine skips it when there is none.
- ``process(batch, ctx)``: called once per :class:`~collectors.auditor.batch.Batch`,
  in capture order. Work on whole arrays (numpy masks over ``batch.packets``);
  Python loops only over what must be kept (hosts, flows, SYNs, the few payloads
  a detector parses). Packets with ``error != 0`` are not to be trusted.
- ``expire(now)``: drop state older than the detector's windows and finalise what
  timed out (e.g. an unanswered SYN becomes a failed attempt). Called by the engine
  after every batch with the batch's last timestamp, and once at the end of input
  with ``math.inf``: then every pending observation is finalised. State is bounded
  (every table has a maximum size and evicts the oldest entries).
- Events: a detector never writes events itself. It calls ``ctx.report(...)`` with
  an incident key; the context's :class:`~collectors.auditor.events.IncidentTracker`
  turns reports into one event per incident (updated, not repeated), applies the
  allowlist, and hands events to the :class:`~collectors.auditor.events.EventSink` s.
  ``summary`` and ``evidence`` may be given as functions building them (called only
  when the report's content is written): a detector re-reporting a growing incident
  every batch then formats it only when an update is emitted. Cheaper still, such a
  detector may ask ``ctx.due(...)`` (a lookup) and skip the reports that would be
  neither emitted nor open an incident, provided it reports the skipped state before
  it forgets it (window expiry, eviction, ``expire(inf)``) and by the packet time
  ``ctx.report_by(...)`` gives at the latest.
- Secrets never leave a detector: evidence names the kind of credential and at
  most ``ctx.fingerprint(secret)``, a salted hash prefix.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, Unpack, runtime_checkable

from collectors.auditor.batch import Batch
from collectors.auditor.config import DetectorSettings
from collectors.auditor.events import Report, Severity

if TYPE_CHECKING:
    from netwarden.inventory.flows import FlowPolicyEngine
    from netwarden.inventory.models import Inventory

logger = logging.getLogger(__name__)


class Reporter(Protocol):
    """What a detector reports to (an :class:`~collectors.auditor.events.IncidentTracker`)."""

    def report(self, *, detector: str, key: Iterable[object], **report: Unpack[Report]) -> object:
        """Create or update the incident ``(detector, *key)`` (the keywords: ``Report``)."""

    def due(
        self, *, detector: str, key: Iterable[object], ts: float, severity: Severity, count: int
    ) -> bool: ...

    def report_by(self, *, detector: str, key: Iterable[object]) -> float: ...


@dataclass
class DetectorContext:
    """What every detector may use: where it runs, the inventory, and where to report.

    ``inventory``/``policy`` are None when the auditor runs without an inventory
    (e.g. on foreign captures); detectors that need them are then not started.
    ``shared`` holds helpers several detectors use (one instance per run).
    """

    reporter: Reporter
    site: str | None = None
    sensor: str = ""
    inventory: Inventory | None = None
    policy: FlowPolicyEngine | None = None
    shared: dict[str, Any] = field(default_factory=dict)
    salt: bytes = field(default_factory=lambda: secrets.token_bytes(16), repr=False)

    def report(self, detector: str, key: Iterable[object], **report: Unpack[Report]) -> None:
        """Report on the incident ``(detector, *key)``: ``ts``, ``severity``, ``summary`` and
        the optional keywords of :class:`~collectors.auditor.events.Report`."""
        self.reporter.report(detector=detector, key=key, **report)

    def due(
        self, detector: str, key: Iterable[object], *, ts: float, severity: Severity, count: int
    ) -> bool:
        """Whether a report with this total ``count`` would be written now (see the contract)."""
        return self.reporter.due(detector=detector, key=key, ts=ts, severity=severity, count=count)

    def report_by(self, detector: str, key: Iterable[object]) -> float:
        """The packet time by which an update skipped as not due must be reported anyway."""
        return self.reporter.report_by(detector=detector, key=key)

    def fingerprint(self, secret: bytes) -> str:
        """A salted hash prefix of a secret: tells equal secrets apart within a run, reveals nothing."""
        return hashlib.blake2s(secret, key=self.salt, digest_size=8).hexdigest()[:8]

    def shared_helper(self, name: str, factory: Callable[[], T]) -> T:
        """The run's single instance of a helper several detectors share."""
        if name not in self.shared:
            self.shared[name] = factory()
        helper: T = self.shared[name]
        return helper


T = TypeVar("T")


@runtime_checkable
class Detector(Protocol):
    """One detector (see the module docstring for the whole contract)."""

    name: ClassVar[str]
    Settings: ClassVar[type[DetectorSettings]]
    needs_inventory: ClassVar[bool]

    def __init__(self, settings: Any, ctx: DetectorContext) -> None: ...

    def process(self, batch: Batch, ctx: DetectorContext) -> None:
        """Consume one batch of decoded packets."""

    def expire(self, now: float) -> None:
        """Drop/finalise state older than the windows at packet time ``now`` (``inf`` at the end)."""


_REGISTRY: dict[str, type[Detector]] = {}

D = TypeVar("D", bound=type[Detector])


def register(cls: D) -> D:
    """Class decorator: make a detector available under ``cls.name``.

    Raises:
        ValueError: another detector already has the name.
    """
    name = cls.name
    existing = _REGISTRY.get(name)
    if existing is not None and existing is not cls:
        raise ValueError(
            f"detector name {name!r} is taken by {existing.__module__}.{existing.__qualname__}"
        )
    _REGISTRY[name] = cls
    return cls


def registry() -> dict[str, type[Detector]]:
    """Every registered detector by name (built-ins are registered on package import)."""
    return dict(sorted(_REGISTRY.items()))
