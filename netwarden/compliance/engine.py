"""The rule engine: packs as data, predicates as small registered functions.

A pack (``packs/<platform>.yml``, read with Ansible's ``DataLoader`` like the
rest of netwarden: no second YAML parser) lists rules; each rule names a
registered predicate and its arguments, and when it applies. The engine
decides applicability (inventory first: device function, interface roles;
else the config), runs the predicate, applies waivers, and returns one
:class:`Result` per (device, rule).

Extending: a platform module in :mod:`netwarden.compliance.platforms` registers
a :class:`~netwarden.compliance.predicates.PlatformDriver` (how to parse its
configs, which pack it uses) and its predicates, through the API of
:mod:`netwarden.compliance.predicates`. The engine imports the platforms
package once, here, so every built-in platform is registered before a pack is
compiled; no platform module imports the engine.

Examples:
    >>> sorted(drivers())
    ['ios', 'linux', 'nftables']
"""

from __future__ import annotations

import hashlib
import logging
import platform as _platform
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

import netwarden.compliance.platforms  # noqa: F401  (importing it registers the built-in platforms)
from netwarden import __version__
from netwarden.compliance.models import (
    AuditRun,
    ComplianceError,
    DeviceInfo,
    NotAudited,
    Result,
    Rule,
    RulePack,
    RunMeta,
    Scope,
    Status,
)
from netwarden.compliance.predicates import (
    AuditContext,
    Outcome,
    PredicateSpec,
    drivers,
    not_applicable,
    predicate_specs,
)
from netwarden.compliance.sources import ConfigSource, Target
from netwarden.compliance.waivers import WaiverBook
from netwarden.identity import current_user
from netwarden.inventory.models import Inventory
from netwarden.inventory.select import selects
from netwarden.inventory.yamlguard import YamlLimitError, plain_data

logger = logging.getLogger(__name__)

PACK_DIR = Path(__file__).parent / "packs"
UNKNOWN_SITE = "unknown"


@dataclass(frozen=True, slots=True)
class CompiledRule:
    rule: Rule
    check: PredicateSpec
    check_args: Any
    when: PredicateSpec | None
    when_args: Any


def _compile_args(spec: PredicateSpec, raw: dict[str, Any], where: str) -> Any:
    if spec.args is None:
        if raw:
            raise ComplianceError(
                f"{where}: predicate {spec.name!r} takes no arguments, got {sorted(raw)}"
            )
        return None
    try:
        return spec.args.model_validate(raw)
    except ValidationError as exc:
        raise ComplianceError(f"{where}: bad arguments for predicate {spec.name!r}: {exc}") from exc


def _pack_data(raw: dict[str, Any], path: Path) -> dict[str, Any]:
    """The loaded pack as builtins (pydantic sees plain types), its ``benchmark`` given to each CIS reference."""
    from netwarden.inventory.origins import origin_of  # noqa: PLC0415  (imports Ansible)

    try:
        data: dict[str, Any] = plain_data(raw)
    except YamlLimitError as exc:
        raise ComplianceError(f"{origin_of(exc.node) or path}: {exc}") from None
    benchmark = data.pop("benchmark", None)
    if benchmark:
        for rule in data["rules"]:
            for ref in rule.get("references", {}).get("cis", []):
                ref.setdefault("benchmark", benchmark)
    return data


