"""No secret and no raw control character reaches any output of a command or playbook.

The example inventory gets a known vault (known clear texts). Every command and
playbook that shows or stores configs runs against the simulated fleet: render,
plan (text, --summary, --json), apply without and with --yes (text, --json,
result files, -vv logs), drift (text, --json), backup, the live audit (its
reports), and ansible-playbook network.yml (--check --diff, then apply with -v
--diff), backup.yml and render.yml. Their stdout,
stderr and every file they write are searched for each secret in every form it
takes: the clear text, every type 7 string (any type-7-looking token is decoded,
so a new seed or salt cannot hide a leak), ``$1$``/``$8$``/``$9$`` hashes (the
lab's own included) and SNMPv3 localised keys.

Allowed, because they ARE the configs pushed: the rendered configs (``netwarden
render --out``, the role's output directory), 0600 files in a 0700 directory.
The backups are sanitised and are searched like any output; they keep a device's
control characters (fidelity), which the test checks too.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from netwarden.ios.secrets import type7_decode
from tests.integration.labfleet import CONFIRM_MINUTES, Lab, start_lab

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BIN = Path(sys.executable).parent
LIMIT = ("nyc-acc-sw1", "jed-core-sw1")
KNOWN_VAULT = {
    "vault_ntp_auth_key": "known-ntp-key-7421",
    "vault_tacacs_key": "known-tacacs-key-5310",
    "vault_enable_secret": "known-enable-secret-8842",
    "vault_local_admin_secret": "known-admin-secret-1197",
    "vault_snmp_auth_pass": "known-snmp-auth-6650",
    "vault_snmp_priv_pass": "known-snmp-priv-2093",
}
HOSTILE = "up \x1b[2J\x1b]8;;http://evil.example/\x07link\x1b]8;;\x07 \u202eevil"

TYPE7_TOKEN = re.compile(r"(?<![0-9A-Fa-f])(?:0\d|1[0-5])(?:[0-9A-Fa-f]{2}){3,}(?![0-9A-Fa-f])")
CRYPT_HASH = re.compile(r"\$(?:1|5|8|9)\$[./0-9A-Za-z]+")
COLON_HEX_KEY = re.compile(r"(?<![0-9A-Fa-f:])[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){11,}")
RENDERED_SECRETS = (
    re.compile(r"\bkey 7 (\S+)"),
    re.compile(r"\bntp authentication-key \d+ \S+ (\S+)"),
    re.compile(r"\bsecret 9 (\S+)"),
    re.compile(r"\bauth sha\S* (\S+)"),
    re.compile(r"\bpriv aes(?: \d+)? (\S+)"),
)


@dataclass
class Secrets:
    clear: tuple[str, ...]
    encoded: set[str] = field(default_factory=set)

    def leaks(self, text: str) -> list[str]:
        """Every secret ``text`` holds, in any form."""
        found = [f"clear text {c!r}" for c in self.clear if c in text]
        found += [f"encoded {e!r}" for e in self.encoded if e in text]
        for match in TYPE7_TOKEN.finditer(text):
            decoded = type7_decode(match[0]) or ""
            found += [f"type 7 {match[0]} of {c!r}" for c in self.clear if c in decoded]
        found += [f"hash {m[0]}" for m in CRYPT_HASH.finditer(text)]
        found += [f"SNMPv3 key {m[0]}" for m in COLON_HEX_KEY.finditer(text)]
        return found


@dataclass
class Outputs:
    """What the commands printed, by name; the files are read at the end."""

    printed: dict[str, str] = field(default_factory=dict)


@dataclass
class World:
    lab: Lab
    work: Path
    secrets: Secrets
    outputs: Outputs


def _known_inventory(repo_root: Path, out: Path) -> Path:
    from ansible.parsing.vault import VaultLib, VaultSecret

    shutil.copytree(repo_root / "inventory", out)
    password = (out / ".vault-password").read_bytes().strip()  # the example password
    vault = VaultLib([("default", VaultSecret(password))])
    (out / "group_vars" / "all" / "vault.yml").write_bytes(
        vault.encrypt(yaml.safe_dump(KNOWN_VAULT, sort_keys=True))
    )
    return out


def _secrets_of(configs: dict[str, str]) -> Secrets:
    secrets = Secrets(clear=tuple(KNOWN_VAULT.values()))
    for text in configs.values():
        for pattern in RENDERED_SECRETS:
            secrets.encoded.update(m[1] for m in pattern.finditer(text))
    type7s = {e for e in secrets.encoded if type7_decode(e) in secrets.clear}
    assert {type7_decode(e) for e in type7s} == {
        KNOWN_VAULT["vault_ntp_auth_key"],
        KNOWN_VAULT["vault_tacacs_key"],
    }, "the search must know the type 7 form of both keys"
    assert any(e.startswith("$9$") for e in secrets.encoded)
    assert any(COLON_HEX_KEY.fullmatch(e) for e in secrets.encoded)
    return secrets


@pytest.fixture(scope="module")
def world(repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("leaks")
    source = _known_inventory(repo_root, base / "inventory")
    work = base / "work"
    work.mkdir()
    with start_lab(source, base / "lab") as lab:
        yield World(lab, work, _secrets_of(lab.configs), Outputs())


def netwarden(world: World, name: str, *args: str, expect: int | None = None) -> str:
    """Run ``netwarden ARGS`` in the work directory (wide terminal: no token is wrapped)."""
    env = {**os.environ, "COLUMNS": "400", "NO_COLOR": "1"}
    result = subprocess.run(
        [str(BIN / "netwarden"), *args],
        cwd=world.work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    text = result.stdout + result.stderr
    world.outputs.printed[name] = text
    if expect is not None:
        assert result.returncode == expect, f"{name}: exit {result.returncode}\n{text}"
    return text


def playbook(world: World, name: str, cwd: Path, path: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    vault = world.lab.path / ".vault-password"  # the lab's own (else ansible.cfg's example one)
    if vault.is_file():
        args = ("--vault-password-file", str(vault), *args)
    result = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(world.lab.path), path, *args],
        cwd=cwd,  # ansible.cfg there: roles path and the example vault password file
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    text = result.stdout + result.stderr
    world.outputs.printed[name] = text
    assert result.returncode == 0, f"{name}:\n{text}"
    return text


def _drift_secrets(world: World) -> None:
    """What an engineer does by hand: another enable secret and TACACS+ key (drift shows both)."""
    for name in LIMIT:
        world.lab.manual_change(
            name,
            ["enable secret 0 hand-made-secret-1", "tacacs server jed-aaa1", "key 0 handkey-77"],
        )


def _hostile(world: World) -> None:
    """A device whose description and SNMP location hold terminal escapes and a bidi override."""
    world.lab.sim(LIMIT[0]).merge(
        f"interface Vlan10\n description {HOSTILE}\nsnmp-server location {HOSTILE}\n"
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_cli_outputs_hold_no_secret(world: World) -> None:
    limit = ["-i", str(world.lab.path), "--limit", ",".join(LIMIT)]
    confirm = ["--confirm-timeout", str(CONFIRM_MINUTES)]

    netwarden(world, "render", "render", *limit[:2], "--out", "out/configs", expect=0)
    rendered = sorted((world.work / "out" / "configs").glob("*.cfg"))
    assert rendered
    assert _mode(world.work / "out" / "configs") == 0o700
    assert all(_mode(p) == 0o600 for p in rendered)

    plan = netwarden(world, "plan", "plan", *limit, expect=0)
    assert "key 7 <removed>" in plan  # the diff is shown, the key is not
    netwarden(world, "plan --json", "plan", *limit, "--json", expect=0)
    netwarden(world, "plan --summary", "plan", *limit, "--summary", expect=0)
    netwarden(world, "apply (plan)", "apply", *limit, expect=2)
    netwarden(
        world,
        "apply --json",
        "apply",
        *limit,
        "--yes",
        *confirm,
        "--json",
        "--result-file",
        "out/demo/apply-result.json",
        expect=0,
    )
    _drift_secrets(world)
    drift = netwarden(world, "drift", "drift", *limit, expect=1)
    assert "key 7 <removed>" in drift or "key <removed>" in drift
    netwarden(world, "drift --json", "drift", *limit, "--json", expect=1)
    netwarden(world, "backup", "backup", *limit, expect=0)
    netwarden(world, "backup --json", "backup", *limit, "--json", expect=0)
    audit = ["--intended", "--out", "audit", "--format", "html,json,csv,sarif"]
    netwarden(world, "audit --intended", "audit", *limit, *audit, expect=1)  # drifted: findings
    # -vv: debug logs of every library, device output included, go through the CLI's formatter
    netwarden(world, "-vv apply", "-vv", "apply", *limit, "--yes", *confirm, expect=0)
    netwarden(world, "-vv plan", "-vv", "plan", *limit, expect=0)

    results = [world.work / "out" / "demo" / "apply-result.json"]
    results += sorted((world.work / "var" / "apply").glob("*.json"))
    assert len(results) == 2
    for path in results:
        assert _mode(path) == 0o600, path
        assert _mode(path.parent) == 0o700, path

    _assert_no_leak(world)


def test_drift_escapes_a_devices_control_characters(world: World) -> None:
    limit = ["-i", str(world.lab.path), "--limit", LIMIT[0]]
    _hostile(world)
    drift = netwarden(world, "drift (hostile)", "drift", *limit, expect=1)
    for raw in ("\x1b", "\x07", "\u202e"):
        assert raw not in drift, repr(raw)
    assert "description up \\x1b[2J\\x1b]8;;http://evil.example/\\x07link" in drift
    assert "\\u202eevil" in drift
    netwarden(world, "backup (hostile)", "backup", *limit, expect=0)
    # the backup is a copy of the device's config: its bytes are kept (not a display)
    stored = (world.work / "var" / "backups" / f"{LIMIT[0]}.cfg").read_text(encoding="utf-8")
    assert f"description {HOSTILE}" in stored
    _assert_no_leak(world)


def test_ansible_outputs_hold_no_secret(world: World, repo_root: Path) -> None:
    _drift_secrets(world)
    _hostile(world)
    common = [
        "--limit",
        ",".join(LIMIT),
        "-e",
        f"ios_baseline_output_dir={world.work / 'ansible-configs'}",
        "-e",
        f"netwarden_backup_repo={world.work / 'ansible-backups'}",
        "-e",
        f"netwarden_confirm_timeout={CONFIRM_MINUTES}",
    ]
    checked = playbook(
        world,
        "network.yml --check --diff",
        repo_root,
        "playbooks/network.yml",
        "--check",
        "--diff",
        *common,
    )
    assert "enable secret 9 <removed>" in checked  # netwarden_config's diff is shown, redacted
    assert "key 0 <removed>" in checked  # the hand-made TACACS+ key, in the device's diff
    for raw in ("\x1b", "\u202e"):
        assert raw not in checked, repr(raw)
    applied = playbook(
        world, "network.yml -v --diff", repo_root, "playbooks/network.yml", "-v", "--diff", *common
    )
    for raw in ("\x1b", "\u202e"):  # the results (-v) show the device's text escaped too
        assert raw not in applied, repr(raw)
    assert "\\u202eevil" in applied  # the hostile description, removed by the apply, shown
    backups = f"netwarden_backup_repo={world.work / 'ansible-backups'}"
    playbook(
        world, "backup.yml -v", repo_root, "playbooks/backup.yml", "-v", *common[:2], "-e", backups
    )
    _assert_no_leak(world)


def test_render_playbook_writes_to_the_projects_out_configs(world: World, repo_root: Path) -> None:
    # A copy of playbooks/ in another project: the role's default output directory
    # is that project's out/configs (playbook_dir's parent), never playbooks/out.
    project = world.work / "project"
    shutil.copytree(repo_root / "playbooks", project / "playbooks")
    out = playbook(
        world,
        "render.yml --diff",
        repo_root,
        str(project / "playbooks" / "render.yml"),
        "--diff",
        "--limit",
        ",".join(LIMIT),
    )
    assert "key 7" not in out
    configs = project / "out" / "configs"
    assert sorted(p.stem for p in configs.glob("*.cfg")) == sorted(LIMIT)
    assert not (project / "playbooks" / "out").exists()
    assert _mode(configs) == 0o700
    assert all(_mode(p) == 0o600 for p in configs.glob("*.cfg"))
    _assert_no_leak(world)


# --------------------------------------------------------------------- search

ALLOWED = ("out/configs", "ansible-configs", "project/out/configs")
"""Rendered configs: they are the configs pushed (0600 files, 0700 directories)."""


def _written_files(work: Path) -> Iterator[tuple[str, str]]:
    for path in sorted(work.rglob("*")):
        rel = path.relative_to(work).as_posix()
        if not path.is_file() or "/.git/" in f"/{rel}" or rel.startswith(ALLOWED):
            continue
        if rel.startswith("project/playbooks/"):
            continue  # the copied playbooks themselves
        yield rel, path.read_text(encoding="utf-8", errors="replace")


def _assert_no_leak(world: World) -> None:
    found = {
        f"output of {name}": world.secrets.leaks(text)
        for name, text in world.outputs.printed.items()
    }
    found.update(
        {f"file {rel}": world.secrets.leaks(text) for rel, text in _written_files(world.work)}
    )
    leaks = {where: what for where, what in found.items() if what}
    assert not leaks, leaks
