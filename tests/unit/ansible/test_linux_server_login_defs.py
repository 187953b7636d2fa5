"""roles/linux_server's ``linux_server_login_defs`` writes what its former loop of
``ansible.builtin.lineinfile`` wrote (decision 109): both run by a real
``ansible-playbook`` (local connection) on copies of the same files - the last matching
line replaced, a commented or longer key left alone, a missing key appended (after a last
line without its newline), a CRLF line rewritten, blanks before a key - byte for byte,
with the same changed result, check mode writing nothing, and a converged file left as it
is (unchanged: the second run's case)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROLE = Path(__file__).resolve().parents[3] / "roles/linux_server"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
SETTINGS = {"PASS_MAX_DAYS": 90, "UMASK": "027", "ENCRYPT_METHOD": "YESCRYPT"}
"""Three of the role's keys (each a lineinfile run per file: the old loop is the slow part)."""
FILES = {
    "stock": (
        "# login.defs\n#PASS_MAX_DAYS\t1\nPASS_MAX_DAYS\t99999\nPASS_MIN_DAYS\t0\n"
        "PASS_WARN_AGE\t7\nUMASK\t\t022\nENCRYPT_METHOD SHA512\n"
    ),
    "converged": "PASS_MAX_DAYS\t90\nPASS_MIN_DAYS\t1\nUMASK\t027\nENCRYPT_METHOD\tYESCRYPT\n",
    "duplicates": "PASS_MAX_DAYS\t90\n  PASS_MAX_DAYS 30\nUMASK\t027\nUMASK\t027\n",
    "crlf": "PASS_MAX_DAYS\t90\r\nUMASK\t027\r\n",
    "longer_key_no_newline": "PASS_MAX_DAYS_X\t5\nUMASK 022",
    "empty": "",
}
PLAY = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    settings: {settings}
    files: {files}
  tasks:
    - name: lineinfile, one key at a time (the role's former task)
      ansible.builtin.lineinfile:
        path: "{{{{ dir }}}}/lineinfile-{{{{ item.0 }}}}"
        regexp: '^\\s*{{{{ item.1.key }}}}\\s'
        line: "{{{{ item.1.key }}}}\\t{{{{ item.1.value }}}}"
        state: present
      loop: "{{{{ files | product(settings | dict2items) | list }}}}"
      register: by_lineinfile
    - name: the module, every key at once
      linux_server_login_defs:
        path: "{{{{ dir }}}}/module-{{{{ item }}}}"
        settings: "{{{{ settings }}}}"
      loop: "{{{{ files }}}}"
      register: by_module
    - name: keep what each reported
      ansible.builtin.copy:
        dest: "{{{{ dir }}}}/results.json"
        content: >-
          {{{{ {{'lineinfile': by_lineinfile.results
                 | map(attribute='item.0') | zip(by_lineinfile.results | map(attribute='changed'))
                 | list,
               'module': by_module.results | map(attribute='item')
                 | zip(by_module.results | map(attribute='changed')) | list}} | to_json }}}}
      check_mode: false
"""


def _run(work: Path, *args: str) -> dict[str, dict[str, bool]]:
    """The play on ``work``'s copies: file name to changed, for each way."""
    play = work.parent / "play.yml"
    play.write_text(PLAY.format(settings=json.dumps(SETTINGS), files=json.dumps(sorted(FILES))))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["ANSIBLE_LIBRARY"] = str(ROLE / "library")
    env["ANSIBLE_LOCALHOST_WARNING"] = "False"
    env["ANSIBLE_INVENTORY_UNPARSED_WARNING"] = "False"
    done = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(play), "-e", f"dir={work}",
         "-e", f"ansible_python_interpreter={sys.executable}", *args],
        cwd=work.parent, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    raw = json.loads((work / "results.json").read_text())
    out: dict[str, dict[str, bool]] = {way: {} for way in raw}
    for way, pairs in raw.items():
        for name, changed in pairs:
            out[way][name] = out[way].get(name, False) or bool(changed)
    return out


def test_the_module_writes_what_the_lineinfile_loop_wrote(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    for name, text in FILES.items():
        for way in ("lineinfile", "module"):
            (work / f"{way}-{name}").write_bytes(text.encode())

    checked = _run(work, "--check")
    assert checked["module"] == checked["lineinfile"], checked
    assert checked["module"] == {name: name != "converged" for name in FILES}
    for name, text in FILES.items():  # check mode wrote nothing
        assert (work / f"module-{name}").read_bytes() == text.encode(), name

    applied = _run(work)
    assert applied == checked
    for name in FILES:
        assert (work / f"module-{name}").read_bytes() == (
            work / f"lineinfile-{name}"
        ).read_bytes(), name
