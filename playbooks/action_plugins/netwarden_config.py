"""Action plugin ``netwarden_config``: plan (check mode) or apply one host's intended config.

Runs on the controller, in ansible-playbook's Python (netwarden's venv); the work
is :mod:`netwarden.config.ansible_api`'s. Options and return values are
documented in ``playbooks/library/netwarden_config.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "device": {"type": "str"},
    "inventory": {"type": "path"},
    "vault_password_file": {"type": "path"},
    "known_hosts": {"type": "path"},
    "trust_on_first_use": {"type": "bool", "default": False},
    "timeout": {"type": "float", "default": 30.0},
    "confirm_timeout": {"type": "int", "default": 10},
    "state": {"type": "str", "choices": ["applied", "planned"], "default": "applied"},
    "backup_repo": {"type": "path"},
    "message": {"type": "str", "default": ""},
    "render_vars": {"type": "dict"},
}


def _diff(name: str, device_diff: str, commands: tuple[str, ...]) -> dict[str, str]:
    """Ansible's ``prepared`` diff: the device's own diff (else the commands) under a header.

    Ansible prints it as it is: the text is already redacted (the result models),
    and its control characters are escaped here so a device cannot drive the terminal.
    """
    from netwarden.textsafe import printable  # noqa: PLC0415

    body = device_diff or "".join(f"{c}\n" for c in commands)
    return {"prepared": printable(f"--- {name} (running)\n+++ {name} (intended)\n{body}")}


_TEXT_KEYS = ("msg", "reason", "commands", "device_diff", "checks")
"""Return values people read (``-v``, failures): control characters escaped like the diff."""


def _for_people(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` with the device text of :data:`_TEXT_KEYS` escaped (Ansible prints it raw)."""
    from netwarden.textsafe import printable  # noqa: PLC0415

    def escaped(value: Any) -> Any:
        if isinstance(value, str):
            return printable(value)
        if isinstance(value, list):
            return [escaped(v) for v in value]
        if isinstance(value, dict):
            return {k: escaped(v) for k, v in value.items()}
        return value

    for key in _TEXT_KEYS:
        if key in result:
            result[key] = escaped(result[key])
    return result


class ActionModule(ActionBase):  # type: ignore[misc]  # ansible-core ships no type information
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(
        self, tmp: str | None = None, task_vars: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            from netwarden.config.ansible_api import (  # noqa: PLC0415
                apply_host,
                host_from_params,
                plan_host,
            )
            from netwarden.config.apply import ApplyOptions  # noqa: PLC0415
            from netwarden.errors import NetwardenError  # noqa: PLC0415
            from netwarden.ios.sanitize import redact_text  # noqa: PLC0415
        except ImportError as exc:
            raise AnsibleActionFail(
                f"netwarden is not importable by ansible-playbook's Python ({exc}); "
                "run ansible-playbook from netwarden's venv"
            ) from exc
        try:
            apply_options = ApplyOptions(confirm_timeout_minutes=args["confirm_timeout"])
        except ValueError as exc:
            raise AnsibleActionFail(str(exc)) from exc
        try:
            host = host_from_params(args, task_vars or {})
            if self._task.check_mode or args["state"] == "planned":
                plan = plan_host(host)
                result.update(
                    changed=plan.changed,
                    status="failed" if plan.error else "planned",
                    reason=plan.error or "",
                    commands=list(plan.commands),
                    device_diff=plan.device_diff,
                )
                if plan.error:
                    result.update(failed=True, msg=plan.error)
                elif plan.changed and self._task.diff:
                    result["diff"] = _diff(plan.device, plan.device_diff, plan.commands)
                return _for_people(result)
            repo = args["backup_repo"]
            done = apply_host(
                host,
                apply_options,
                backup_repo=Path(repo) if repo else None,
                message=args["message"],
            )
        except NetwardenError as exc:
            why = redact_text(str(exc))
            result.update(failed=True, msg=why, status="failed", reason=why)
            return _for_people(result)
        applied = done.result
        ok = applied.status.value in ("changed", "unchanged")
        result.update(
            changed=applied.status.value == "changed",
            status=applied.status.value,
            reason=applied.reason,
            commands=list(applied.commands),
            device_diff=applied.device_diff,
            checks=[c.model_dump() for c in applied.checks],
            backup_commit=done.backup_commit,
            change_commit=done.change_commit,
        )
        if done.record_error:
            why = redact_text(done.record_error)
            result["warnings"] = [f"the change was not recorded in the backup repository: {why}"]
        if not ok:
            result.update(
                failed=True, msg=f"{applied.device}: {applied.status.value}: {applied.reason}"
            )
        elif result["changed"] and self._task.diff:
            result["diff"] = _diff(applied.device, applied.device_diff, applied.commands)
        return _for_people(result)
