"""What is read from a Linux server, and the one text form it is kept in (the server snapshot).

A server has no single running config; its state for audit, backup and drift is a
set of command outputs and files, each read read-only over the session
(:class:`~netwarden.devices.linux_server.LinuxServerSession`) and joined into one
text, the *snapshot*: the bundle format of the linux rule pack
(:func:`netwarden.compliance.platforms.linux.parse_bundle`), one ``#@ <section>``
header per output, then ``# read: ...`` saying what was run, as whom and where.
The live audit parses that text, a backup stores it, drift compares it: one
model, not one per path.

Sections (:data:`READS`): ``sshd`` (``sshd -T -f`` the config file the running
sshd was started with, as root), ``sysctl`` (``sysctl -a``, the kernel's
``net.ipv4``/``net.ipv6`` and a few security keys), ``auditctl-l``/``auditctl-s``
(as root), ``login.defs`` and ``pam`` (``/etc/pam.d/common-password``, then the
``pam_pwquality`` settings files ``/etc/security/pwquality.conf`` and
``pwquality.conf.d/*.conf`` that exist, comments left out), ``packages`` (``dpkg-query``: installed package and version),
``sockets`` (``ss -ltnup`` as root: protocol, listening address:port, program; no
pids, which change at every restart).

What needs root is run as one fixed command line through ``sudo -n`` (``sshd -T -f
<file>``, ``auditctl -l``, ``auditctl -s``, ``ss -H -ltnup``), so a sudoers rule can
allow exactly these; everything else is read as the login user.

Sanitised when built (:func:`sanitize_snapshot`): no crypt hash (``$6$``, ``$y$``
...), no PEM private key block, no sysctl whose name says key or secret
(``net.ipv4.tcp_fastopen_key``). Nothing read holds a password: ``/etc/shadow``
and private keys are never read.

Examples:
    >>> print(sanitize_snapshot("#@ sysctl\\nnet.ipv4.tcp_fastopen_key = 0a-1b\\nnet.ipv4.ip_forward = 0\\n"
    ...                         "#@ pam\\nuser:$6$salt$hash:19000\\n"), end="")
    #@ sysctl
    net.ipv4.ip_forward = 0
    #@ pam
    user:<removed>:19000
    >>> normalize_sockets('tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:* users:(("sshd",pid=9,fd=3))')
    ['tcp 0.0.0.0:22 sshd']
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

SNAPSHOT_MARK = "# netwarden server snapshot"
"""The first line of every snapshot (what tells it from an IOS config or a ruleset)."""
REMOVED = "<removed>"
PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; export PATH; "

SSHD_CONFIG = r"""cfg=$(for f in /proc/[0-9]*/cmdline; do tr '\000' ' ' < "$f" 2>/dev/null; echo; done \
  | sed -n 's/^\(sshd: \)\{0,1\}[^ ]*sshd .*-f \([^ ]*\).*$/\2/p' | head -n 1)
echo "${cfg:-/etc/ssh/sshd_config}"
"""
"""As the login user: the config file the running sshd was started with (``-f``), else the default."""
HAS = PATH + 'command -v "$1" >/dev/null'
"""As the login user: whether the command ``$1`` is installed."""
AS_USER = PATH + 'exec "$@"'
"""As the login user: run the arguments (a root read that sudo refused)."""
_SYSCTL = PATH + "command -v sysctl >/dev/null || exit 127; sysctl -a 2>/dev/null; exit 0"
_CAT = 'if [ -r "$1" ]; then cat "$1"; else echo "# $1: no such file"; fi'
_PAM = (
    'if [ -r "$1" ]; then cat "$1"; else echo "# $1: no such file"; fi; '
    "for f in /etc/security/pwquality.conf /etc/security/pwquality.conf.d/*.conf; do "
    '[ -r "$f" ] && { echo "# $f"; cat "$f"; }; done; exit 0'
)
_DPKG = PATH + r"dpkg-query -W -f '${db:Status-Abbrev} ${Package} ${Version}\n'"

SYSCTL_KEPT = re.compile(
    r"^(net\.ipv4\.|net\.ipv6\.conf\.(all|default)\.|kernel\.(randomize_va_space|kptr_restrict|"
    r"dmesg_restrict|yama\.ptrace_scope|sysrq|unprivileged_bpf_disabled)|fs\.(suid_dumpable|"
    r"protected_))"
)
_SECRET_KEY = re.compile(r"(key|secret)", re.IGNORECASE)
_CRYPT = re.compile(r"\$(?:1|2[aby]?|5|6|7|y|gy|sha1|md5)\$[^\s:]+")
_PEM_BEGIN = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
_PEM_END = re.compile(r"-----END [A-Z ]*PRIVATE KEY-----")


def _uncommented(text: str) -> str:
    return "".join(
        line.rstrip() + "\n"
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )


def _sysctl(text: str) -> str:
    kept = []
    for line in text.splitlines():
        key = line.partition("=")[0].strip()
        if SYSCTL_KEPT.match(key) and not _SECRET_KEY.search(key):
            kept.append(line.rstrip())
    return "".join(f"{line}\n" for line in sorted(kept))


def _packages(text: str) -> str:
    rows = sorted(line.split(maxsplit=1)[1] for line in text.splitlines() if line.startswith("ii "))
    return "".join(f"{row}\n" for row in rows)


_USERS = re.compile(r'users:\(\("([^"]+)"')


EPHEMERAL_FIRST = 32768
"""Linux's first ephemeral port (``net.ipv4.ip_local_port_range``)."""


