"""The write-ahead record of what ``lab up`` creates: the contract every builder calls.

Whoever creates a lab resource (a network namespace, a link, a process, a file or a
directory) first calls a :class:`Recorder` with its kind and identity, *then*
creates it. The state file (``state.py``) therefore always lists a superset of what
exists, and ``netwarden lab down`` can remove a lab whose ``up`` was killed half-way.

Kinds and identities (:data:`KINDS`):

- ``netns``: the namespace name (as in ``ip netns list``);
- ``link``: ``"<netns>/<ifname>"`` (``"/<ifname>"`` would be the host namespace: the
  lab never creates one, and ``down`` refuses to delete a host link it did not record);
- ``pid``: ``"<pid>:<starttime>"``, the start time being field 22 of ``/proc/<pid>/stat``
  (:func:`pid_ident`), so ``down`` never signals a process that reused the number;
  record it right after the fork, before waiting on anything;
- ``file`` and ``dir``: an absolute path (``down`` removes files and directories
  recorded outside the lab directory; the lab directory itself is removed whole).

``extra`` is free text that ``down`` and ``status`` show (``role="server"`` ...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final, Protocol

KINDS: Final = ("netns", "link", "pid", "file", "dir")


class Recorder(Protocol):
    """Record a resource *before* creating it (write-ahead); never raises for a known kind.

    Args:
        kind: one of :data:`KINDS`.
        ident: the resource's identity in the form its kind defines (module docstring).
        **extra: short strings kept with the record (shown by ``lab status``).
    """

    def __call__(self, kind: str, ident: str, **extra: str) -> None: ...


def proc_starttime(pid: int) -> int:
    """Field 22 of ``/proc/<pid>/stat`` (start time in clock ticks since boot).

    Raises:
        ProcessLookupError: no such process.
    """
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except FileNotFoundError as exc:
        raise ProcessLookupError(f"no process {pid}") from exc
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    after = text[text.rindex(")") + 2 :].split()
    return int(after[22 - 3])


def pid_ident(pid: int) -> str:
    """The ``pid`` record identity ``"<pid>:<starttime>"`` of a running process.

    Examples:
        >>> import os
        >>> pid_ident(os.getpid()).startswith(f"{os.getpid()}:")
        True
    """
    return f"{pid}:{proc_starttime(pid)}"


def parse_pid_ident(ident: str) -> tuple[int, int]:
    """``"123:456"`` -> ``(123, 456)``.

    Examples:
        >>> parse_pid_ident("123:456")
        (123, 456)
    """
    pid, _, start = ident.partition(":")
    return int(pid), int(start)


def link_ident(netns: str, ifname: str) -> str:
    """The ``link`` record identity of ``ifname`` in ``netns``.

    Examples:
        >>> link_ident("nw1a2b-jed-fab", "br-mgmt")
        'nw1a2b-jed-fab/br-mgmt'
    """
    return f"{netns}/{ifname}"


def null_recorder(kind: str, ident: str, **extra: str) -> None:
    """A :class:`Recorder` that keeps nothing (for tests that clean up themselves)."""
    del kind, ident, extra
