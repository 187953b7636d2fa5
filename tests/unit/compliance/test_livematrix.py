"""The connection matrix against a firewall's ruleset (issue 15): the evaluator and the report.

The ruleset is ``tests/data/matrix/nyc-fw1.json`` (the rendered ruleset as ``nft -j list
ruleset`` prints it, see its README); tests mutate copies of it the way an engineer
would by hand (a rule inserted, a rule deleted, an expression the evaluator does not
know) and check the report says exactly that.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from netwarden.cli.app import app
from netwarden.compliance.livematrix import (
    ALLOWED,
    DENIED,
    UNKNOWN,
    MatrixReport,
    build_report,
    path_of,
    site_firewalls,
)
from netwarden.inventory.matrix import endpoints
from netwarden.inventory.models import Inventory
from netwarden.render.nftables import render_firewall

FIXTURE = Path(__file__).resolve().parents[2] / "data" / "matrix" / "nyc-fw1.json"
FW = "nyc-fw1"
runner = CliRunner()


def _ruleset() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text())
    return data


def _report(inv: Inventory, ruleset: dict[str, Any] | None) -> MatrixReport:
    texts = {FW: (json.dumps(ruleset), "") if ruleset is not None else (None, "unreachable")}
    return build_report(inv, [inv.devices[FW]], texts, "test", lambda n: f"{n}.json")


def _forward_rules(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        item["rule"]
        for item in data["nftables"]
        if "rule" in item and item["rule"]["chain"] == "forward"
    ]


def _insert_first(data: dict[str, Any], expr: list[dict[str, Any]]) -> dict[str, Any]:
    out = copy.deepcopy(data)
    first = next(
        i
        for i, it in enumerate(out["nftables"])
        if "rule" in it and it["rule"]["chain"] == "forward"
    )
    rule = {"family": "inet", "table": "netwarden", "chain": "forward", "handle": 999, "expr": expr}
    out["nftables"].insert(first, {"rule": rule})
    return out


def _match(key: dict[str, Any], right: object) -> dict[str, Any]:
    return {"match": {"op": "==", "left": key, "right": right}}


IIF, OIF = {"meta": {"key": "iifname"}}, {"meta": {"key": "oifname"}}
DPORT = {"payload": {"protocol": "tcp", "field": "dport"}}


def test_the_fixture_is_the_ruleset_the_renderer_writes_today(inventory: Inventory) -> None:
    rendered = set(
        re.findall(r'comment "([^"]+)"', render_firewall(inventory, inventory.devices[FW]))
    )
    listed = {r.get("comment") for r in _forward_rules(_ruleset()) + [
        it["rule"] for it in _ruleset()["nftables"] if "rule" in it
    ] if r.get("comment")}  # fmt: skip
    assert rendered, "the renderer writes rule comments"
    assert listed == rendered, "tests/data/matrix/nyc-fw1.json is stale: see its README"


def test_the_rendered_ruleset_agrees_with_the_policy_on_every_row(inventory: Inventory) -> None:
    report = _report(inventory, _ruleset())
    assert report.ok
    assert len(report.rows) == 630  # nyc's 5 zones and the internet, 21 services
    assert {r.live for r in report.rows} == {ALLOWED, DENIED}
    assert not report.mismatches
    allowed = next(r for r in report.rows if r.live == ALLOWED)
    assert allowed.firewalls == (FW,)
    assert allowed.live_rules
    assert allowed.live_rules[0].startswith(f"{FW}: netwarden forward handle")


def test_a_rule_that_opens_a_forbidden_flow_is_one_mismatch(inventory: Inventory) -> None:
    opened = _insert_first(
        _ruleset(),
        [_match(IIF, "guests0"), _match(OIF, "servers0"), _match(DPORT, 445), {"accept": None}],
    )
    report = _report(inventory, opened)
    assert not report.ok
    (row,) = report.mismatches
    assert (row.src, row.dst, row.service) == ("nyc/guests", "nyc/servers", "smb")
    assert (row.policy, row.live, row.differing) == (DENIED, ALLOWED, ("tcp/445",))
    assert row.live_rules == (f"{FW}: netwarden forward handle 999",)


def test_a_deleted_allow_rule_is_a_mismatch_the_other_way(inventory: Inventory) -> None:
    data = _ruleset()
    before = {(r.src, r.dst, r.service) for r in _report(inventory, data).rows if r.live == ALLOWED}
    victims = [
        r for r in _forward_rules(data) if str(r.get("comment", "")).startswith("staff-local-")
    ]
    assert victims
    data["nftables"] = [it for it in data["nftables"] if it.get("rule") not in victims]
    report = _report(inventory, data)
    assert report.mismatches
    assert all(r.policy == ALLOWED and r.live == DENIED for r in report.mismatches)
    assert {(r.src, r.dst, r.service) for r in report.mismatches} <= before
    assert {(r.src, r.dst) for r in report.mismatches} == {("nyc/staff", "nyc/servers")}


def test_an_unknown_expression_never_matches_and_is_counted(inventory: Inventory) -> None:
    data = _insert_first(_ruleset(), [{"xt": {"type": "match", "name": "foo"}}, {"accept": None}])
    report = _report(inventory, data)
    (fw,) = report.firewalls
    assert fw.unsupported_rules == 1
    assert report.ok  # it never matches: the rendered rules still decide


def test_an_unread_firewall_leaves_its_rows_unknown_and_the_report_failed(
    inventory: Inventory,
) -> None:
    report = _report(inventory, None)
    assert report.unread == [FW]
    assert not report.ok
    assert {r.live for r in report.rows} == {UNKNOWN}
    assert not report.mismatches


def test_a_flow_between_sites_crosses_both_firewalls(inventory: Inventory) -> None:
    ends = {e.label: e for e in endpoints(inventory)}
    fws = site_firewalls(inventory)
    hops = path_of(fws, ends["nyc/staff"], ends["jed/servers"])
    assert hops is not None
    assert [(h.firewall, h.iif, h.oif) for h in hops] == [
        ("nyc-fw1", "staff0", "wan0"),
        ("jed-fw1", "wan0", "servers0"),
    ]
    inbound = path_of(fws, ends["internet"], ends["jed/dmz"])
    assert inbound is not None
    assert [(h.firewall, h.iif, h.oif) for h in inbound] == [("jed-fw1", "wan0", "dmz0")]


def _cli(*args: str) -> tuple[int, str]:
    res = runner.invoke(app, ["matrix", *args])
    return res.exit_code, res.stdout + res.stderr


def test_cli_offline_formats_and_exit_codes(example_inventory: Path, tmp_path: Path) -> None:
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    (good / f"{FW}.json").write_text(FIXTURE.read_text())
    opened = _insert_first(
        _ruleset(),
        [_match(IIF, "guests0"), _match(OIF, "servers0"), _match(DPORT, 445), {"accept": None}],
    )
    (bad / f"{FW}.json").write_text(json.dumps(opened))
    base = ["-i", str(example_inventory), "--limit", FW, "--rulesets"]
    code, out = _cli(*base, str(good))
    assert code == 0, out
    assert "matrix: 630 rows (zone, zone, service), 0 mismatch(es), 0 firewall(s) not read" in out
    assert "evaluator limits: IPv4" in out
    code, out = _cli(*base, str(bad), "--mismatches-only")
    assert code == 1, out
    assert "nyc/guests  nyc/servers  smb      denied  allowed  MISMATCH tcp/445" in out
    code, out = _cli(*base, str(bad), "--format", "json")
    assert code == 1
    report = MatrixReport.model_validate_json(out)
    assert [r.service for r in report.mismatches] == ["smb"]
    code, out = _cli(*base, str(bad), "--format", "markdown", "--mismatches-only")
    assert code == 1
    assert "| nyc/guests | nyc/servers | smb | denied | allowed | MISMATCH tcp/445 |" in out
    code, out = _cli(*base, str(tmp_path))
    assert code == 1  # the firewall's file is missing: not read
    assert f"{FW}: not read:" in out
    code, out = _cli(*base, str(tmp_path / "none"))
    assert code == 2  # not a folder: usage


@pytest.mark.parametrize("limit", ["nyc-acc-sw1", "nosuchsite"])
def test_cli_a_limit_without_a_firewall_is_a_usage_error(
    example_inventory: Path, tmp_path: Path, limit: str
) -> None:
    code, out = _cli("-i", str(example_inventory), "--limit", limit, "--rulesets", str(tmp_path))
    assert code == 2, out


def test_cli_a_firewall_absent_from_a_simulator_lab_is_never_contacted(
    example_inventory: Path, tmp_path: Path
) -> None:
    inv = tmp_path / "inventory"
    shutil.copytree(example_inventory, inv)
    with (inv / "host_vars" / f"{FW}.yml").open("a", encoding="utf-8") as f:
        f.write("netwarden_lab_absent: true\nansible_host: 127.0.0.1\nansible_port: 9\n")
    code, out = _cli("-i", str(inv), "--limit", FW)
    assert code == 2, out
    assert "absent from this lab" in out
