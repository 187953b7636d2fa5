"""The lab inventory: the source inventory, copied, with the lab's credentials and host keys.

The lab directory is an inventory in the format of ``inventory/`` (``-i <lab>`` works
for every command, and ``netwarden inventory check`` passes whenever the source
passes):

- the source's files, its vault re-encrypted with a fresh random password in
  ``.vault-password`` (0600; :func:`netwarden.lab.sim.fleet.rekey_vault`);
- ``group_vars/all/zz_lab.yml``: the automation user ``netwarden``, its private key
  (``.lab/ssh/id_ed25519``, generated at ``up``), the SSH options that check host
  keys against the lab's ``known_hosts.txt`` and the lab's own directory of Ansible
  control sockets (:func:`control_path_dir`: two labs from one inventory never share a
  connection);
- ``group_vars/all/zz_lab_vault.yml``: the simulated switches' generated passwords,
  vault-encrypted; each switch's host_vars refer to its site's pair; and the lab's
  TACACS+ logins' passwords (``vault_lab_tacacs_<user>_password``, ``lab.ns.aaa``);
- ``known_hosts.txt``: every host key (switches and Linux hosts) on every address;
- the compliance waivers the lab itself needs (:func:`write_lab_waivers`): auditd cannot
  run in a namespace, so the lab's servers carry a dated waiver for the two auditd
  rules of the linux pack, added to the copy of the file that defines ``compliance``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import yaml

from netwarden.errors import LabError
from netwarden.inventory.vault import VAULT_PASSWORD_FILENAME
from netwarden.lab.ns import netops
from netwarden.lab.ns.record import Recorder
from netwarden.lab.ns.state import LAB_MARKER, WORK_DIR, work_dir
from netwarden.privatefile import private_dir

logger = logging.getLogger(__name__)

LAB_VARS_FILE = "group_vars/all/zz_lab.yml"
LAB_VAULT_FILE = "group_vars/all/zz_lab_vault.yml"
KNOWN_HOSTS_FILE = "known_hosts.txt"  # .txt: Ansible does not read it as an inventory source
SSH_KEY_NAME = "id_ed25519"
AUTOMATION_USER = "netwarden"
LAB_WAIVER_RULES = ("linux-auditd-running", "linux-audit-rules-loaded")
LAB_WAIVER_DAYS = 30
LAB_WAIVER_APPROVER = "netwarden lab up"
LAB_WAIVER_REASON = (
    "Namespace lab: the kernel answers audit (netlink) requests only from its initial "
    "pid and user namespaces, so auditd cannot run on a lab server (roles/linux_server "
    "reports it as a limitation); on real servers the rule applies. Written by netwarden lab up."
)
NOT_COPIED = (LAB_MARKER, WORK_DIR, ".netwarden-locks", KNOWN_HOSTS_FILE, VAULT_PASSWORD_FILENAME)


@dataclass(frozen=True)
class SwitchLogin:
    """A site's simulated switches' login (generated at ``up``; never logged)."""

    username: str
    password: str = field(repr=False)
    enable_secret: str = field(repr=False)


def copy_inventory(source: Path, out: Path) -> Path:
    """Copy ``source`` into ``out`` with a fresh vault password; return the password file."""
    from netwarden.lab.sim.labdir import rekey_vault  # noqa: PLC0415 - Ansible: heavy

    if not source.is_dir():
        raise LabError(f"{source}: the lab is built from an inventory directory")
    shutil.copytree(source, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*NOT_COPIED))
    try:
        return rekey_vault(source, out)
    except ValueError as exc:
        raise LabError(str(exc)) from exc


def automation_keypair(lab_dir: Path, record: Recorder) -> tuple[Path, str]:
    """The automation user's SSH key pair (ed25519, no passphrase, 0600): (private key, public line)."""
    ssh_dir = private_dir(work_dir(lab_dir) / "ssh")
    key = ssh_dir / SSH_KEY_NAME
    record("file", str(key), role="automation key")
    for stale in (key, key.with_suffix(".pub")):
        stale.unlink(missing_ok=True)
    netops.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "netwarden-lab", "-f", str(key)]
    )
    return key, key.with_suffix(".pub").read_text(encoding="utf-8").strip()


