#!/usr/bin/python
"""What the linux_server role needs to know about a server before it changes anything."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import struct
import subprocess
from pathlib import Path
from typing import Any

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: linux_server_facts
short_description: Read-only facts for the linux_server role
description:
  - The service manager (C(systemd) when /run/systemd/system exists, C(netwarden-lab)
    on a namespace lab server, whose pid 1 is netwarden's holder, else C(none)).
  - The algorithms the installed OpenSSH supports (C(ssh -Q cipher|kex|mac)).
  - Whether the kernel's audit interface answers here (an AUDIT_GET over netlink);
    a process outside the initial pid or user namespace (a container, a namespace
    lab server) is refused, so auditd cannot run there.
  - For each requested sysctl, its current value and whether it can be set here (a
    network namespace has only the per-namespace C(net.*) keys, some read-only).
  - Which of the named Debian packages are installed, the primary group of a user,
    and which of the named programs run.
options:
  sysctls:
    description: sysctl names (C(net.ipv4.tcp_syncookies)) to read.
    type: list
    elements: str
    default: []
  packages:
    description: Debian package names to look up with dpkg-query.
    type: list
    elements: str
    default: []
  user:
    description: A user whose primary group is reported (the automation user).
    type: str
    default: ""
  programs:
    description: Program names (/proc/<pid>/comm, first 15 characters) to look for.
    type: list
    elements: str
    default: []
author: netwarden
"""

EXAMPLES = r"""
- name: Read the server's facts
  linux_server_facts:
    sysctls: [net.ipv4.tcp_syncookies]
    packages: [auditd, libpam-pwquality]
    user: netwarden
    programs: [chronyd]
  register: probe
"""

RETURN = r"""
linux_server:
  description: The facts (service_manager, ssh, audit, sysctls, packages, user_group, running).
  type: dict
  returned: always
"""

LAB_UNIT_SCRIPT = "/usr/local/sbin/netwarden-lab-unit"
NETLINK_AUDIT = 9
AUDIT_GET = 1000
NLMSG_ERROR = 2
NLM_F_REQUEST = 1
NLM_F_ACK = 4


def _service_manager(root: Path = Path("/")) -> str:
    """systemd's own test (sd_booted: /run/systemd/system is a directory), then the lab
    holder's unit control; ``root`` is for tests (a server's tree elsewhere)."""
    if (root / "run/systemd/system").is_dir():
        return "systemd"
    if (root / LAB_UNIT_SCRIPT.lstrip("/")).is_file():
        return "netwarden-lab"
    return "none"


def _ssh_algorithms() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    ssh = shutil.which("ssh") or "/usr/bin/ssh"
    for query in ("cipher", "kex", "mac"):
        try:
            done = subprocess.run(
                [ssh, "-Q", query], capture_output=True, text=True, timeout=10, check=False
            )
        except OSError:
            out[query] = []
            continue
        out[query] = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    return out


def _audit() -> dict[str, Any]:
    """Ask the kernel for the audit status; the answer (or the refusal) says if auditd can run."""
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
    except OSError as exc:
        return {"available": False, "reason": f"no audit netlink socket: {exc.strerror}"}
    with sock:
        sock.settimeout(2.0)
        try:
            sock.bind((0, 0))
            header = struct.pack("=IHHII", 16, AUDIT_GET, NLM_F_REQUEST | NLM_F_ACK, 1, 0)
            sock.send(header)
            data = sock.recv(8192)
        except OSError as exc:
            return {"available": False, "reason": f"audit netlink: {exc.strerror or exc}"}
    if len(data) >= 20:
        kind = struct.unpack("=H", data[4:6])[0]
        if kind == NLMSG_ERROR:
            errno_ = -struct.unpack("=i", data[16:20])[0]
            if errno_:
                return {
                    "available": False,
                    "reason": f"the kernel refuses audit requests here: {os.strerror(errno_)} "
                    "(auditing belongs to the initial pid and user namespace)",
                }
    return {"available": True, "reason": ""}


def _sysctls(names: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        path = Path("/proc/sys", *name.split("."))
        entry: dict[str, Any] = {"present": path.is_file(), "value": None, "writable": False}
        if entry["present"]:
            try:
                entry["value"] = " ".join(path.read_text(encoding="ascii").split())
            except OSError:
                entry["present"] = False
            entry["writable"] = os.access(path, os.W_OK) and bool(path.stat().st_mode & 0o200)
        out[name] = entry
    return out


def _packages(names: list[str]) -> dict[str, bool]:
    if not names:
        return {}
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${db:Status-Status}\n", *names],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    installed = {
        line.split()[0] for line in done.stdout.splitlines() if line.endswith(" installed")
    }
    return {name: name in installed for name in names}


def _user_group(user: str) -> str:
    if not user:
        return ""
    try:
        return grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name
    except KeyError:
        return ""


def _running(programs: list[str]) -> list[str]:
    wanted = {p[:15]: p for p in programs}
    found: set[str] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text(encoding="utf-8").strip()
        except OSError:
            continue
        if comm in wanted:
            found.add(wanted[comm])
    return sorted(found)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "sysctls": {"type": "list", "elements": "str", "default": []},
            "packages": {"type": "list", "elements": "str", "default": []},
            "user": {"type": "str", "default": ""},
            "programs": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    params = module.params
    facts = {
        "service_manager": _service_manager(),
        "ssh": _ssh_algorithms(),
        "audit": _audit(),
        "sysctls": _sysctls(params["sysctls"]),
        "packages": _packages(params["packages"]),
        "user_group": _user_group(params["user"]),
        "running": _running(params["programs"]),
    }
    module.exit_json(changed=False, linux_server=facts)


if __name__ == "__main__":
    main()
