"""The HTML report in headless Chromium: it renders, logs no console error, runs no device script.

Skips when /usr/bin/chromium is absent (Debian package ``chromium``). The
screenshot of the first page is saved in the test's tmp dir and copied to
``out/report-first-page.png`` for people to look at.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from netwarden.compliance.engine import Engine
from netwarden.compliance.report import write_reports
from netwarden.compliance.sources import FolderSource

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
PAYLOAD = "<script>document.title='PWNED';console.error('device script ran')</script>"
EVIL = f"""hostname evil-sw1
banner motd ^C
{PAYLOAD}
^C
username <img src=x onerror="document.title='PWNED'"> privilege 15 password 7 0822455D0A16
line vty 0 4
 login
end
"""


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp / 'chromium-profile'}",
            "--enable-logging=stderr",
            "--v=0",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, example_inventory: Path) -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium)")
    from netwarden.inventory import load_inventory

    tmp = tmp_path_factory.mktemp("report")
    configs = tmp / "configs"
    configs.mkdir()
    inv = load_inventory(example_inventory)
    try:
        from netwarden.render import render_all

        for name, text in render_all(inv).items():
            (configs / f"{name}.cfg").write_text(text)
    except ImportError:
        pass
    (configs / "evil-sw1.cfg").write_text(EVIL)
    (configs / "evil-sw1.intended.cfg").write_text("hostname evil-sw1\nend\n")
    run = Engine(inventory=inv).run(FolderSource(configs, "ios"))
    return write_reports(run, tmp / "out", ["html"])["html"]


def test_report_renders_without_console_errors_and_screenshot(report: Path) -> None:
    tmp = report.parent
    shot = tmp / "report-first-page.png"
    proc = _chromium(tmp, f"--screenshot={shot}", "--window-size=1280,1600", report.as_uri())
    assert shot.is_file(), proc.stderr[-2000:]
    assert shot.stat().st_size > 10_000
    console = [ln for ln in proc.stderr.splitlines() if re.search(r"CONSOLE|Uncaught|console", ln)]
    assert not console, console
    keep = REPO / "out" / "report-first-page.png"
    keep.parent.mkdir(exist_ok=True)
    shutil.copyfile(shot, keep)


def test_device_script_does_not_run(report: Path) -> None:
    proc = _chromium(report.parent, "--dump-dom", report.as_uri())
    dom = proc.stdout
    # 10 switches and a config the inventory does not know: page 1 says so (issue 11 point 12)
    assert "Security compliance of 10 switches (10 of 32 devices)" in dom, proc.stderr[-2000:]
    assert "and 1 device(s) not in the inventory; 22 not audited." in dom
    assert "PWNED" not in re.search(r"<title>(.*?)</title>", dom, re.S).group(1)  # type: ignore[union-attr]
    assert "<script" not in dom.lower()
    assert "&lt;script&gt;document.title=" in dom
    assert "device script ran" not in proc.stderr
