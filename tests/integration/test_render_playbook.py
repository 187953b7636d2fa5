"""The ios_baseline role writes byte-identical configs to `netwarden render`, and is idempotent."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from netwarden.inventory import load_inventory
from netwarden.render import render_all

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
RECAP = re.compile(
    r"^(?P<host>\S+)\s+: ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+).*failed=(?P<failed>\d+)", re.M
)


def _play(repo: Path, out: Path, *extra: str) -> dict[str, tuple[int, int]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = f"{ANSIBLE_PLAYBOOK.parent}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(
        [
            str(ANSIBLE_PLAYBOOK),
            "-i",
            "inventory",
            "playbooks/render.yml",
            "-e",
            f"ios_baseline_output_dir={out}",
            *extra,
        ],
        cwd=repo,  # ansible.cfg there names the example vault password file
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    recap = {
        m["host"]: (int(m["changed"]), int(m["failed"])) for m in RECAP.finditer(result.stdout)
    }
    assert recap, result.stdout
    return recap


def test_playbook_matches_cli_and_is_idempotent(
    repo_root: Path, example_inventory: Path, tmp_path: Path
) -> None:
    out = tmp_path / "configs"
    expected = render_all(load_inventory(example_inventory))

    check = _play(repo_root, out, "--check")
    assert not out.exists() or not any(out.iterdir()), "check mode wrote files"
    assert set(check) == set(expected)

    first = _play(repo_root, out)
    assert set(first) == set(expected)
    assert all(changed >= 1 and failed == 0 for changed, failed in first.values())
    written = {p.stem: p.read_bytes() for p in out.glob("*.cfg")}
    assert written == {name: text.encode() for name, text in expected.items()}

    second = _play(repo_root, out)
    assert all(changed == 0 and failed == 0 for changed, failed in second.values()), second

    # a hand edit is put back, and only that device changes
    victim = out / "gva-acc-sw1.cfg"
    victim.write_text(victim.read_text().replace("no ip http server", "ip http server"))
    third = _play(repo_root, out)
    assert {h for h, (changed, _f) in third.items() if changed} == {"gva-acc-sw1"}
    assert victim.read_bytes() == expected["gva-acc-sw1"].encode()
