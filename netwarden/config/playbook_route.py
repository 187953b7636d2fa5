"""Devices an Ansible playbook converges: ``netwarden plan``/``apply`` run the playbook for them.

Switches and firewalls are planned and applied by netwarden's own sessions
(:mod:`netwarden.config.plan`, :mod:`netwarden.config.apply`); a device kind whose
apply path is an Ansible role registers its playbook here instead
(:func:`register_playbook`; servers: ``playbooks/servers.yml``, the
``linux_server`` role), and there is no second implementation of that role in
Python. For such a device:

- plan runs ``ansible-playbook <playbook> --limit <device> --check --diff``: the
  device is ``changed`` when a task would change something; ``device_diff`` is the
  tasks' diffs, ``commands`` the names of the tasks that would change;
- apply runs the playbook for real: ``changed``/``unchanged``, or ``failed`` with
  the failing task's name and message.

The ``ansible-playbook`` beside the running Python is used (netwarden's venv: the
role's lookups import netwarden). What happened to the host is read from the
JSON lines the ``netwarden_results`` callback (``playbooks/callback_plugins``)
writes, not from the terminal output. SSH host keys are checked against the same
known_hosts file as netwarden's sessions (``StrictHostKeyChecking=yes``;
``accept-new`` with ``--trust-on-first-use``), the vault password file is the one
the inventory was read with. A no_log task's output never reaches a result, and
every text field of the result models is redacted when built
(:mod:`netwarden.config.models`).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netwarden.config.models import ApplyStatus, DeviceApplyResult, DevicePlan
from netwarden.inventory.models import Device, Function
from netwarden.inventory.vault import find_vault_password_file

logger = logging.getLogger(__name__)

__all__ = [
    "HostRun",
    "PlaybookOptions",
    "TaskOutcome",
    "apply_by_playbook",
    "default_playbooks_dir",
    "plan_by_playbook",
    "playbook_for",
    "register_playbook",
    "run_playbook",
]

_PLAYBOOKS: dict[Function, str] = {}
CALLBACK = "netwarden_results"
OUTPUT_TAIL = 2000  # characters of ansible-playbook's output kept for a failure without results


def register_playbook(function: Function, playbook: str) -> None:
    """Devices of ``function`` are planned and applied by ``playbook`` (a file in playbooks/)."""
    _PLAYBOOKS[function] = playbook


def playbook_for(device: Device) -> str | None:
    """The playbook that converges ``device``; None when netwarden's sessions apply it."""
    return _PLAYBOOKS.get(device.function)


def default_playbooks_dir() -> Path:
    """``playbooks/`` of the checkout netwarden runs from (NETWARDEN_PLAYBOOKS overrides it)."""
    env = os.environ.get("NETWARDEN_PLAYBOOKS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "playbooks"


@dataclass(frozen=True)
class PlaybookOptions:
    """How to run a device's playbook.

    Attributes:
        inventory: the inventory (``-i``).
        known_hosts: the known_hosts file host keys are checked against.
        trust_on_first_use: record an unknown host key instead of refusing it.
        vault_password_file: the vault password file (default: as the inventory's
            loader finds it: environment, then ``<inventory>/.vault-password``).
        playbooks_dir: where the playbooks are (their ``callback_plugins`` beside them).
        ansible_playbook: the executable (default: the one beside this Python).
        timeout: seconds one playbook run may take.
    """

    inventory: Path
    known_hosts: Path
    trust_on_first_use: bool = False
    vault_password_file: Path | None = None
    playbooks_dir: Path = field(default_factory=default_playbooks_dir)
    ansible_playbook: Path = field(
        default_factory=lambda: Path(sys.executable).parent / "ansible-playbook"
    )
    timeout: float = 1800.0


@dataclass(frozen=True)
class TaskOutcome:
    """One task's result on the host (from the callback's JSON lines)."""

    task: str
    status: str  # ok | changed | failed | unreachable
    msg: str = ""
    diff: str = ""


@dataclass(frozen=True)
class HostRun:
    """What one playbook run did to one host."""

    device: str
    returncode: int
    tasks: tuple[TaskOutcome, ...] = ()
    stats: Mapping[str, int] | None = None
    output: str = ""  # the tail of ansible-playbook's output, for a run that gave no stats
    error: str = ""  # the run could not be started or timed out

    @property
    def changed(self) -> tuple[TaskOutcome, ...]:
        return tuple(t for t in self.tasks if t.status == "changed")

    @property
    def failure(self) -> str:
        """Why the run failed on the host ("" when it did not): the failing task and its message."""
        if self.error:
            return self.error
        bad = [t for t in self.tasks if t.status in ("failed", "unreachable")]
        if bad:
            first = bad[0]
            what = "unreachable" if first.status == "unreachable" else "failed"
            return f"task {first.task!r} {what}: {first.msg}".rstrip(": ")
        if self.stats is None:
            return (
                f"ansible-playbook exited {self.returncode} without a result for {self.device}: "
                f"{self.output.strip()[-OUTPUT_TAIL:]}"
            )
        if self.stats.get("failures") or self.stats.get("unreachable"):
            return f"ansible-playbook reported {self.device} failed or unreachable"
        return ""

    @property
    def diff(self) -> str:
        return "".join(
            t.diff if t.diff.endswith("\n") else t.diff + "\n" for t in self.tasks if t.diff
        )


def _environment(options: PlaybookOptions, results: Path) -> dict[str, str]:
    root = options.playbooks_dir.resolve().parent
    check = "accept-new" if options.trust_on_first_use else "yes"
    env = {
        **os.environ,
        "ANSIBLE_CALLBACKS_ENABLED": CALLBACK,
        "ANSIBLE_CALLBACK_PLUGINS": str(options.playbooks_dir.resolve() / "callback_plugins"),
        "NETWARDEN_RESULTS_FILE": str(results),
        "ANSIBLE_ROLES_PATH": str(root / "roles"),
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_SSH_EXTRA_ARGS": (
            f"-o UserKnownHostsFile={options.known_hosts.resolve()} -o StrictHostKeyChecking={check}"
        ),
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
    }
    vault = find_vault_password_file(options.inventory, options.vault_password_file)
    if vault is not None:
        env["ANSIBLE_VAULT_PASSWORD_FILE"] = str(vault.resolve())
    return env