def _dump(path: Path, data: object, header: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)
    path.write_text(f"---\n# {header}\n{text}", encoding="utf-8")


def control_path_dir(prefix: str) -> Path:
    """The directory of the lab's Ansible SSH control sockets: ``~/.ansible/cp/<prefix>``.

    Ansible names a control socket after the host, port and user only (``~/.ansible/cp/``
    and a hash of them) and reuses any live master it finds there for ``ControlPersist``
    (60 s). Every lab built from one inventory has the same addresses and automation
    user, and a control socket is a file every network namespace reaches: without a
    directory of its own, Ansible in one lab would run its tasks over a master another
    lab opened, on that lab's server (host key not checked again: the master is already
    authenticated). The lab's prefix is unique among running labs; the path stays far
    below the 107 bytes a socket path may have.
    """
    return Path("~/.ansible/cp").expanduser() / prefix


def write_lab_vars(out: Path, key: Path, control_dir: Path | None = None) -> None:
    """``group_vars/all/zz_lab.yml``: how Ansible logs in to the lab's Linux hosts
    (``control_dir``: the lab's own control sockets, :func:`control_path_dir`)."""
    known_hosts = (out / KNOWN_HOSTS_FILE).resolve()
    control = {} if control_dir is None else {"ansible_control_path_dir": str(control_dir)}
    _dump(
        out / LAB_VARS_FILE,
        {
            "netwarden_lab": True,
            # the address Ansible's ssh connects to (netwarden's own sessions default to it)
            "ansible_host": "{{ mgmt_address }}",
            "ansible_user": AUTOMATION_USER,
            "ansible_ssh_private_key_file": str(key.resolve()),
            "ansible_ssh_common_args": (
                f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes"
            ),
            **control,
            # roles/linux_server: the lab has no time source but its NTP servers' own
            # clocks, so they answer as orphans (stratum 8), as the lab's chrony does
            "linux_server_chrony_orphan_stratum": 8,
            # and forwards its logs over TLS (tcp/6514), checking the log server's
            # certificate with the lab CA every server has (services/labtls.py)
            "linux_server_rsyslog_protocol": "tcp",
            "linux_server_rsyslog_port": 6514,
            "linux_server_rsyslog_tls_ca_file": "/etc/netwarden-lab/tls/ca.crt",
        },
        "written by netwarden lab up: the lab's automation user (key generated at up)",
    )


def write_switch_logins(
    out: Path,
    logins: Mapping[str, SwitchLogin],
    switches: Mapping[str, str],
    extra: Mapping[str, str] | None = None,
) -> None:
    """Vault the switches' passwords per site; point each switch's host_vars at its site's.

    ``logins``: site -> login; ``switches``: switch name -> site; ``extra``: more
    generated secrets for the same vault (the lab's TACACS+ passwords).
    """
    from ansible.parsing.vault import VaultLib, VaultSecret  # noqa: PLC0415

    if not logins and not extra:
        return
    password = (out / VAULT_PASSWORD_FILENAME).read_bytes().strip()
    secrets_doc = dict(extra or {})
    for site, site_login in sorted(logins.items()):
        secrets_doc[f"vault_lab_{site}_switch_password"] = site_login.password
        secrets_doc[f"vault_lab_{site}_switch_enable"] = site_login.enable_secret
    plain = yaml.safe_dump(secrets_doc, sort_keys=False)
    vaulted = VaultLib([("default", VaultSecret(password))]).encrypt(plain)
    target = out / LAB_VAULT_FILE
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(vaulted)
    for name, site in sorted(switches.items()):
        if site not in logins:
            continue
        login = logins[site]
        host_file = out / "host_vars" / f"{name}.yml"
        if not host_file.is_file():
            raise LabError(f"{out}: no host_vars/{name}.yml for the simulated switch {name}")
        data = yaml.safe_load(host_file.read_text(encoding="utf-8")) or {}
        data.update(
            {
                "ansible_user": login.username,
                "ansible_password": f"{{{{ vault_lab_{site}_switch_password }}}}",
                "ansible_become_password": f"{{{{ vault_lab_{site}_switch_enable }}}}",
                "ansible_network_os": "cisco.ios.ios",
            }
        )
        _dump(host_file, data, f"{name}: written by netwarden lab up (login in {LAB_VAULT_FILE})")


