"""Frozen models of compliance: rules (from the packs), results, runs.

A rule pack is data (``packs/<platform>.yml``) validated into :class:`Rule`;
the engine turns each (device, rule) into a :class:`Result`; a whole audit is a
:class:`AuditRun`, which is what the JSON report and the history store.

Examples:
    >>> Status.FAIL.blocks_exit
    True
    >>> Severity.HIGH.rank > Severity.LOW.rank
    True
    >>> Evidence(file="sw1.cfg", line=14, text="no aaa new-model").where
    'sw1.cfg:14'
    >>> e = Evidence.trusted(file="a", line=1, text="t", note="")
    >>> e == Evidence(file="a", line=1, text="t"), e.model_dump() == Evidence(file="a", line=1, text="t").model_dump()
    (True, True)
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, Self

from pydantic import Field

from netwarden.basemodel import FrozenModel
from netwarden.errors import NetwardenError

RESULT_SCHEMA_VERSION = "1.0"


class ComplianceError(NetwardenError):
    """A rule pack, a config source or a report could not be used as given."""


class Model(FrozenModel):
    """Base of every compliance model: frozen and strict (:class:`FrozenModel`), plus :meth:`trusted`."""

    @classmethod
    def trusted(cls, **values: Any) -> Self:
        """Build without validation from values the engine made itself (every field given).

        ``model_construct`` costs about 7 µs; the audit makes ~40 of these per
        device, so the hot path sets the instance state directly instead.
        """
        obj = cls.__new__(cls)
        object.__setattr__(obj, "__dict__", values)
        object.__setattr__(obj, "__pydantic_fields_set__", set(values))
        object.__setattr__(obj, "__pydantic_extra__", None)
        object.__setattr__(obj, "__pydantic_private__", None)
        return obj


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse (for sorting)."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 3,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.INFO: 0,
}


class Status(StrEnum):
    PASS = "pass"  # noqa: S105  (a status, not a password)
    FAIL = "fail"
    NOT_APPLICABLE = "not_applicable"
    ERROR = "error"
    WAIVED = "waived"

    @property
    def blocks_exit(self) -> bool:
        """Whether this status makes ``netwarden audit`` exit 1."""
        return self in (Status.FAIL, Status.ERROR)


class Framework(StrEnum):
    CIS = "cis"
    NIST = "nist_800_53_r5"
    ISO = "iso27001_2022"


FRAMEWORK_TITLES = {
    Framework.CIS: "CIS Benchmarks",
    Framework.NIST: "NIST SP 800-53 Rev. 5",
    Framework.ISO: "ISO/IEC 27001:2022 Annex A",
}


class CisRef(Model):
    """One CIS recommendation. ``approximate``: the number is from the benchmark family, unverified."""

    benchmark: str
    id: str
    title: str
    approximate: bool = False

    def __str__(self) -> str:
        mark = " (number approximate)" if self.approximate else ""
        return f"{self.benchmark} {self.id} {self.title}{mark}"


class References(Model):
    cis: tuple[CisRef, ...] = ()
    nist_800_53_r5: tuple[str, ...] = ()
    iso27001_2022: tuple[str, ...] = ()

    def ids(self, framework: Framework) -> tuple[str, ...]:
        if framework is Framework.CIS:
            return tuple(c.id for c in self.cis)
        if framework is Framework.NIST:
            return self.nist_800_53_r5
        return self.iso27001_2022


class Check(Model):
    """A predicate by registered name, and its arguments (validated by the predicate's model)."""

    predicate: str
    args: dict[str, Any] = Field(default_factory=dict)


class Applicability(Model):
    """When a rule applies. Every given condition must hold; an unmet one gives not_applicable.

    ``functions`` and ``interfaces`` use the inventory when the device is in it;
    ``when`` is a predicate on the config (e.g. "a routing protocol is
    configured"); ``requires`` names extra inputs (``startup``, ``intended``).
    """

    functions: tuple[str, ...] = ()
    when: Check | None = None
    requires: tuple[str, ...] = ()


class Rule(Model):
    id: str = Field(pattern=r"^[a-z][a-z0-9]*(-[a-z0-9]+)+$")
    title: str
    severity: Severity
    rationale: str
    risk: str = ""
    """One sentence in plain words for the management page."""
    references: References = References()
    remediation: str = ""
    applies: Applicability = Applicability()
    check: Check
    platform: str = ""
    pack: str = ""


class RulePack(Model):
    name: str
    version: str
    platform: str
    description: str = ""
    rules: tuple[Rule, ...]


class Evidence(Model):
    """One config line that decided a result (``line`` 0: the whole file; text is redacted)."""

    file: str
    line: int = 0
    text: str = ""
    note: str = ""

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


class WaiverRef(Model):
    rule: str
    scope: str
    justification: str
    approver: str
    expires: date
    expired: bool = False
    source: str = ""


class Result(Model):
    device: str
    site: str
    rule: str
    status: Status
    severity: Severity
    message: str = ""
    evidence: tuple[Evidence, ...] = ()
    waiver: WaiverRef | None = None
    expired_waiver: WaiverRef | None = None


class DeviceInfo(Model):
    name: str
    site: str
    platform: str
    function: str = ""
    in_inventory: bool = False
    files: dict[str, str] = Field(default_factory=dict)
    """path -> sha256 of every file read for this device."""
    error: str = ""
    """Why the device could not be read (live audit: unreachable, login refused ...); "" when read."""


class NotAudited(Model):
    """A device of the inventory that the run did not audit, and why (the report's scope)."""

    name: str
    site: str
    platform: str
    function: str
    reason: str


class Scope(Model):
    """What a run covered against the inventory: page 1 of the report states it.

    ``inventory_devices`` is 0 when the run had no inventory. Devices that were
    tried but could not be read are in :attr:`AuditRun.devices` with ``error``.
    """

    inventory_devices: int = 0
    not_audited: tuple[NotAudited, ...] = ()


class RunMeta(Model):
    run_id: str
    started: datetime
    finished: datetime
    user: str
    host: str
    tool_version: str
    packs: dict[str, str]
    """pack name -> version."""
    inventory: str = ""
    source: str = ""
    limit: str = ""
    schema_version: str = RESULT_SCHEMA_VERSION


class AuditRun(Model):
    meta: RunMeta
    rules: tuple[Rule, ...]
    devices: tuple[DeviceInfo, ...]
    results: tuple[Result, ...]
    waivers: tuple[WaiverRef, ...] = ()
    """Every waiver in the inventory that names a rule of this run (expired ones too)."""
    scope: Scope = Scope()
    """The inventory's devices this run did not audit, and why (empty for older runs)."""

    @property
    def unread(self) -> frozenset[str]:
        """Devices that could not be read: not audited, counted in no score."""
        return frozenset(d.name for d in self.devices if d.error)

    @property
    def exit_code(self) -> int:
        """1 on an unwaived failure, an error, or a device that could not be read; else 0."""
        blocked = any(r.status.blocks_exit for r in self.results)
        return 1 if blocked or self.unread else 0
