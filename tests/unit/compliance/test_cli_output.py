"""What ``netwarden audit`` prints, as a person sees it (issue 11 points 4, 7, 8, 11, 12, 15).

The real command in a subprocess, at 80 and 100 columns, piped and on a
terminal (a pty): the scope first, unreadable files named once each with the
reason, "not assessed" rather than 100 %, ``--limit`` terms that match
nothing named (exit 2) instead of "no device to audit", and the failures
themselves (rule, device, evidence; the ``--top`` most severe), never cropped.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from netwarden.cli.common import EXIT_FINDINGS, EXIT_USAGE
from tests.unit.terminal import column_text, run

from .conftest import DATA

BASELINE = (DATA / "ios" / "_baseline.cfg").read_text()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("configs")
    (d / "nyc-acc-sw1.cfg").write_text(BASELINE)
    (d / "nyc-acc-sw2.cfg").write_text(BASELINE)
    (d / "tool").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)))
    (d / "notes.txt").write_text("Remember to audit the switches.\n")
    return d


MODES = [(80, False), (100, False), (80, True), (100, True)]
MODE_IDS = ["80-piped", "100-piped", "80-tty", "100-tty"]


@pytest.mark.parametrize(("columns", "tty"), MODES, ids=MODE_IDS)
def test_offline_audit_output(
    folder: Path, example_inventory: Path, tmp_path: Path, columns: int, tty: bool
) -> None:
    args = ["audit", "--configs", str(folder), "-i", str(example_inventory), "-o", str(tmp_path)]
    code, out, err = run(args, columns, tty=tty)
    text = out + err
    assert code == EXIT_FINDINGS, text  # unreadable files fail the run, like live devices
    assert "Traceback" not in text
    # each unreadable file once, with the reason
    assert text.count("not a text file (NUL byte at offset 7)") == 1, text
    assert text.count("notes.txt: does not look like an IOS config") == 1, text
    flat = " ".join(text.split())
    assert (
        "Scope: 2 of the inventory's 32 devices audited (2 switches); 2 could not be read, 30 not audited."
        in flat
    )
    assert "not audited: 12 servers (linux): no config in folder" in flat
    assert "not assessed" in text  # the site of the two unreadable files
    widths = [len(line) for line in text.splitlines()]
    table = [line for line in text.splitlines() if line.startswith(("┃", "│", "┏", "└"))]
    assert table
    assert all(len(line) <= columns for line in table), table
    if not tty:  # rich wraps its own lines to the width; error lines are left to the terminal
        assert all(w <= columns for w in (len(x) for x in out.splitlines())), max(widths)


LIMITS = {
    "nyx": ("'nyx' matches no device, site or group (did you mean nyc?)", "nyx"),
    "nyc-acc-sw1,nyc-acc-sw3": ("'nyc-acc-sw3' matches no device", "nyc-acc-sw3"),
    "nyc,switchs": ("'switchs' matches no device, site or group (did you mean switches", "switchs"),
}


@pytest.mark.parametrize("limit", LIMITS, ids=list(LIMITS))
@pytest.mark.parametrize("live", [False, True], ids=["configs", "live"])
def test_a_limit_term_that_matches_nothing_is_named(
    folder: Path, example_inventory: Path, tmp_path: Path, limit: str, live: bool
) -> None:
    args = ["audit", "-i", str(example_inventory), "-o", str(tmp_path), "--limit", limit]
    if not live:  # the live audit stops before connecting to anything
        args += ["--configs", str(folder)]
    code, out, err = run(args, 100)
    assert code == EXIT_USAGE
    assert out == ""
    message, term = LIMITS[limit]
    assert err.startswith(f"error: --limit {limit!r}: ")
    assert message in err
    assert "a site (bru, gva, jed, kbl, nyc)" in err
    assert err.count(f"'{term}'") == 1 + (term == limit)  # in the limit quoted, then once
    assert not (tmp_path / "report.html").exists()


def test_a_limit_that_selects_devices_without_configs_says_so(
    folder: Path, example_inventory: Path, tmp_path: Path
) -> None:
    args = ["audit", "--configs", str(folder), "-i", str(example_inventory), "-o", str(tmp_path)]
    code, _, err = run([*args, "--limit", "gva"], 100)
    assert code == EXIT_USAGE
    assert "no device to audit: --limit 'gva' selects gva-acc-sw1, gva-acc-sw2" in err
    assert "has no config of them (it holds notes, nyc-acc-sw1, nyc-acc-sw2, tool)" in err


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


NYC_LIVE = ("nyc-acc-sw1", "nyc-acc-sw2", "nyc-fw1", "nyc-srv1")


@pytest.mark.parametrize(("columns", "tty"), MODES, ids=MODE_IDS)
def test_live_audit_names_each_unreadable_device_once(
    example_inventory: Path, tmp_path: Path, columns: int, tty: bool
) -> None:
    """nyc's switches, firewall and server on 127.0.0.1 ports nobody listens on: refused at
    once, reported once each (firewalls and servers are read live too, issue 15)."""
    inv = tmp_path / "inventory"
    shutil.copytree(example_inventory, inv)
    for name in NYC_LIVE:
        with (inv / "host_vars" / f"{name}.yml").open("a", encoding="utf-8") as f:
            f.write(f"ansible_host: 127.0.0.1\nansible_port: {_closed_port()}\n")
    args = ["audit", "-i", str(inv), "--limit", "nyc", "-o", str(tmp_path / "o"), "--timeout", "5"]
    creds = {"NETWARDEN_USERNAME": "auditor", "NETWARDEN_PASSWORD": "not-used"}
    code, out, err = run(args, columns, tty=tty, env=creds)
    text = out + err
    assert code == EXIT_FINDINGS, text
    assert "Traceback" not in text
    for name in NYC_LIVE:
        said = [line for line in text.splitlines() if f"{name}:" in line]
        assert len(said) == 1, said
        assert said[0].startswith(f"not audited: {name}: "), said
        assert "127.0.0.1" in said[0]
    flat = " ".join(text.split())
    assert (
        "Scope: 0 of the inventory's 32 devices audited; 4 could not be read, 28 not audited."
        in flat
    )


# issue 11 point 8: the failures themselves (rule, device, evidence), the top N; point 7: whole


def failure_rows(text: str) -> list[tuple[str, str, str]]:
    """(severity, rule, device) of each row of the failures table (the device under the rule)."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("┃") and " finding " in ln)
    rows: list[tuple[str, str, str]] = []
    under_rule = False
    for line in lines[start + 2 :]:
        if line.startswith("└"):
            break
        cells = [c.strip() for c in line.strip("│").split("│")]
        if line.startswith("│") and cells[0]:
            rows.append((cells[0], cells[1], ""))
            under_rule = True
        elif line.startswith("│") and under_rule:
            rows[-1] = (rows[-1][0], rows[-1][1], cells[1])
            under_rule = False
    return rows


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four switches: one clean, one failing many rules, one with markup and ESC in its evidence,
    one whose NTP failure is waived (kbl: the example inventory's waiver)."""
    d = tmp_path_factory.mktemp("failing")
    (d / "gva-acc-sw1.cfg").write_text(BASELINE)
    (d / "nyc-acc-sw2.cfg").write_text(
        (DATA / "ios" / "ios-aaa-new-model" / "fail.cfg").read_text()
    )
    (d / "kbl-acc-sw1.cfg").write_text(
        (DATA / "ios" / "ios-ntp-two-servers" / "fail.cfg").read_text()
    )
    snmp = (DATA / "ios" / "ios-snmp-no-default-community" / "fail.cfg").read_text()
    line = "snmp-server community public RO SNMP-MANAGERS"
    assert line in snmp
    (d / "nyc-acc-sw1.cfg").write_text(snmp.replace(line, line + " [bold]x[/] \x1b[2J"))
    return d


EVIDENCE = "nyc-acc-sw1.cfg:4  snmp-server community public RO SNMP-MANAGERS [bold]x[/] \\x1b[2J"
"""The critical failure's evidence line as printed: markup literal, ESC escaped."""

FAILURE_MODES = [*MODES, (0, False)]
FAILURE_IDS = [*MODE_IDS, "piped-no-columns"]


def _open_failures(report: Path) -> list[dict[str, str]]:
    import json

    results = json.loads(report.read_text())["results"]
    return [r for r in results if r["status"] in ("fail", "error")]


@pytest.mark.parametrize(("columns", "tty"), FAILURE_MODES, ids=FAILURE_IDS)
def test_audit_lists_the_most_severe_failures_whole(
    failing: Path, example_inventory: Path, tmp_path: Path, columns: int, tty: bool
) -> None:
    args = ["audit", "--configs", str(failing), "-i", str(example_inventory), "-o", str(tmp_path)]
    code, out, err = run(args, columns, tty=tty)
    text = out + err
    assert code == EXIT_FINDINGS, text
    assert "Traceback" not in text
    assert "…" not in text  # nothing ellipsized
    failures = _open_failures(tmp_path / "report.json")
    assert len(failures) > 20
    flat = " ".join(text.split())
    assert f"Failures: {len(failures)}, the 20 most severe" in flat
    more = f"and {len(failures) - 20} more failures: see the report ({tmp_path}/report.html); "
    assert "".join(more.split()) + "--top0listseveryone" in "".join(text.split())  # path folded
    rows = failure_rows(text)
    assert len(rows) == 20
    assert rows[0] == ("critical", "ios-snmp-no-default-community", "nyc-acc-sw1")
    ranks = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}
    assert [ranks[s] for s, _, _ in rows] == sorted((ranks[s] for s, _, _ in rows), reverse=True)
    # the evidence line whole: one line on a pipe, folded (not cut) at the terminal's width
    whole = "".join(EVIDENCE.split())
    assert whole in column_text(text, "finding and evidence")
    assert "ios-snmp-no-default-community" in column_text(text, "rule, device")
    if columns == 0:
        assert any(line.endswith(EVIDENCE) for line in (x.rstrip(" │") for x in out.splitlines()))
    else:
        table = [line for line in text.splitlines() if line.startswith(("┃", "│", "┏", "└"))]
        assert all(len(line) <= columns for line in table)