def normalize_sockets(text: str) -> list[str]:
    """``ss -H -ltnup`` lines as ``proto address:port program`` (sorted, no pids).

    A UDP socket bound to an ephemeral port (a client's, e.g. rsyslog forwarding:
    ``ss -u`` lists it too) is left out: its port changes at every restart.
    """
    out = set()
    for line in text.splitlines():
        cols = line.split()
        if len(cols) < 5:
            continue
        port = cols[4].rpartition(":")[2]
        if cols[0] == "udp" and port.isdigit() and int(port) >= EPHEMERAL_FIRST:
            continue
        program = _USERS.search(line)
        out.add(f"{cols[0]} {cols[4]} {program[1] if program else '-'}")
    return sorted(out)


def _sockets(text: str) -> str:
    return "".join(f"{line}\n" for line in normalize_sockets(text))


def _as_read(text: str) -> str:
    return text


@dataclass(frozen=True)
class Read:
    """One section of the snapshot: how it is read and how its output is kept.

    Attributes:
        section: the bundle section name (the linux rule pack's).
        what: what is read, as the evidence says it (``sshd -T``).
        script: a POSIX ``sh`` script run as the login user; ``$1`` is ``arg``.
        root: or a command run as root, ``sudo -n <root...>``: one fixed command line a
            sudoers rule can name (falls back to the login user when sudo refuses; a
            command that is not installed is said so in the section).
        keep: the output as kept in the snapshot.
    """

    section: str
    what: str
    script: str = ""
    arg: str = ""
    root: tuple[str, ...] = ()
    keep: Callable[[str], str] = _uncommented


READS: tuple[Read, ...] = (
    Read("sshd", "sshd -T", root=("sshd", "-T", "-f"), keep=_as_read),
    Read("sysctl", "sysctl -a", _SYSCTL, keep=_sysctl),
    Read("auditctl-l", "auditctl -l", root=("auditctl", "-l"), keep=_as_read),
    Read("auditctl-s", "auditctl -s", root=("auditctl", "-s"), keep=_as_read),
    Read("login.defs", "/etc/login.defs", _CAT, "/etc/login.defs"),
    Read(
        "pam",
        "/etc/pam.d/common-password and pwquality.conf(.d)",
        _PAM,
        "/etc/pam.d/common-password",
    ),
    Read("packages", "dpkg-query -W", _DPKG, keep=_packages),
    Read("sockets", "ss -ltnup", root=("ss", "-H", "-ltnup"), keep=_sockets),
)
"""What a server session reads, in snapshot order. ``sshd -T -f`` gets the config file the
running sshd was started with (:data:`SSHD_CONFIG`)."""
SECTIONS = tuple(r.section for r in READS)


def section_text(read: Read, source: str, output: str | None, unread: str = "") -> str:
    """One section of the snapshot: header, ``# read:`` line, the kept output (or why not read)."""
    head = f"#@ {read.section}\n# read: {source}\n"
    if output is None:
        return head + f"# not read: {unread}\n"
    return head + read.keep(output)


def sanitize_snapshot(text: str) -> str:
    """The snapshot without secrets (see the module docstring); idempotent."""
    out: list[str] = []
    in_pem = False
    section = ""
    for line in text.splitlines():
        if line.startswith("#@ "):
            section = line[3:].strip()
        if _PEM_BEGIN.search(line):
            in_pem = True
            out.append(REMOVED + " (a private key)")
            continue
        if in_pem:
            in_pem = not _PEM_END.search(line)
            continue
        if section == "sysctl" and "=" in line and _SECRET_KEY.search(line.partition("=")[0]):
            continue
        out.append(_CRYPT.sub(REMOVED, line))
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def is_snapshot(text: str) -> bool:
    """Whether ``text`` is a server snapshot (not an IOS config or an nftables ruleset)."""
    return text.startswith(SNAPSHOT_MARK)
