"""``playbooks/compliance.yml`` runs ``netwarden audit`` and copies the report into a local dir.

Offline on the rendered configs of the example inventory (they pass every
applicable rule: the play succeeds), and live on two switches of the simulated
fleet (boot configs fail: the play copies the report, then fails).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from netwarden.inventory import load_inventory
from netwarden.render import render_all
from tests.integration.labfleet import Lab, start_lab

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
REPORTS = ("report.html", "report.json", "report.csv", "report.sarif")


def play(repo: Path, inventory: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "NETWARDEN_"))}
    env["PATH"] = f"{ANSIBLE_PLAYBOOK.parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), "playbooks/compliance.yml", *extra],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


@pytest.fixture
def lab(example_inventory: Path, tmp_path: Path) -> Iterator[Lab]:
    with start_lab(example_inventory, tmp_path / "lab") as lab:
        yield lab


def test_offline_audit_of_rendered_configs(
    repo_root: Path, example_inventory: Path, tmp_path: Path
) -> None:
    configs = tmp_path / "configs"
    configs.mkdir()
    for name, text in render_all(load_inventory(example_inventory)).items():
        (configs / f"{name}.cfg").write_text(text, encoding="utf-8")
    out, reports = tmp_path / "out", tmp_path / "reports"

    result = play(
        repo_root,
        example_inventory,
        "-e",
        f"compliance_configs={configs}",
        "-e",
        f"compliance_out_dir={out}",
        "-e",
        f"compliance_report_dir={reports}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in reports.iterdir()) == sorted(REPORTS)
    report = json.loads((reports / "report.json").read_text(encoding="utf-8"))
    assert report["meta"]["source"] == f"folder {configs}"
    assert len(report["devices"]) == 10
    assert {r["status"] for r in report["results"]} <= {"pass", "not_applicable", "waived"}
    assert len(list((out / "history").glob("*.json"))) == 1


def test_live_audit_copies_the_report_then_fails_on_findings(
    repo_root: Path, lab: Lab, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    result = play(
        repo_root,
        lab.path,
        "--vault-password-file",
        str(lab.path / ".vault-password"),
        "-e",
        "compliance_limit=gva-acc-sw1,nyc-acc-sw2",
        "-e",
        f"compliance_out_dir={tmp_path / 'out'}",
        "-e",
        f"compliance_report_dir={reports}",
        "-e",
        "compliance_formats=html,json",
    )
    assert result.returncode == 2, result.stdout + result.stderr  # the play failed on findings
    assert "the audit found unwaived failures or errors" in result.stdout
    assert sorted(p.name for p in reports.iterdir()) == ["report.html", "report.json"]
    report = json.loads((reports / "report.json").read_text(encoding="utf-8"))
    assert report["meta"]["source"].startswith("live: 2 device(s)")
    assert [d["name"] for d in report["devices"]] == ["gva-acc-sw1", "nyc-acc-sw2"]
    assert all(d["error"] == "" for d in report["devices"])
    assert "fail" in {r["status"] for r in report["results"]}