def _compliance_file(out: Path) -> Path:
    """The copied ``group_vars/all`` file that defines ``compliance`` (plain YAML)."""
    candidates = [out / "group_vars" / "all.yml", out / "group_vars" / "all.yaml"]
    folder = out / "group_vars" / "all"
    if folder.is_dir():
        candidates += sorted(p for p in folder.iterdir() if p.suffix in (".yml", ".yaml"))
    for path in candidates:
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        if "$ANSIBLE_VAULT" in text.split("\n", 1)[0]:
            continue
        data = yaml.safe_load(text)
        if isinstance(data, dict) and isinstance(data.get("compliance"), dict):
            return path
    raise LabError(
        f"{out}: no group_vars/all file defines 'compliance' in plain YAML "
        "(the lab adds its auditd waivers there)"
    )


def write_lab_waivers(out: Path, servers: Iterable[str], today: date) -> Path | None:
    """Waive the linux pack's auditd rules on the lab's servers, until ``today`` + 30 days.

    One waiver per (rule, server), approver ``netwarden lab up``, the reason in
    :data:`LAB_WAIVER_REASON`; appended to the waivers of the lab's copy of the file
    that defines ``compliance`` (a second definition would replace it in Ansible's
    merge). The rules themselves are not changed: the report shows the failures as
    waived, with the evidence (``auditctl``'s refusal) and this reason; a lab kept
    longer than the expiry shows them failed, with the expired waiver.
    """
    names = sorted(set(servers))
    if not names:
        return None
    path = _compliance_file(out)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    compliance = data["compliance"]
    expires = today + timedelta(days=LAB_WAIVER_DAYS)
    lab_waivers = [
        {
            "rule": rule,
            "scope": {"device": name},
            "justification": LAB_WAIVER_REASON,
            "approver": LAB_WAIVER_APPROVER,
            "expires": expires,
        }
        for name in names
        for rule in LAB_WAIVER_RULES
    ]
    compliance["waivers"] = [*(compliance.get("waivers") or []), *lab_waivers]
    _dump(
        path,
        data,
        f"the source's {path.relative_to(out)}, with the lab's auditd waivers for "
        f"{len(names)} server(s) appended by netwarden lab up (they expire {expires.isoformat()})",
    )
    return path


def write_known_hosts(out: Path, lines: Iterable[str]) -> Path:
    path = out / KNOWN_HOSTS_FILE
    text = "".join(f"{line.strip()}\n" for line in lines if line.strip())
    path.write_text(text, encoding="utf-8")
    return path


def check_lab_inventory(out: Path) -> list[str]:
    """Problems ``netwarden inventory check`` reports on the lab inventory (none expected).

    Run as its own process, as an engineer would: Ansible caches the files of an
    inventory it has read per process, and the parts read the lab inventory before
    its last files (the switches' vault) were written.
    """
    done = netops.run(
        [
            sys.executable, "-m", "netwarden.cli", "inventory", "check", "-i", str(out),
            "--vault-password-file", str(out / VAULT_PASSWORD_FILENAME), "--json",
        ],
        check=False,
        timeout=300,
    )  # fmt: skip
    try:
        report = json.loads(done.stdout)
    except ValueError:
        return [f"netwarden inventory check failed ({done.returncode}): {done.stderr.strip()}"]
    return [
        f"{p['file']}:{p['line']}: {p['key']}: {p['message']}" for p in report.get("problems", [])
    ]
