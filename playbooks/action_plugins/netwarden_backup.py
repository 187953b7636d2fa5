"""Action plugin ``netwarden_backup``: back up one host's running config into a git repository.

Runs on the controller, in ansible-playbook's Python (netwarden's venv); the work
is :mod:`netwarden.config.ansible_api`'s. Options and return values are
documented in ``playbooks/library/netwarden_backup.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "device": {"type": "str"},
    "inventory": {"type": "path"},
    "repo": {"type": "path", "required": True},
    "message": {"type": "str", "default": ""},
    "vault_password_file": {"type": "path"},
    "known_hosts": {"type": "path"},
    "trust_on_first_use": {"type": "bool", "default": False},
    "timeout": {"type": "float", "default": 30.0},
}


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
                backup_host,
                backup_preview,
                current_user,
                host_from_params,
            )
            from netwarden.errors import NetwardenError  # noqa: PLC0415
            from netwarden.ios.sanitize import redact_text  # noqa: PLC0415
        except ImportError as exc:
            raise AnsibleActionFail(
                f"netwarden is not importable by ansible-playbook's Python ({exc}); "
                "run ansible-playbook from netwarden's venv"
            ) from exc
        repo = Path(args["repo"])
        commit = None
        try:
            host = host_from_params(args, task_vars or {})
            if self._task.check_mode:
                backup = backup_preview(host, repo)
            else:
                backup, commit = backup_host(
                    host, repo, user=current_user(), message=args["message"]
                )
        except NetwardenError as exc:
            result.update(failed=True, msg=redact_text(str(exc)), status="failed")
            return result
        status = backup.status.value
        result.update(
            changed=status in ("new", "changed"), status=status, path=backup.path, commit=commit
        )
        if status == "unreachable":
            result.update(
                failed=True, changed=False, msg=backup.error or f"{backup.device}: unreachable"
            )
        return result