@pytest.mark.parametrize("top", [0, 3])
def test_audit_top_n_failures(
    failing: Path, example_inventory: Path, tmp_path: Path, top: int
) -> None:
    args = ["audit", "--configs", str(failing), "-i", str(example_inventory), "-o", str(tmp_path)]
    code, out, _ = run([*args, "--top", str(top)], 0)
    assert code == EXIT_FINDINGS
    failures = _open_failures(tmp_path / "report.json")
    rows = failure_rows(out)
    if top == 0:
        assert f"Failures: {len(failures)}\n" in out.replace(" ", "").replace(":", ": ")
        assert len(rows) == len(failures)
        assert sorted(rows, key=lambda r: (r[1], r[2])) == sorted(
            ((f["severity"], f["rule"], f["device"]) for f in failures), key=lambda r: (r[1], r[2])
        )
        assert "more failure" not in out
    else:
        assert len(rows) == top
        assert f"and {len(failures) - top} more failures: see the report" in out


def test_audit_does_not_list_waived_results_as_failures(
    failing: Path, example_inventory: Path, tmp_path: Path
) -> None:
    args = ["audit", "--configs", str(failing), "-i", str(example_inventory), "-o", str(tmp_path)]
    code, out, _ = run([*args, "--top", "0"], 0)
    assert code == EXIT_FINDINGS
    rows = failure_rows(out)
    assert "kbl-acc-sw1" in {d for _, _, d in rows}  # it fails other rules
    assert not [r for r in rows if r[1] == "ios-ntp-two-servers" and r[2] == "kbl-acc-sw1"]
    kbl = next(line for line in out.splitlines() if line.startswith("│ kbl "))
    assert [c.strip() for c in kbl.strip("│").split("│")][3] == "1"  # the waived column


def test_a_clean_audit_lists_no_failures(example_inventory: Path, tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "nyc-acc-sw1.cfg").write_text(BASELINE + "no cdp run\n")  # CDP: off on edge ports
    args = ["audit", "--configs", str(clean), "-i", str(example_inventory), "-o", str(tmp_path)]
    code, out, _ = run(args, 100)
    assert code == 0, out
    assert "Failures" not in out
