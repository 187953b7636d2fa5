"""Page 1 states the scope; nothing assessed is "not assessed", never 100 % (issue 11 points 11-12).

Point 11: a control (or a site) whose every result is not applicable showed
100 % with a full green bar. Point 12: a report of the switches alone (10 of 32
devices) was titled "Security compliance of the network".
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

import pytest

from netwarden.compliance.engine import Engine
from netwarden.compliance.history import Posture, changes, overall, posture_by_site, trend
from netwarden.compliance.models import AuditRun, Scope, Status
from netwarden.compliance.report import write_reports
from netwarden.compliance.report.summary import summarise
from netwarden.compliance.scope import scope_of
from netwarden.compliance.sources import FolderSource
from netwarden.inventory.models import Inventory
from netwarden.render import render_all

from .conftest import DATA


def test_nothing_assessed_has_no_score() -> None:
    assert Posture(not_applicable=4).score is None
    assert Posture().score is None
    assert Posture(passed=1, not_applicable=4).score == 1.0
    assert Posture(passed=1, failed=1, unread=40).score == 0.5  # unread results count in no score


@pytest.fixture(scope="module")
def switches(tmp_path_factory: pytest.TempPathFactory, inventory: Inventory) -> Path:
    """The example inventory's 10 switches, rendered: what an auditor audits with --configs."""
    d = tmp_path_factory.mktemp("switches")
    for name, text in render_all(inventory).items():
        (d / f"{name}.cfg").write_text(text, encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def switch_run(inv_engine: Engine, switches: Path) -> AuditRun:
    return inv_engine.run(FolderSource(switches))


def _page1(html: str) -> str:
    return html[: html.index('<section id="summary">')]


def test_a_control_with_nothing_to_check_is_not_assessed(
    switch_run: AuditRun, tmp_path: Path
) -> None:
    summary = summarise(switch_run, changes(None, switch_run), None, {})
    rows = [c for rows in summary.frameworks.values() for c in rows]
    empty = [c for c in rows if c.posture.applicable == 0]
    assert empty, "the baseline has controls whose rules are all not applicable (BGP, OSPF ...)"
    assert all(c.posture.score is None for c in empty)
    html = write_reports(switch_run, tmp_path, ["html"])["html"].read_text(encoding="utf-8")
    for c in empty:
        row = re.search(rf"<tr><td>{re.escape(c.control)}</td>.*?</tr>", html, re.S)
        assert row is not None, c.control
        assert "not assessed" in row[0]
        assert "100%" not in row[0]
        assert 'fill="#2e7d32"' not in row[0]  # no green bar


def test_a_site_with_nothing_assessed_is_not_assessed_everywhere(
    engine: Engine, tmp_path: Path
) -> None:
    d = tmp_path / "c"
    d.mkdir()
    (d / "tool").write_bytes(b"\x7fELF\x00\x00")
    (d / "sw1.cfg").write_text((DATA / "ios" / "_baseline.cfg").read_text())
    run = engine.run(FolderSource(d))
    assert posture_by_site(run.results, run.unread)["unknown"].unread > 0
    only_tool = run.model_copy(
        update={"results": tuple(r for r in run.results if r.device == "tool")}
    )
    assert overall(only_tool.results, only_tool.unread).score is None
    assert trend([], only_tool) == {}  # no point on the trend for a site with nothing assessed
    html = write_reports(only_tool, tmp_path / "o", ["html"])["html"].read_text()
    card = re.search(r"Overall compliance</div><div class=\"big\">([^<]*)<", html)
    assert card is not None
    assert card[1] == "not assessed"


def test_page_one_states_the_scope(switch_run: AuditRun, tmp_path: Path) -> None:
    assert switch_run.scope.inventory_devices == 32
    missing = {m.name: m for m in switch_run.scope.not_audited}
    assert len(missing) == 22
    assert {m.function for m in missing.values()} == {"server", "firewall", "sensor"}
    assert all(m.reason.startswith("no config in folder ") for m in missing.values())
    scope = scope_of(switch_run)
    assert not scope.complete
    assert scope.title == "Security compliance of 10 switches (10 of 32 devices)"
    html = write_reports(switch_run, tmp_path, ["html"])["html"].read_text(encoding="utf-8")
    page1 = _page1(html)
    assert "of the network" not in page1
    assert (
        "Scope: 10 of the inventory&#39;s 32 devices audited (10 switches); 22 not audited."
        in page1
    )
    assert "12: no config in folder" in page1  # the servers, with the reason
    assert "servers (linux)" in page1


def test_limit_and_unsupported_platforms_are_reasons(inv_engine: Engine, switches: Path) -> None:
    run = inv_engine.run(FolderSource(switches), "gva")
    reasons = {m.name: m.reason for m in run.scope.not_audited}
    assert reasons["jed-core-sw1"] == "excluded by --limit gva"
    assert reasons["gva-srv1"].startswith("no config in folder")

    class Live(FolderSource):
        """A folder that, like the live source, names a device it did not try."""

        not_read: ClassVar[dict[str, str]] = {
            "gva-srv1": "live audit of linux devices not supported yet: use --configs"
        }

    run = inv_engine.run(Live(switches), "gva")
    reasons = {m.name: m.reason for m in run.scope.not_audited}
    assert reasons["gva-srv1"] == "live audit of linux devices not supported yet: use --configs"
    lines = scope_of(run).lines()
    assert lines[0] == (
        "Scope: 2 of the inventory's 32 devices audited (2 switches); 30 not audited."
    )
    assert "not audited: 8 switches (ios): excluded by --limit gva" in lines


def test_the_whole_inventory_audited_is_the_network(switch_run: AuditRun) -> None:
    whole = switch_run.model_copy(update={"scope": Scope(inventory_devices=10)})
    scope = scope_of(whole)
    assert scope.complete
    assert scope.title == "Security compliance of the network"


def test_without_an_inventory_the_scope_is_the_configs(engine: Engine, switches: Path) -> None:
    run = engine.run(FolderSource(switches))
    scope = scope_of(run)
    assert scope.title == "Security compliance of 10 devices"
    assert scope.sentence.startswith("Scope: 10 device(s) audited from the configs given")


def test_old_runs_without_a_scope_still_load(switch_run: AuditRun) -> None:
    doc = switch_run.model_dump(mode="json")
    del doc["scope"]
    old = AuditRun.model_validate(doc)
    assert old.scope == Scope()
    assert {r.status for r in old.results} >= {Status.PASS}
