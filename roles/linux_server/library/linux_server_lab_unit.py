#!/usr/bin/python
"""Start or restart a daemon of a netwarden namespace lab server (its holder is pid 1)."""

from __future__ import annotations

from pathlib import Path

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: linux_server_lab_unit
short_description: Start or restart a daemon on a netwarden namespace lab server
description:
  - A lab server has no systemd; its holder (pid 1) runs the daemons and restarts one
    on request (C(/usr/local/sbin/netwarden-lab-unit restart <unit>), see
    netwarden/lab/ns/units.py). This module is that request with check mode.
  - C(started) asks only when no process named C(program) runs; C(restarted) always asks.
options:
  name:
    description: The unit (C(ssh), C(chrony), C(rsyslog), C(prometheus-node-exporter)).
    type: str
    required: true
  state:
    description: C(started) or C(restarted).
    type: str
    choices: [started, restarted]
    default: started
  program:
    description: The daemon's process name (/proc/<pid>/comm) for C(started).
    type: str
    default: ""
author: netwarden
"""

EXAMPLES = r"""
- name: Restart sshd on a lab server
  linux_server_lab_unit:
    name: ssh
    state: restarted
"""

RETURN = r"""
result:
  description: The holder's answer (C(ok <pid>)), empty when nothing was asked.
  type: str
  returned: always
"""

SCRIPT = "/usr/local/sbin/netwarden-lab-unit"


def _running(program: str) -> bool:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text(encoding="utf-8").strip() == program[:15]:
                    return True
            except OSError:
                continue
    return False


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["started", "restarted"], "default": "started"},
            "program": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    name, state, program = (module.params[k] for k in ("name", "state", "program"))
    if not Path(SCRIPT).is_file():
        module.fail_json(msg=f"{SCRIPT} is missing: not a netwarden namespace lab server")
    if state == "started" and _running(program or name):
        module.exit_json(changed=False, result="")
    if module.check_mode:
        module.exit_json(changed=True, result="")
    code, out, err = module.run_command([SCRIPT, "restart", name])
    if code != 0:
        module.fail_json(msg=f"lab unit {name}: {(err or out).strip()}", rc=code)
    module.exit_json(changed=True, result=out.strip())


if __name__ == "__main__":
    main()
