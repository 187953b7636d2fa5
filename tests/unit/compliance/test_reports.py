"""Reports: HTML escaping of device content, JSON round trip, CSV, SARIF 2.1.0, history and waivers."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest

from netwarden.compliance.engine import Engine
from netwarden.compliance.history import load_history
from netwarden.compliance.models import AuditRun, Status
from netwarden.compliance.report import write_reports
from netwarden.compliance.sources import FolderSource
from netwarden.inventory.models import Inventory, Waiver

from .conftest import DATA, TODAY

PAYLOAD = "<script>document.title='PWNED'</script>"
EVIL = f"""hostname evil
banner motd ^C
{PAYLOAD}
^C
username <img src=x onerror=alert(1)> privilege 15 password 7 0822455D0A16
line vty 0 4
 login
end
"""


def evil_folder(tmp: Path) -> Path:
    d = tmp / "configs"
    d.mkdir()
    (d / "evil.cfg").write_text(EVIL)
    (d / "evil.intended.cfg").write_text("hostname evil\nend\n")
    return d


def write_evil_report(tmp: Path) -> tuple[AuditRun, dict[str, Path]]:
    run = Engine(today=TODAY).run(FolderSource(evil_folder(tmp), "ios"))
    return run, write_reports(run, tmp / "out", ["html", "json", "csv", "sarif"])


def test_device_content_is_escaped_in_html(tmp_path: Path) -> None:
    run, written = write_evil_report(tmp_path)
    html = written["html"].read_text()
    drift = next(r for r in run.results if r.rule == "ios-intended-drift")
    assert any(PAYLOAD in e.text + e.note for e in drift.evidence), (
        drift
    )  # the banner is evidence of drift
    assert "&lt;script&gt;document.title=&#39;PWNED&#39;&lt;/script&gt;" in html
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "default-src &#39;none&#39;" not in html  # the CSP itself is template text, not escaped
    assert "default-src 'none'" in html


def test_no_external_resources_in_html(tmp_path: Path) -> None:
    _, written = write_evil_report(tmp_path)
    html = written["html"].read_text()
    for marker in ("http://", "https://", "<link", "@import", "src="):
        assert marker not in html.replace("&lt;img src=x", ""), marker


def test_json_is_the_run_and_round_trips(tmp_path: Path) -> None:
    run, written = write_evil_report(tmp_path)
    again = AuditRun.model_validate_json(written["json"].read_text())
    assert again == run
    doc = json.loads(written["json"].read_text())
    assert set(doc) == {"meta", "rules", "devices", "results", "waivers", "scope"}
    assert doc["devices"][0]["files"]  # sha256 per file


def test_secrets_never_reach_a_report(tmp_path: Path) -> None:
    _, written = write_evil_report(tmp_path)
    for fmt in ("html", "json", "csv", "sarif"):
        assert "0822455D0A16" not in written[fmt].read_text(), fmt


def test_csv_has_one_row_per_result(tmp_path: Path) -> None:
    run, written = write_evil_report(tmp_path)
    rows = list(csv.DictReader(io.StringIO(written["csv"].read_text())))
    assert len(rows) == len(run.results)
    assert {r["status"] for r in rows} >= {"pass", "fail"}


def test_sarif_2_1_0_shape(tmp_path: Path) -> None:
    run, written = write_evil_report(tmp_path)
    doc = json.loads(written["sarif"].read_text())
    assert doc["version"] == "2.1.0"
    (sarif_run,) = doc["runs"]
    ids = {r["id"] for r in sarif_run["tool"]["driver"]["rules"]}
    assert {r.rule for r in run.results} <= ids
    fails = [r for r in run.results if r.status in (Status.FAIL, Status.ERROR)]
    assert len(sarif_run["results"]) == len(fails)
    for res in sarif_run["results"]:
        assert res["ruleId"] in ids
        assert res["level"] in ("error", "warning", "note")
        assert res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]


def _waived_inventory(inventory: Inventory, expires: date) -> Inventory:
    w = Waiver.model_validate(
        {
            "rule": "ios-ntp-two-servers",
            "scope": {"pattern": "nyc-*"},
            "justification": "only one NTP server reachable until the new WAN circuit",
            "approver": "CISO",
            "expires": expires,
        }
    )
    comp = inventory.compliance.model_copy(update={"waivers": (*inventory.compliance.waivers, w)})
    return inventory.model_copy(update={"compliance": comp})


def test_waivers_suppress_in_sarif_and_expire(tmp_path: Path, inventory: Inventory) -> None:
    d = tmp_path / "c"
    d.mkdir()
    one_ntp = (DATA / "ios" / "ios-ntp-two-servers" / "fail.cfg").read_text()
    for name in ("kbl-acc-sw1", "nyc-acc-sw1", "gva-acc-sw1"):
        (d / f"{name}.cfg").write_text(one_ntp)
    inv = _waived_inventory(inventory, date(2026, 1, 31))  # expired on TODAY
    run = Engine(inventory=inv, today=TODAY).run(FolderSource(d, "ios"))
    ntp = {r.device: r for r in run.results if r.rule == "ios-ntp-two-servers"}
    assert ntp["kbl-acc-sw1"].status is Status.WAIVED  # site waiver in the example inventory
    assert ntp["kbl-acc-sw1"].waiver is not None
    assert ntp["nyc-acc-sw1"].status is Status.FAIL  # its pattern waiver has expired
    assert ntp["nyc-acc-sw1"].expired_waiver is not None
    assert ntp["gva-acc-sw1"].status is Status.FAIL
    assert ntp["gva-acc-sw1"].expired_waiver is None
    assert {w.expired for w in run.waivers} == {True, False}
    written = write_reports(run, tmp_path / "out", ["sarif", "html"])
    sarif = json.loads(written["sarif"].read_text())["runs"][0]["results"]
    suppressed = [r for r in sarif if r.get("suppressions")]
    assert [r["properties"]["device"] for r in suppressed] == ["kbl-acc-sw1"]
    assert suppressed[0]["suppressions"][0]["status"] == "accepted"
    html = written["html"].read_text()
    assert "expired" in html
    assert "waived by CISO until 2027-06-30" in html


def test_history_keeps_every_run_and_reports_changes(tmp_path: Path) -> None:
    d = tmp_path / "c"
    d.mkdir()
    cfg = DATA / "ios" / "ios-ntp-two-servers"
    (d / "sw1.cfg").write_text((cfg / "fail.cfg").read_text())
    out = tmp_path / "out"
    eng = Engine(today=TODAY)
    first = eng.run(FolderSource(d, "ios"))
    write_reports(first, out, ["json"])
    (d / "sw1.cfg").write_text((cfg / "pass.cfg").read_text())
    second = eng.run(FolderSource(d, "ios"))
    written = write_reports(second, out, ["html"])
    assert [h.meta.run_id for h in load_history(out)] == [first.meta.run_id, second.meta.run_id]
    html = written["html"].read_text()
    assert f"compared with {first.meta.run_id}" in html
    assert "resolved" in html


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    from netwarden.compliance.models import ComplianceError

    run = Engine(today=TODAY).run(FolderSource(evil_folder(tmp_path), "ios"))
    with pytest.raises(ComplianceError, match="pdf"):
        write_reports(run, tmp_path / "o", ["pdf"])


# ------------------------------------------------- hostile bytes in human output

FORMULA_DEVICES = ('=HYPERLINK("evil";"click")', "@SUM(1+1)", "+cmd", "-2")
HOSTILE_BANNER = "hi \x1b[2J\x1b]8;;http://evil/\x07link\x1b]8;;\x07 \u202eevil\u202c"


def hostile_folder(tmp: Path) -> Path:
    d = tmp / "configs"
    d.mkdir()
    for name in FORMULA_DEVICES:
        (d / f"{name}.cfg").write_text(f"hostname {name}\nend\n")
    # a real config around the banner: a file mostly of control characters is refused as binary
    body = "".join(f"interface GigabitEthernet1/0/{i}\n shutdown\n" for i in range(1, 49))
    (d / "esc.cfg").write_text(f"hostname esc\nbanner motd ^C\n{HOSTILE_BANNER}\n^C\n{body}end\n")
    (d / "esc.intended.cfg").write_text(f"hostname esc\n{body}end\n")
    return d


def test_csv_cells_cannot_be_formulas(tmp_path: Path) -> None:
    from netwarden.compliance.report.exports import to_csv

    run = Engine(today=TODAY).run(FolderSource(hostile_folder(tmp_path), "ios"))
    assert {r.device for r in run.results} >= set(FORMULA_DEVICES)  # the names as they are
    rows = list(csv.reader(io.StringIO(to_csv(run))))
    cells = [cell for row in rows[1:] for cell in row]
    assert cells
    starts = [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert not starts, starts[:5]
    devices = {row[1] for row in rows[1:]}
    assert {f"'{name}" for name in FORMULA_DEVICES} <= devices


def test_control_characters_are_escaped_in_csv_and_html(tmp_path: Path) -> None:
    run = Engine(today=TODAY).run(FolderSource(hostile_folder(tmp_path), "ios"))
    drift = next(r for r in run.results if r.device == "esc" and r.rule == "ios-intended-drift")
    assert any("\x1b[2J" in e.text + e.note for e in drift.evidence)  # the run keeps the bytes
    written = write_reports(run, tmp_path / "out", ["csv", "html"])
    for fmt in ("csv", "html"):
        text = written[fmt].read_text(encoding="utf-8")
        for raw in ("\x1b", "\x07", "\u202e", "\u202c"):
            assert raw not in text, (fmt, repr(raw))
        assert "\\x1b[2J" in text, fmt  # shown, visibly
        assert "\\u202eevil" in text, fmt
