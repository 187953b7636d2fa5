"""The README's commands, copied as written, work (issue 19).

Every line of the README's ```` ```sh ```` blocks is a command run from the repository
root (``#`` comments and ``\\`` continuations as the shell reads them). The README's
convention: a word in CAPITALS (``CAPTURE``, ``INTERFACE``) is a placeholder for the
reader's value; here it stands for its lower-case self (``capture``).

- **netwarden** (``.venv/bin/netwarden``, also after ``sudo``): Click parses the line as
  the CLI would, without running it: the command and subcommand exist, every option
  exists, values have their type and required options are there. ``lab exec NODE --
  netwarden ...`` is checked inside too. The lines that need no device (inventory check
  and show, render, audit --configs, monitoring config, dashboards generate) also run
  for real, in order, in a scratch directory whose ``inventory`` is the repository's.
- **make**: each target is one of the Makefile's.
- **Ansible** (``.venv/bin/ansible-*``): every option is in the tool's ``--help``.
- **Files**: a path into the repository (``playbooks/network.yml``,
  ``dashboards/rules/tests/*.test.yml``) exists, except those the commands create
  (:data:`CREATED`).
- Any other program must be one the README is known to use (:data:`PROGRAMS`), so a line
  of prose slipped into a block is caught.

The negative tests give a README copy a wrong option, subcommand, value, make target,
file or Ansible option, and expect each to be reported.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.main
from typer._click import ClickException
from typer.core import TyperGroup

from netwarden.cli.app import app

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"

FENCE = re.compile(r"^(?P<indent>[ \t]*)```sh\n(?P<body>.*?)^(?P=indent)```", re.S | re.M)
PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_]+")
NETWARDEN = (".venv/bin/netwarden", "netwarden")
PROGRAMS = {"make", "curl", "promtool", "amtool", "ssh-keygen", "export"}
"""Programs other than netwarden and the venv's Ansible that README commands may run."""
CREATED = {"inventory/known_hosts.txt"}
"""Repository paths the README's commands create rather than read."""
OFFLINE = {
    ("inventory", "check"),
    ("inventory", "show"),
    ("render",),
    ("monitoring", "config"),
    ("dashboards", "generate"),
}
"""netwarden commands that reach no device: run for real (``audit`` too, with ``--configs``)."""


def sh_lines(text: str) -> list[str]:
    """The command lines of the ``sh`` blocks, continuations joined."""
    lines: list[str] = []
    for block in FENCE.finditer(text):
        indent = block["indent"]
        unindented = [line.removeprefix(indent) for line in block["body"].splitlines()]
        body = "\n".join(unindented).replace("\\\n", " ")
        lines += [line for line in body.splitlines() if shlex.split(line, comments=True)]
    return lines


def argv_of(line: str) -> list[str]:
    """The line's argv: comments off, ``sudo`` and ``VAR=value`` prefixes off, placeholders filled."""
    argv = shlex.split(line, comments=True)
    while argv and (argv[0] == "sudo" or re.fullmatch(r"[A-Za-z_]\w*=\S*", argv[0])):
        argv = argv[1:]
    return [a.lower() if PLACEHOLDER.fullmatch(a) else a for a in argv]


def resolve(args: list[str]) -> tuple[tuple[str, ...], dict[str, object]]:
    """The netwarden (sub)command ``args`` name and its parsed parameters; nothing runs.

    Raises:
        ClickException: what the CLI would answer (no such option or command, bad value).
    """
    command = typer.main.get_command(app)
    ctx = command.make_context("netwarden", list(args))
    path: list[str] = []
    while isinstance(command, TyperGroup):
        rest = [*ctx._protected_args, *ctx.args]  # where Click keeps the subcommand's name
        if not rest:
            break
        name, sub, rest = command.resolve_command(ctx, rest)
        assert name is not None
        assert sub is not None
        ctx = sub.make_context(name, rest, parent=ctx)
        command = sub
        path.append(name)
    return tuple(path), ctx.params


def netwarden_args(argv: list[str]) -> list[str] | None:
    """The arguments after ``netwarden`` (or ``python -m netwarden.cli``), or None."""
    if argv and argv[0] in NETWARDEN:
        return argv[1:]
    if argv[:3] == [".venv/bin/python", "-m", "netwarden.cli"]:
        return argv[3:]
    return None


def make_targets() -> set[str]:
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z][\w-]*)\s*:(?!=)", text, re.M))


