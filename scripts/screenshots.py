"""The README's pictures of the terminal and the compliance report, made by the real commands.

Run ``make screenshots`` (or ``.venv/bin/python scripts/screenshots.py [--out DIR]``). It
starts the simulated fleet (``netwarden lab sim -i inventory --out lab``) in a scratch
directory and runs there, as a network engineer and an auditor would, the commands the
README shows; their output (colours included) is recorded with Rich and saved as SVG,
and the compliance report's first page (its management page) is drawn by headless
Chromium as a PNG. Nothing is staged or edited: a picture that looks wrong means the
command's output is wrong.

Written into ``docs/screenshots/``:

- ``netwarden-apply.svg``: ``plan --summary`` of the fresh fleet, then ``apply --canary 1``;
- ``netwarden-plan.svg``: a change made by hand on one switch, as ``drift`` and ``plan``
  show it;
- ``netwarden-audit.svg``: the live audit at the terminal;
- ``netwarden-report.png``: the first page of that audit's HTML report.

The lab's credentials and vault are generated at run time; before anything is written
the script checks that none of their secret values is in any picture's text (the PNG is
drawn from the HTML it checks) and fails otherwise. The dashboard pictures
(``netwarden-fleet.png`` ...) come from ``tests/integration/test_dashboards_and_alerts.py``
(dashboards/README.md).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import yaml
from rich.console import Console
from rich.text import Text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's netwarden, also when run as a script

from netwarden.cli.demobase import _manual_change  # noqa: E402
from netwarden.dashboards import chromium  # noqa: E402

COLUMNS = 100
"""The recorded terminal's width."""
START_TIMEOUT = 120.0
"""Seconds ``lab sim`` may take to write its lab inventory."""
COMMAND_TIMEOUT = 300.0
"""Seconds one recorded command may take."""
CURSOR = re.compile(r"\x1b\[\?25[lh]\n?")
"""Rich's hide/show-cursor around a (non-interactive) progress display: no output."""

console = Console(stderr=True)


def netwarden(*args: str) -> list[str]:
    """``netwarden ARGS`` as this checkout runs it."""
    return [sys.executable, "-m", "netwarden.cli", *args]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS")}
    env.update(
        COLUMNS=str(COLUMNS),
        FORCE_COLOR="1",  # colours as on a terminal ...
        TTY_INTERACTIVE="0",  # ... without the (transient) progress bar
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p),
    )
    return env


class Terminal:
    """Commands run in ``cwd``, their output recorded as a terminal would show it."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.screen = Console(record=True, width=COLUMNS, force_terminal=True, file=io.StringIO())
        self.texts: list[str] = []

    def run(
        self, shown: str, argv: Sequence[str], expect_rc: int = 0, *, record: bool = True
    ) -> str:
        """Run ``argv``, shown at the prompt as ``shown``; its output (stdout and stderr, in order).

        Every output is kept in :attr:`texts` (checked for secrets), recorded or not.
        """
        console.print(f"[dim]$ {shown}[/]")
        done = subprocess.run(
            argv,
            cwd=self.cwd,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        output = CURSOR.sub("", done.stdout).strip("\n")
        if done.returncode != expect_rc:
            raise RuntimeError(f"{shown}: exit {done.returncode}, expected {expect_rc}\n{output}")
        self.texts.append(output)
        if record:
            self.screen.print(Text("$ ", style="bold green") + Text(shown, style="bold"))
            self.screen.print(Text.from_ansi(output))
        return output

    def save(self, path: Path, title: str) -> None:
        """Write the recorded screen as SVG (and clear it: the next picture starts empty)."""
        path.write_text(self.screen.export_svg(title=title), encoding="utf-8")


@contextmanager
def simulated_fleet(work: Path) -> Iterator[Path]:
    """``netwarden lab sim -i inventory --out lab`` in ``work``, stopped with SIGTERM after."""
    lab = work / "lab"
    log_path = work / "lab-sim.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            netwarden("lab", "sim", "-i", "inventory", "--out", "lab"),
            cwd=work,
            env=_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while not (lab / "known_hosts.txt").exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"netwarden lab sim did not start:\n{log_path.read_text()}")
                time.sleep(0.2)
            yield lab
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def lab_secrets(lab: Path) -> set[str]:
    """Every secret value the lab generated or carries: its login and its vault's values."""
    creds = yaml.safe_load((lab / "group_vars" / "all" / "zz_lab_credentials.yml").read_text())
    found = {str(creds[k]) for k in ("ansible_password", "ansible_become_password")}
    vault = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-vault"),
            "view",
            "--vault-password-file",
            str(lab / ".vault-password"),
            str(lab / "group_vars" / "all" / "vault.yml"),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    found.add((lab / ".vault-password").read_text().strip())

    def leaves(value: object) -> Iterator[str]:
        if isinstance(value, dict):
            for item in value.values():
                yield from leaves(item)
        elif isinstance(value, list):
            for item in value:
                yield from leaves(item)
        elif value is not None:
            yield str(value)

    found.update(leaves(yaml.safe_load(vault.stdout)))
    return {s for s in found if len(s) >= 6}  # short values (a key id, "10") are not secrets


