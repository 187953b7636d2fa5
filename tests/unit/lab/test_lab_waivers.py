"""The lab's auditd waivers (``labinventory.write_lab_waivers``): appended, dated, loadable."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml

from netwarden.errors import LabError
from netwarden.inventory import load_inventory
from netwarden.lab.ns.labinventory import (
    LAB_WAIVER_APPROVER,
    LAB_WAIVER_RULES,
    write_lab_waivers,
)

REPO = Path(__file__).resolve().parents[3]
TODAY = date(2026, 12, 6)


def test_the_waivers_are_appended_to_the_file_that_defines_compliance(tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    shutil.copytree(REPO / "inventory", lab)
    written = write_lab_waivers(lab, ["nyc-srv1", "jed-log1", "nyc-srv1"], TODAY)
    assert written == lab / "group_vars" / "all" / "compliance.yml"
    data = yaml.safe_load(written.read_text())
    source = yaml.safe_load((REPO / "inventory/group_vars/all/compliance.yml").read_text())
    waivers = data["compliance"]["waivers"]
    assert waivers[: len(source["compliance"]["waivers"])] == source["compliance"]["waivers"]
    assert data["compliance"]["profile"] == source["compliance"]["profile"]
    mine = [w for w in waivers if w["approver"] == LAB_WAIVER_APPROVER]
    assert [(w["rule"], w["scope"]) for w in mine] == [
        (rule, {"device": name}) for name in ("jed-log1", "nyc-srv1") for rule in LAB_WAIVER_RULES
    ]
    assert {w["expires"] for w in mine} == {date(2027, 1, 5)}
    inv = load_inventory(lab)  # the inventory still loads and its check passes
    loaded = [w for w in inv.compliance.waivers if w.approver == LAB_WAIVER_APPROVER]
    assert len(loaded) == 4
    assert all("auditd cannot run" in w.justification for w in loaded)


def test_no_server_no_change(tmp_path: Path) -> None:
    assert write_lab_waivers(tmp_path, [], TODAY) is None


def test_no_compliance_file_says_where_it_looked(tmp_path: Path) -> None:
    (tmp_path / "group_vars" / "all").mkdir(parents=True)
    (tmp_path / "group_vars" / "all" / "org.yml").write_text("org: {name: x}\n")
    with pytest.raises(LabError, match="no group_vars/all file defines 'compliance'"):
        write_lab_waivers(tmp_path, ["srv1"], TODAY)
