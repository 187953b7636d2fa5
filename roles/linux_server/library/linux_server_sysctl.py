#!/usr/bin/python
"""Set running kernel parameters (sysctls) that differ; check mode and diff supported."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: linux_server_sysctl
short_description: Set the running value of sysctls, skipping those this host cannot set
description:
  - Writes C(/proc/sys/<name>) for each setting whose running value differs.
  - A setting that is absent or read-only here (a network namespace has only the
    per-namespace C(net.*) keys, and some of those are read-only in a namespace) is
    not an error; it is returned in C(unsettable) with the reason.
  - Only C(net.*) names are accepted - in a network namespace a C(kernel.*) or
    C(fs.*) write would change the whole machine.
options:
  settings:
    description: Name to value (C(net.ipv4.conf.all.rp_filter) -> C(1)).
    type: dict
    required: true
author: netwarden
"""

EXAMPLES = r"""
- name: Set the running network sysctls
  linux_server_sysctl:
    settings:
      net.ipv4.tcp_syncookies: 1
      net.ipv4.conf.all.rp_filter: 1
"""

RETURN = r"""
changed_keys:
  description: The names set (or, in check mode, that would be set).
  type: list
  returned: always
unsettable:
  description: Name to the reason it cannot be set here.
  type: dict
  returned: always
"""


def _path(name: str) -> Path:
    return Path("/proc/sys", *name.split("."))


def main() -> None:
    module = AnsibleModule(
        argument_spec={"settings": {"type": "dict", "required": True}},
        supports_check_mode=True,
    )
    settings: dict[str, Any] = module.params["settings"]
    changed: list[str] = []
    unsettable: dict[str, str] = {}
    before: list[str] = []
    after: list[str] = []
    for name in sorted(settings):
        wanted = " ".join(str(settings[name]).split())
        if not name.startswith("net.") or "/" in name or ".." in name:
            module.fail_json(msg=f"linux_server_sysctl: {name!r} is not a net.* sysctl name")
        path = _path(name)
        if not path.is_file():
            unsettable[name] = "not present in this kernel or network namespace"
            continue
        current = " ".join(path.read_text(encoding="ascii").split())
        if current == wanted:
            continue
        if not os.access(path, os.W_OK) or not path.stat().st_mode & 0o200:
            unsettable[name] = f"read-only here (is {current}, wanted {wanted})"
            continue
        before.append(f"{name} = {current}")
        after.append(f"{name} = {wanted}")
        changed.append(name)
        if module.check_mode:
            continue
        try:
            path.write_text(wanted + "\n", encoding="ascii")
        except OSError as exc:
            changed.remove(name)
            before.pop()
            after.pop()
            unsettable[name] = f"write refused: {exc.strerror}"
    diff = {
        "before": "".join(f"{line}\n" for line in before),
        "after": "".join(f"{line}\n" for line in after),
        "before_header": "running sysctls",
        "after_header": "running sysctls",
    }
    module.exit_json(changed=bool(changed), changed_keys=changed, unsettable=unsettable, diff=diff)


if __name__ == "__main__":
    main()