def report_first_page(report: Path, png: Path, scratch: Path) -> None:
    """The report's first page (``section.mgmt``, what prints on page 1) as a PNG.

    A copy of the report hides what follows page 1 and measures its height with one
    inline script (the copy's policy allows that script and still fetches nothing);
    Chromium then draws that many pixels.
    """
    binary = chromium.find()
    if binary is None:
        raise RuntimeError("chromium is not installed (scripts/debian-packages.txt lists it)")
    html = report.read_text(encoding="utf-8")
    copy = scratch / "report-page1.html"
    measure = scratch / "report-measure.html"
    page1 = html.replace("</head>", "<style>section.mgmt ~ * { display: none; }</style></head>", 1)
    copy.write_text(page1, encoding="utf-8")
    measure.write_text(
        page1.replace(
            "default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';", 1
        ).replace(
            "</body>",
            "<script>document.body.dataset.height = "
            "Math.ceil(document.documentElement.scrollHeight);</script></body>",
            1,
        ),
        encoding="utf-8",
    )
    dom = chromium.dump_dom(binary, measure)
    match = re.search(r'data-height="(\d+)"', dom.stdout)
    if dom.returncode != 0 or match is None:
        raise RuntimeError(f"chromium could not measure the report: {dom.stderr[-2000:]}")
    shot = chromium.screenshot(binary, copy, png, int(match.group(1)))
    if shot.returncode != 0 or not png.exists():
        raise RuntimeError(f"chromium could not draw the report: {shot.stderr[-2000:]}")


def make(out: Path, work: Path) -> list[Path]:
    """Run the commands in ``work`` and write the pictures into ``out`` (all or none)."""
    (work / "inventory").symlink_to(REPO / "inventory", target_is_directory=True)
    term = Terminal(work)
    written: list[Path] = []
    with simulated_fleet(work) as lab:
        term.run("netwarden plan -i lab --summary", netwarden("plan", "-i", "lab", "--summary"))
        term.run(
            "netwarden apply -i lab --yes --canary 1",
            netwarden("apply", "-i", "lab", "--yes", "--canary", "1"),
        )
        written.append(work / "netwarden-apply.svg")
        term.save(written[-1], "netwarden: plan, then apply with a canary")
        # a first audit of the converged fleet: the report's trend and changes start there
        term.run(
            "netwarden audit -i lab --intended",
            netwarden("audit", "-i", "lab", "--intended"),
            record=False,
        )
        _manual_change(lab, "nyc-acc-sw1", ["ntp server 10.9.9.9"])  # by hand, over SSH
        term.run("netwarden drift -i lab", netwarden("drift", "-i", "lab"), expect_rc=1)
        term.run(
            "netwarden plan -i lab --limit nyc-acc-sw1",
            netwarden("plan", "-i", "lab", "--limit", "nyc-acc-sw1"),
        )
        written.append(work / "netwarden-plan.svg")
        term.save(written[-1], "netwarden: a manual change, as drift and plan see it")
        term.run(
            "netwarden audit -i lab --intended",
            netwarden("audit", "-i", "lab", "--intended"),
            expect_rc=1,
        )
        written.append(work / "netwarden-audit.svg")
        term.save(written[-1], "netwarden audit: the live compliance audit")
        report = work / "out" / "compliance" / "report.html"
        secrets = lab_secrets(lab)
    texts = [*term.texts, report.read_text(encoding="utf-8")]  # the PNG is drawn from the HTML
    if any(secret in text for text in texts for secret in secrets):
        raise RuntimeError("a lab secret is in a command's output or the report: nothing written")
    written.append(work / "netwarden-report.png")
    report_first_page(report, written[-1], work)
    for path in written:
        shutil.copyfile(path, out / path.name)
    return [out / path.name for path in written]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/screenshots.py", description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    options = parser.parse_args(argv)
    options.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="netwarden-screenshots-"))
    try:
        for path in make(options.out.resolve(), work):
            console.print(f"wrote {path}")
    except (RuntimeError, subprocess.SubprocessError) as exc:
        console.print(f"[red]screenshots: {exc}[/]")
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
