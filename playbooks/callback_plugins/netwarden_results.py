"""Callback: per-host task results as JSON lines, for netwarden's playbook route.

``netwarden plan``/``apply`` run a device kind's playbook (servers:
``playbooks/servers.yml``) and read what happened to each host from this file
instead of parsing the terminal output
(:mod:`netwarden.config.playbook_route`). Enabled by that route only
(``ANSIBLE_CALLBACKS_ENABLED=netwarden_results``); it writes to the file named by
``NETWARDEN_RESULTS_FILE`` and does nothing without it.

One JSON object a line: ``{"event": "task", "host", "task", "status"
("ok"|"changed"|"failed"|"unreachable"), "msg", "diff"}`` per task result
(skipped tasks are left out), then ``{"event": "stats", "host", "ok", "changed",
"failures", "unreachable"}`` per host at the end. A ``no_log`` task's message and
diff are never written.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: netwarden_results
type: aggregate
short_description: per-host task results as JSON lines for netwarden plan/apply
description:
  - Writes each task result and the final per-host stats as JSON lines to the file
    named by the NETWARDEN_RESULTS_FILE environment variable.
requirements:
  - enabled with ANSIBLE_CALLBACKS_ENABLED=netwarden_results
"""

MAX_TEXT = 4000  # a message longer than this is cut (a result, not a log)


class CallbackModule(CallbackBase):  # type: ignore[misc]  # ansible-core ships no types
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "netwarden_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._path = os.environ.get("NETWARDEN_RESULTS_FILE", "")

    def _write(self, record: dict[str, Any]) -> None:
        if not self._path:
            return
        with Path(self._path).open("a", encoding="utf-8") as out:
            out.write(json.dumps(record, default=str) + "\n")

    def _task(self, result: Any, status: str) -> None:
        data = result._result
        hidden = bool(data.get("_ansible_no_log")) or bool(getattr(result._task, "no_log", False))
        msg, diff = "", ""
        if not hidden:
            msg = str(data.get("msg") or data.get("stderr") or data.get("reason") or "")
            diff = self._diff(data)
        elif status == "failed":
            msg = "the task's output is hidden (no_log)"
        self._write(
            {
                "event": "task",
                "host": result._host.get_name(),
                "task": result._task.get_name(),
                "status": status,
                "msg": msg[:MAX_TEXT],
                "diff": diff,
            }
        )

    def _diff(self, data: dict[str, Any]) -> str:
        """The changed result's diff (a loop's: every changed item's), as the default callback."""
        parts = [data] if "results" not in data else list(data["results"])
        diffs = [
            str(self._get_diff(part["diff"]) or "")
            for part in parts
            if isinstance(part, dict)
            and part.get("diff")
            and part.get("changed")
            and not part.get("_ansible_no_log")
        ]
        return "".join(diffs)

    def v2_runner_on_ok(self, result: Any) -> None:
        self._task(result, "changed" if result._result.get("changed") else "ok")

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        if not ignore_errors:
            self._task(result, "failed")

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._task(result, "unreachable")

    def v2_playbook_on_stats(self, stats: Any) -> None:
        for host in sorted(stats.processed):
            counts = stats.summarize(host)
            self._write(
                {
                    "event": "stats",
                    "host": host,
                    "ok": counts.get("ok", 0),
                    "changed": counts.get("changed", 0),
                    "failures": counts.get("failures", 0),
                    "unreachable": counts.get("unreachable", 0),
                }
            )