def run_playbook(
    device: Device, playbook: str, options: PlaybookOptions, *, check: bool
) -> HostRun:
    """Run ``playbook`` for ``device`` alone (``--check --diff`` with ``check``); never raises."""
    path = options.playbooks_dir / playbook
    with tempfile.TemporaryDirectory(prefix="netwarden-play-") as tmp:
        results = Path(tmp) / "results.jsonl"
        argv = [
            str(options.ansible_playbook), "-i", str(options.inventory), str(path),
            "--limit", device.name, *(["--check", "--diff"] if check else []),
        ]  # fmt: skip
        logger.info("%s: %s", device.name, " ".join(argv))
        try:
            done = subprocess.run(
                argv,
                cwd=options.playbooks_dir.resolve().parent,
                env=_environment(options, results),
                capture_output=True,
                text=True,
                timeout=options.timeout,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError as exc:
            return HostRun(
                device.name, -1, error=f"cannot run {options.ansible_playbook}: {exc.strerror} "
                "(expected ansible-playbook in netwarden's venv)",
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return HostRun(
                device.name, -1, error=f"{playbook} did not finish in {options.timeout:.0f} s; "
                "the server's state is not verified",
            )  # fmt: skip
        tasks, stats = _read_results(results, device.name)
    return HostRun(
        device.name,
        done.returncode,
        tasks,
        stats,
        output=(done.stdout + done.stderr)[-OUTPUT_TAIL:],
    )


def _read_results(path: Path, host: str) -> tuple[tuple[TaskOutcome, ...], dict[str, int] | None]:
    """The callback's records for ``host``: its task results and its stats (None: no stats)."""
    if not path.exists():
        return (), None
    tasks: list[TaskOutcome] = []
    stats: dict[str, int] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        record: dict[str, Any] = json.loads(line)
        if record.get("host") != host:
            continue
        if record.get("event") == "task":
            tasks.append(
                TaskOutcome(
                    str(record["task"]),
                    str(record["status"]),
                    str(record.get("msg", "")),
                    str(record.get("diff", "")),
                )
            )
        elif record.get("event") == "stats":
            stats = {k: int(v) for k, v in record.items() if k not in ("event", "host")}
    return tuple(tasks), stats


def plan_by_playbook(device: Device, playbook: str, options: PlaybookOptions) -> DevicePlan:
    """Plan ``device`` with its playbook in check mode; a failure is ``DevicePlan.error``."""
    run = run_playbook(device, playbook, options, check=True)
    if run.failure:
        return DevicePlan(device=device.name, error=f"{playbook} --check: {run.failure}")
    changed = run.changed
    return DevicePlan(
        device=device.name,
        device_diff=run.diff,
        commands=tuple(f"{playbook}: {t.task}" for t in changed),
    )


def apply_by_playbook(
    device: Device, playbook: str, options: PlaybookOptions, wave: int = 1
) -> DeviceApplyResult:
    """Apply ``device``'s playbook: changed, unchanged, or failed with the failing task's message."""
    started = time.monotonic()
    run = run_playbook(device, playbook, options, check=False)
    took = round(time.monotonic() - started, 3)
    changed = tuple(f"{playbook}: {t.task}" for t in run.changed)
    if run.failure:
        done = f"; changed before the failure: {len(changed)} task(s)" if changed else ""
        return DeviceApplyResult(
            device=device.name,
            status=ApplyStatus.FAILED,
            reason=f"{playbook}: {run.failure}{done}",
            wave=wave,
            commands=changed,
            device_diff=run.diff,
            duration_seconds=took,
        )
    return DeviceApplyResult(
        device=device.name,
        status=ApplyStatus.CHANGED if changed else ApplyStatus.UNCHANGED,
        wave=wave,
        commands=changed,
        device_diff=run.diff,
        duration_seconds=took,
    )


register_playbook(Function.SERVER, "servers.yml")  # roles/linux_server
