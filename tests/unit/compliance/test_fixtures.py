"""Every rule has a passing and a failing fixture under tests/data/compliance/<platform>/<rule>/.

Fixtures are discovered by glob: ``pass*.<ext>`` must give ``pass`` and
``fail*.<ext>`` must give ``fail`` for the rule named by the folder (other
rules may say anything: a fixture is about one rule). ``<name>.startup.cfg``
and ``<name>.intended.cfg`` beside an IOS fixture are its startup and intended
configs; ``fixture.json`` names an inventory device to audit the fixture as.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netwarden.compliance.engine import Engine
from netwarden.compliance.models import Status
from netwarden.compliance.sources import Artifact, Target

from .conftest import DATA

EXT = {"ios": ".cfg", "nftables": ".json", "linux": ".linux"}


def _cases() -> list[tuple[str, str, Path]]:
    out = []
    for platform, ext in EXT.items():
        for rule_dir in sorted((DATA / platform).iterdir()):
            if not rule_dir.is_dir():
                continue
            for f in sorted([*rule_dir.glob(f"pass*{ext}"), *rule_dir.glob(f"fail*{ext}")]):
                if f.name.count(".") > 1:  # startup/intended companions
                    continue
                out.append((platform, rule_dir.name, f))
    return out


CASES = _cases()


def _target(platform: str, f: Path) -> tuple[Target, bool]:
    meta_file = f.parent / "fixture.json"
    meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
    target = Target(meta.get("device", "fixture"), platform, Artifact(str(f), f.read_text()))
    stem = f.name.split(".")[0]
    for role in ("startup", "intended"):
        companion = f.with_name(f"{stem}.{role}{f.suffix}")
        if companion.is_file():
            setattr(target, role, Artifact(str(companion), companion.read_text()))
    return target, bool(meta.get("inventory"))


@pytest.mark.parametrize(
    ("platform", "rule", "fixture"),
    CASES,
    ids=[f"{r}/{f.name}" for _, r, f in CASES],
)
def test_fixture_decides_its_rule(
    platform: str, rule: str, fixture: Path, engine: Engine, inv_engine: Engine
) -> None:
    target, needs_inventory = _target(platform, fixture)
    results = {r.rule: r for r in (inv_engine if needs_inventory else engine).audit(target)}
    assert rule in results, f"{rule}: no such rule in the {platform} pack"
    got = results[rule]
    want = Status.PASS if fixture.name.startswith("pass") else Status.FAIL
    assert got.status is want, f"{fixture}: {got.status.value} ({got.message}) {got.evidence}"
    if want is Status.FAIL:
        assert got.evidence, f"{fixture}: a failure without evidence"


def test_every_rule_has_a_passing_and_a_failing_fixture(engine: Engine) -> None:
    have: dict[str, set[str]] = {}
    for _, rule, f in CASES:
        have.setdefault(rule, set()).add(f.name.split(".")[0].rstrip("0123456789-_"))
    missing = [r.id for r in engine.rules if have.get(r.id, set()) < {"pass", "fail"}]
    assert not missing, f"rules without a pass and a fail fixture: {missing}"
