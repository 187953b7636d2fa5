#!/usr/bin/python
"""Set ``KEY<TAB>value`` lines of a login.defs-style file in one pass; check mode and diff.

What a loop of ``ansible.builtin.lineinfile`` (``regexp: '^\\s*KEY\\s'``, ``line: 'KEY<TAB>value'``)
does, one key after the other, but in one module run: a loop costs a module run over SSH
per key on every server, changed or not (decision 109).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: linux_server_login_defs
short_description: Set KEY<TAB>value lines of /etc/login.defs in one pass
description:
  - For each setting, in order, the last line that starts with the key (after optional
    blanks) and a blank is replaced by C(KEY<TAB>value); a key no line has is appended at
    the end. This is what M(ansible.builtin.lineinfile) with C(regexp='^\s*KEY\s') and
    C(line='KEY<TAB>value') does for each key, in one module run.
  - The file must exist; its owner, group and mode are kept.
options:
  path:
    description: The file.
    type: path
    default: /etc/login.defs
  settings:
    description: Key to value (C(PASS_MAX_DAYS) -> C(90)).
    type: dict
    required: true
author: netwarden
"""

EXAMPLES = r"""
- name: Set the password ageing defaults
  linux_server_login_defs:
    settings:
      PASS_MAX_DAYS: 90
      UMASK: "027"
"""

RETURN = r"""
changed_keys:
  description: The keys whose line was replaced or added (or, in check mode, would be).
  type: list
  returned: always
"""

KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def split(text: str) -> list[str]:
    """``text``'s lines as lineinfile reads them (``readlines``: split after each ``\\n``
    only, so a ``\\r\\n`` line keeps its ``\\r`` and a last line may lack its ``\\n``)."""
    parts = text.split("\n")
    return [f"{p}\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def converge(lines: list[str], settings: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The file's lines with each setting applied as lineinfile applies it, and the keys
    that changed. ``lines`` are :func:`split`'s (each keeps its ``\\n``)."""
    out = list(lines)
    changed: list[str] = []
    for key, value in settings.items():
        line = f"{key}\t{value}"
        pattern = re.compile(rf"^\s*{re.escape(key)}\s", re.ASCII)
        last = max((i for i, cur in enumerate(out) if pattern.search(cur)), default=-1)
        if last >= 0:
            if out[last] != line + "\n":
                out[last] = line + "\n"
                changed.append(key)
            continue
        if out and not out[-1].endswith(("\n", "\r")):
            out[-1] += "\n"  # ended, as lineinfile ends it: the next key reads it as a line
        out.append(line + "\n")
        changed.append(key)
    return out, changed


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "default": "/etc/login.defs"},
            "settings": {"type": "dict", "required": True},
        },
        supports_check_mode=True,
    )
    path: str = module.params["path"]
    settings: dict[str, Any] = module.params["settings"]
    for key in settings:
        if not KEY.match(key):
            module.fail_json(msg=f"linux_server_login_defs: {key!r} is not a login.defs key")
    if not Path(path).exists():
        module.fail_json(rc=257, msg=f"Destination {path} does not exist !")
    with Path(path).open(encoding="utf-8", errors="surrogateescape", newline="") as f:
        before = f.read()
    lines, changed = converge(split(before), settings)
    after = "".join(lines)
    if changed and not module.check_mode:
        fd, tmp = tempfile.mkstemp(dir=module.tmpdir)
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape", newline="") as f:
            f.write(after)
        module.atomic_move(tmp, os.path.realpath(path), unsafe_writes=False)
    diff = {
        "before": before,
        "after": after,
        "before_header": f"{path} (content)",
        "after_header": f"{path} (content)",
    }
    module.exit_json(changed=bool(changed), changed_keys=changed, diff=diff)


if __name__ == "__main__":
    main()
