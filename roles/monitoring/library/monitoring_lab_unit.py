#!/usr/bin/python
"""Start or restart a monitoring unit of a netwarden namespace lab server (its holder is pid 1)."""

from __future__ import annotations

from pathlib import Path

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: monitoring_lab_unit
short_description: Start or restart a monitoring unit on a netwarden namespace lab server
description:
  - A lab server has no systemd; its holder (pid 1) runs the daemons and restarts one
    on request (C(/usr/local/sbin/netwarden-lab-unit restart <unit>), see
    netwarden/lab/ns/units.py). This module is that request with check mode.
  - C(started) asks only when no process's command line contains C(match) (the
    exporters are Python processes, whose name does not tell them apart, and the
    lab's own Prometheus runs another configuration than the role's);
    C(restarted) always asks.
options:
  name:
    description: The unit (C(prometheus), C(prometheus-node-exporter), C(netwarden-exporter),
      C(netwarden-access-exporter)).
    type: str
    required: true
  state:
    description: C(started) or C(restarted).
    type: str
    choices: [started, restarted]
    default: started
  match:
    description: Text the running daemon's command line (arguments joined by spaces)
      contains, for C(started); default the unit's name.
    type: str
    default: ""
author: netwarden
"""

EXAMPLES = r"""
- name: Run the device exporter on a lab server
  monitoring_lab_unit:
    name: netwarden-exporter
    match: netwarden.cli exporter serve
"""

RETURN = r"""
result:
  description: The holder's answer (C(ok <pid>)), empty when nothing was asked.
  type: str
  returned: always
"""

SCRIPT = "/usr/local/sbin/netwarden-lab-unit"


def _running(match: str) -> bool:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                raw = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if match in raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace"):
                return True
    return False


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["started", "restarted"], "default": "started"},
            "match": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    name, state, match = (module.params[k] for k in ("name", "state", "match"))
    if not Path(SCRIPT).is_file():
        module.fail_json(msg=f"{SCRIPT} is missing: not a netwarden namespace lab server")
    if state == "started" and _running(match or name):
        module.exit_json(changed=False, result="")
    if module.check_mode:
        module.exit_json(changed=True, result="")
    code, out, err = module.run_command([SCRIPT, "restart", name])
    if code != 0:
        module.fail_json(msg=f"lab unit {name}: {(err or out).strip()}", rc=code)
    module.exit_json(changed=True, result=out.strip())


if __name__ == "__main__":
    main()