def load_pack(path: Path) -> RulePack:
    """Read and validate one rule pack; every problem names the file and the rule."""
    from ansible.parsing.dataloader import DataLoader  # noqa: PLC0415  (heavy import)

    from netwarden.inventory.origins import origin_of  # noqa: PLC0415

    try:
        raw = DataLoader().load_from_file(str(path))
    except Exception as exc:
        raise ComplianceError(f"{path}: cannot read the rule pack: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("rules"), list):
        raise ComplianceError(f"{path}: a rule pack is a mapping with a `rules` list")
    for i, rule in enumerate(raw["rules"]):
        if isinstance(rule, dict):
            rule.setdefault("platform", raw.get("platform", ""))
            rule.setdefault("pack", raw.get("name", ""))
        else:
            raise ComplianceError(f"{origin_of(rule) or path}: rules[{i}] is not a mapping")
    data = _pack_data(raw, path)
    try:
        pack = RulePack.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first.get("loc", ())
        where: object = path
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            where = origin_of(raw["rules"][loc[1]]) or path
        raise ComplianceError(f"{where}: invalid rule pack: {exc}") from exc
    seen: set[str] = set()
    for rule in pack.rules:
        if rule.id in seen:
            raise ComplianceError(f"{path}: rule id {rule.id!r} appears twice")
        seen.add(rule.id)
    return pack


def compile_pack(pack: RulePack, path: Path | str = "") -> list[CompiledRule]:
    registered = predicate_specs()
    out = []
    for rule in pack.rules:
        where = f"{path or pack.name}: rule {rule.id}"
        spec = registered.get(rule.check.predicate)
        if spec is None:
            raise ComplianceError(
                f"{where}: unknown predicate {rule.check.predicate!r}; registered: {', '.join(sorted(registered))}"
            )
        when_spec = None
        when_args = None
        if rule.applies.when is not None:
            when_spec = registered.get(rule.applies.when.predicate)
            if when_spec is None:
                raise ComplianceError(
                    f"{where}: unknown predicate {rule.applies.when.predicate!r} in applies.when"
                )
            when_args = _compile_args(when_spec, rule.applies.when.args, where + " applies.when")
        out.append(
            CompiledRule(
                rule, spec, _compile_args(spec, rule.check.args, where), when_spec, when_args
            )
        )
    return out


def builtin_pack_path(platform: str) -> Path:
    return PACK_DIR / f"{platform}.yml"


class Engine:
    """Audits targets against compiled packs, with the inventory and its waivers when given."""

    def __init__(
        self,
        packs: Sequence[RulePack] | None = None,
        inventory: Inventory | None = None,
        today: date | None = None,
    ) -> None:
        self._drivers = drivers()
        if packs is None:
            packs = [load_pack(builtin_pack_path(p)) for p in self._drivers]
        self.packs = {p.platform: p for p in packs}
        self.compiled = {p.platform: compile_pack(p) for p in packs}
        self.inventory = inventory
        self.today = today or datetime.now(UTC).date()
        self.waivers = WaiverBook(inventory, self.today)

    @property
    def rules(self) -> list[Rule]:
        return [c.rule for rules in self.compiled.values() for c in rules]

    def device_info(self, target: Target) -> DeviceInfo:
        device = self.inventory.devices.get(target.name) if self.inventory else None
        return DeviceInfo(
            name=target.name,
            site=device.site if device else UNKNOWN_SITE,
            platform=target.platform,
            function=device.function.value if device else "",
            in_inventory=device is not None,
            files={a.path: hashlib.sha256(a.text.encode()).hexdigest() for a in target.artifacts()},
            error=target.error or "",
        )

    def audit(self, target: Target) -> list[Result]:
        """One result per rule of the target's platform pack (all ``error`` if it could not be read).

        A config its platform's parser rejects makes the target unreadable: its
        ``error`` is set to the reason, as a source does for a file that is not text.
        """
        rules = self.compiled.get(target.platform)
        if rules is None:
            raise ComplianceError(f"{target.name}: no rule pack for platform {target.platform!r}")
        driver = self._drivers[target.platform]
        device = self.inventory.devices.get(target.name) if self.inventory else None
        site = device.site if device else UNKNOWN_SITE
        if target.error is None:
            try:
                ctx = AuditContext(
                    target,
                    driver.parse(target.running, target.extra),
                    device,
                    self.inventory,
                )
                if target.startup is not None:
                    ctx.startup = driver.parse(target.startup, {})
                if target.intended is not None:
                    ctx.intended = driver.parse(target.intended, {})
            except ValueError as exc:
                target.error = f"cannot parse: {exc}"
        if target.error is not None:
            msg = f"not audited: could not be read: {target.error}"
            return [
                self._result(target.name, site, c.rule, Outcome(Status.ERROR, msg)) for c in rules
            ]
        return [self._result(target.name, site, c.rule, self._decide(c, ctx)) for c in rules]

    def _decide(self, c: CompiledRule, ctx: AuditContext) -> Outcome:
        applies = c.rule.applies
        for need in applies.requires:
            if getattr(ctx, need, None) is None:
                return not_applicable(f"no {need} config given")
        if (
            applies.functions
            and ctx.device is not None
            and ctx.device.function.value not in applies.functions
        ):
            return not_applicable(f"applies to {', '.join(applies.functions)} only")
        try:
            if c.when is not None:
                cond = c.when.fn(ctx, c.when_args)
                if cond.status is not Status.PASS:
                    return not_applicable(cond.message or "not configured")
            return c.check.fn(ctx, c.check_args)
        except Exception as exc:
            logger.exception("%s: rule %s raised", ctx.target.name, c.rule.id)
            return Outcome(Status.ERROR, f"the check raised {type(exc).__name__}: {exc}")

    def _result(self, device: str, site: str, rule: Rule, out: Outcome) -> Result:
        waiver = expired = None
        status = out.status
        if status is Status.FAIL and self.waivers:
            waiver, expired = self.waivers.match(device, site, rule.id)
            if waiver is not None:
                status = Status.WAIVED
        return Result.trusted(
            device=device,
            site=site,
            rule=rule.id,
            status=status,
            severity=rule.severity,
            message=out.message,
            evidence=tuple(out.evidence),
            waiver=waiver,
            expired_waiver=expired,
        )

    def run(self, source: ConfigSource, limit: str | None = None) -> AuditRun:
        """Audit every target of ``source`` (filtered by ``limit``) and describe the run."""
        started = datetime.now(UTC)
        infos: list[DeviceInfo] = []
        results: list[Result] = []
        platforms: set[str] = set()
        for target in source.targets():
            if limit and not self.selected(target.name, limit):
                continue
            results.extend(self.audit(target))
            infos.append(self.device_info(target))
            platforms.add(target.platform)
        rules = [c.rule for p in sorted(platforms) for c in self.compiled.get(p, [])]
        meta = RunMeta(
            run_id=started.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8],
            started=started,
            finished=datetime.now(UTC),
            user=current_user(),
            host=_platform.node(),
            tool_version=__version__,
            packs={self.packs[p].name: self.packs[p].version for p in sorted(platforms)},
            inventory=self.inventory.path if self.inventory else "",
            source=getattr(source, "description", type(source).__name__),
            limit=limit or "",
        )
        return AuditRun(
            meta=meta,
            rules=tuple(rules),
            devices=tuple(infos),
            results=tuple(results),
            waivers=self.waivers.refs({r.id for r in rules}),
            scope=self.scope(source, limit, {i.name for i in infos}),
        )

    def scope(self, source: ConfigSource, limit: str | None, audited: set[str]) -> Scope:
        """The inventory's devices not in ``audited``, each with the reason."""
        if self.inventory is None:
            return Scope()
        not_read: Mapping[str, str] = getattr(source, "not_read", {})
        missing = []
        for name, device in sorted(self.inventory.devices.items()):
            if name in audited:
                continue
            if limit and not self.selected(name, limit):
                reason = f"excluded by --limit {limit}"
            elif name in not_read:
                reason = not_read[name]
            else:
                reason = f"no config in {source.description}"
            missing.append(
                NotAudited(
                    name=name,
                    site=device.site,
                    platform=device.platform.value,
                    function=device.function.value,
                    reason=reason,
                )
            )
        return Scope(inventory_devices=len(self.inventory.devices), not_audited=tuple(missing))

    def selected(self, name: str, limit: str) -> bool:
        """Ansible-like ``--limit`` (:mod:`netwarden.inventory.select`): comma-separated device
        names or globs, sites, groups (``site_<name>``, ``hq``, ``field_offices``,
        ``switches``) or functions (``switch``). Without an inventory: names and globs only."""
        return selects(name, limit, self.inventory)