@functools.cache
def tool_help(*argv: str) -> str:
    done = subprocess.run(
        [str(REPO / argv[0]), *argv[1:], "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.stdout + done.stderr


def check_netwarden(args: list[str]) -> Iterator[str]:
    try:
        path, params = resolve(args)
    except ClickException as exc:
        yield f"netwarden {shlex.join(args)}: {exc.format_message()}"
        return
    if path == ("lab", "exec"):
        command = params.get("command")
        inner = [a for a in command if isinstance(a, str)] if isinstance(command, list) else []
        inner_args = netwarden_args(inner[1:] if inner[:1] == ["--"] else inner)
        if inner_args is not None:
            yield from check_netwarden(inner_args)


def check_ansible(argv: list[str]) -> Iterator[str]:
    tool = Path(argv[0]).name
    help_argv = [argv[0], argv[1]] if tool == "ansible-vault" and len(argv) > 1 else [argv[0]]
    text = tool_help(*help_argv)
    for arg in argv[1:]:
        option = arg.split("=", 1)[0]
        if option.startswith("-") and not re.search(
            rf"(?<![\w-]){re.escape(option)}(?![\w-])", text
        ):
            yield f"{shlex.join(argv)}: {tool} has no option {option}"


@functools.cache
def top_level() -> frozenset[str]:
    """The repository's own top-level names (git's, not the checkout's: a run's ``out/`` is not)."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files"], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    return frozenset(p.split("/", 1)[0] for p in listed if p and not p.startswith("."))


def paths_of(argv: list[str]) -> Iterator[str]:
    """The arguments that name something inside the repository."""
    tracked = top_level()
    for arg in argv[1:]:
        value = arg.split("=", 1)[1] if arg.startswith("-") and "=" in arg else arg
        if "://" in value or "/" not in value:
            continue
        if value.split("/", 1)[0] in tracked and value.rstrip("/") not in CREATED:
            yield value


def problems(text: str) -> list[str]:
    """Everything wrong with the README ``text``'s commands, without running any."""
    found: list[str] = []
    targets = make_targets()
    for line in sh_lines(text):
        argv = argv_of(line)
        if not argv:
            continue
        if argv[0] == "export":
            continue
        program = argv[0]
        args = netwarden_args(argv)
        if args is not None:
            found += check_netwarden(args)
        elif program == "make":
            found += [
                f"{line}: no make target {t!r}"
                for t in argv[1:]
                if "=" not in t and t not in targets
            ]
        elif program.startswith(".venv/bin/ansible"):
            found += check_ansible(argv)
        elif program.startswith(".venv/bin/"):
            pass
        elif program not in PROGRAMS:
            found.append(f"{line}: unknown program {program!r}")
        if program.startswith(".venv/bin/") and not (REPO / program).exists():
            found.append(f"{line}: {program} does not exist")
        for path in paths_of(argv):
            if not list(REPO.glob(path)):
                found.append(f"{line}: {path} does not exist")
    return found


def offline_commands(text: str) -> list[list[str]]:
    """The netwarden commands that reach no device, in README order, each once."""
    chosen: list[list[str]] = []
    for line in sh_lines(text):
        args = netwarden_args(argv_of(line))
        if args is None or args in chosen:
            continue
        path, params = resolve(args)
        inventory = params.get("inventory")
        if inventory is not None and str(inventory) != "inventory":
            continue  # a lab or another inventory: it exists when the reader made it
        if path in OFFLINE or (path == ("audit",) and params.get("configs") is not None):
            chosen.append(args)
    return chosen


def test_the_readme_has_commands_for_every_reader() -> None:
    lines = sh_lines(README.read_text(encoding="utf-8"))
    joined = "\n".join(lines)
    for expected in ("make demo", "make test", "netwarden plan", "netwarden auditor", "audit"):
        assert expected in joined


def test_every_readme_command_is_accepted() -> None:
    assert problems(README.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    ("line", "reported"),
    [
        (".venv/bin/netwarden plan -i lab --no-such-option", "No such option: --no-such-option"),
        (".venv/bin/netwarden inventory chek", "No such command 'chek'"),
        (".venv/bin/netwarden apply --canary one --yes", "Invalid value for '--canary'"),
        (".venv/bin/netwarden dashboards snapshot --out snapshots/", "Missing option"),
        ("sudo .venv/bin/netwarden lab exec --lab lab-ns jed-mon1 -- netwarden plam", "plam"),
        ("make no-such-target", "no make target 'no-such-target'"),
        (".venv/bin/ansible-playbook playbooks/no-such.yml", "playbooks/no-such.yml"),
        (".venv/bin/ansible-playbook --no-such-flag playbooks/site.yml", "--no-such-flag"),
        ("amtool check-config --config.file=dashboards/nothing.yml", "dashboards/nothing.yml"),
        ("Then run the playbook", "unknown program 'Then'"),
    ],
)
def test_a_wrong_command_is_reported(line: str, reported: str) -> None:
    readme = README.read_text(encoding="utf-8") + f"\n```sh\n{line}   # a mistake\n```\n"
    found = problems(readme)
    assert len(found) == 1, found
    assert reported in found[0]


def test_placeholders_and_continuations() -> None:
    text = "```sh\nsudo NETWARDEN_X=1 .venv/bin/netwarden auditor --pcap CAPTURE \\\n  --site nyc\n```\n"
    assert [argv_of(line) for line in sh_lines(text)] == [
        [".venv/bin/netwarden", "auditor", "--pcap", "capture", "--site", "nyc"]
    ]


@pytest.mark.slow
def test_the_offline_readme_commands_run(tmp_path: Path) -> None:
    """inventory check, render, audit --configs ... exit 0, run as the README writes them."""
    commands = offline_commands(README.read_text(encoding="utf-8"))
    assert any(c[0] == "render" for c in commands)
    assert any(c[0] == "audit" for c in commands)
    (tmp_path / "inventory").symlink_to(REPO / "inventory", target_is_directory=True)
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    for args in commands:
        done = subprocess.run(
            [sys.executable, "-m", "netwarden.cli", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"netwarden {shlex.join(args)}:\n{done.stdout}{done.stderr}"


def test_every_link_and_picture_of_the_readme_exists() -> None:
    """Relative links and images (docs, screenshots) name files of the repository."""
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    assert any(t.startswith("docs/screenshots/") for t in targets)
    missing = [t for t in targets if "://" not in t and not (REPO / t).exists()]
    assert missing == []
