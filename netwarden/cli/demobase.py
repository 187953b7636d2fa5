"""What every ``make demo`` step module shares: the console, the step record, the CLI argv."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from netwarden.cli.common import ReadableConsole

console = ReadableConsole()  # full width when piped: the demo log is read whole
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Step:
    title: str
    argv: Sequence[str]
    explain: str
    expect_rc: int = 0
    before: Callable[[], None] | None = None  # e.g. a manual change the step then detects


def _netwarden(*args: str) -> list[str]:
    return [sys.executable, "-m", "netwarden.cli", *args]


def wait_for_text(path: Path, text: str, seconds: float) -> None:
    """Until ``path`` holds ``text`` or ``seconds`` have passed (the step then shows the miss)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if text in path.read_text(encoding="utf-8"):
                return
        except OSError:
            pass
        time.sleep(0.5)


def _manual_change(lab: Path, device: str, commands: list[str]) -> None:
    """What an engineer does by hand on a switch: a config change over SSH (Netmiko)."""
    import yaml  # noqa: PLC0415
    from netmiko import ConnectHandler  # noqa: PLC0415

    from netwarden.lab.sim.labdir import CREDENTIALS_FILE, KNOWN_HOSTS_FILE  # noqa: PLC0415

    creds = yaml.safe_load((lab / CREDENTIALS_FILE).read_text())
    host = yaml.safe_load((lab / "host_vars" / f"{device}.yml").read_text())
    with ConnectHandler(
        device_type="cisco_ios",
        host=host["ansible_host"],
        port=host["ansible_port"],
        username=creds["ansible_user"],
        password=creds["ansible_password"],
        secret=creds["ansible_become_password"],
        ssh_strict=True,
        system_host_keys=False,
        alt_host_keys=True,
        alt_key_file=str(lab / KNOWN_HOSTS_FILE),
    ) as conn:
        conn.enable()
        conn.send_config_set(commands)
