"""The ``linux`` firewall session: nftables over SSH (paramiko), commit-confirm on the device.

A site firewall (``platform: linux``, ``function: firewall``, ``model: nftables``)
is driven by its automation user (passwordless ``sudo``) with nothing but ``nft``,
``ip`` and POSIX ``sh`` on the device:

- the running config is ``nft list ruleset`` in the comparison form of
  :func:`~netwarden.devices.nftext.normalize_ruleset`;
- a candidate is uploaded to ``/var/lib/netwarden/candidate.nft`` (root only) and
  checked with ``nft -c -f``; a candidate without ``flush ruleset`` gets it first,
  so loading it replaces the whole ruleset in one transaction;
- :meth:`NftablesSession.commit` with ``revert_in`` (seconds) saves the running ruleset
  (``rollback.nft``, root only, ``flush ruleset`` first), arms the revert timer, THEN
  loads the candidate (``nft -f``, atomic): a candidate that cuts the session
  heals itself. The timer is ``setsid sh -c 'sleep N; nft -f rollback.nft'``, in
  a session and process group of its own (it outlives the SSH session), its pid,
  start time and user in ``pending`` (no systemd in the lab's namespaces: this works
  with or without it). Confirm kills the timer's process group; rollback kills it and
  loads ``rollback.nft`` now. A ``pending`` file whose timer is gone (a reboot)
  is no pending commit.

Host keys are checked (:func:`~netwarden.devices.hostkeys.check_host_key`), then the
login's own client accepts only the key just verified (``RejectPolicy``).
"""

from __future__ import annotations

import json
import logging
import shlex
from typing import Any

import paramiko

from netwarden.devices.base import (
    ConfigKind,
    Facts,
    InterfaceState,
    PendingCommit,
    SessionOptions,
    address_of,
    credentials_for,
)
from netwarden.devices.hostkeys import check_host_key
from netwarden.devices.nftext import normalize_ruleset, ruleset_diff
from netwarden.errors import DeviceConnectionError, DeviceError, HostKeyError, SessionLostError
from netwarden.inventory.models import Device, Function

logger = logging.getLogger(__name__)

NFT_MODEL = "nftables"
STATE_DIR = "/var/lib/netwarden"
CANDIDATE = f"{STATE_DIR}/candidate.nft"
SAVED = f"{STATE_DIR}/rollback.nft"
PENDING = f"{STATE_DIR}/pending"

# One root shell script per operation: $1.. are its arguments (shlex-quoted).
_PREPARE = f"umask 077 && mkdir -p {STATE_DIR} && chmod 0700 {STATE_DIR}"
_UPLOAD = f"{_PREPARE} && cat > {CANDIDATE}.tmp && mv {CANDIDATE}.tmp {CANDIDATE}"
_TIMER = f'sleep "$0"; nft -f {SAVED} && rm -f {PENDING}'  # $0 of the inner sh: the seconds
_COMMIT = f"""{_PREPARE} || exit 10
if [ -n "$1" ]; then
  {{ echo 'flush ruleset'; nft list ruleset; }} > {SAVED}.tmp && mv {SAVED}.tmp {SAVED} || exit 11
  setsid sh -c {shlex.quote(_TIMER)} "$1" </dev/null >/dev/null 2>&1 &
  pid=$!
  printf 'pid=%s\\nconfigured=%s\\nuser=%s\\nseconds=%s\\n' "$pid" \\
    "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" "${{SUDO_USER:-root}}" "$1" > {PENDING}
fi
if ! nft -f {CANDIDATE}; then
  [ -n "$1" ] && kill -TERM "-$pid" 2>/dev/null; rm -f {PENDING}
  exit 12
fi
echo committed
"""
_PID = f"pid=$(sed -n 's/^pid=//p' {PENDING} 2>/dev/null)"
_DISARM = f'{_PID}; [ -n "$pid" ] || exit 20; kill -TERM "-$pid" 2>/dev/null; rm -f {PENDING}'
_ROLLBACK = (
    f'{_PID}; [ -n "$pid" ] && kill -TERM "-$pid" 2>/dev/null; '
    f"[ -f {SAVED} ] || exit 21; nft -f {SAVED} && rm -f {PENDING}"
)
_PENDING = (
    f'[ -f {PENDING} ] || exit 0; {_PID}; if kill -0 "$pid" 2>/dev/null; then cat {PENDING}; fi'
)


def is_nftables_firewall(device: Device) -> bool:
    """Whether ``device`` is a firewall running nftables (what :class:`NftablesSession` serves)."""
    return device.function is Function.FIREWALL and device.model == NFT_MODEL


def linux_session(device: Device, options: SessionOptions) -> NftablesSession:
    """The session of a ``linux`` device, by what it does: firewalls (nftables) only so far.

    Raises:
        DeviceConnectionError: a linux server or sensor (no session class yet).
    """
    if is_nftables_firewall(device):
        return NftablesSession(device, options)
    raise DeviceConnectionError(
        device.name,
        f"linux {device.function.value}s have no session class (linux sessions serve "
        f"firewalls with model {NFT_MODEL!r})",
    )


class NftablesSession:
    """:class:`~netwarden.devices.base.DeviceSession` for a Linux nftables firewall."""

    def __init__(self, device: Device, options: SessionOptions) -> None:
        self.name = device.name
        self.device = device
        self.options = options
        self._client: paramiko.SSHClient | None = None
        self._candidate: str | None = None

    def __repr__(self) -> str:
        return f"NftablesSession({self.name!r}, open={self._client is not None})"

    # ------------------------------------------------------------ lifecycle
    def open(self) -> None:
        host, port = address_of(self.device)
        opts = self.options
        checked = check_host_key(
            self.name,
            host,
            port,
            opts.known_hosts,
            trust_on_first_use=opts.trust_on_first_use,
            timeout=opts.conn_timeout,
        )
        creds = credentials_for(self.device)
        client = paramiko.SSHClient()
        client.load_host_keys(str(checked.pinned_file))  # only the key just verified
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(
                host,
                port=port,
                username=creds.username,
                password=creds.password or None,
                key_filename=creds.key_file,
                look_for_keys=False,
                allow_agent=False,
                timeout=opts.conn_timeout,
                banner_timeout=opts.conn_timeout,
                auth_timeout=opts.conn_timeout,
            )
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise HostKeyError(self.name, f"host key of {host}:{port} changed: {exc}") from exc
        except paramiko.AuthenticationException as exc:
            client.close()
            raise DeviceConnectionError(
                self.name, f"login refused for user {creds.username!r} on {host}:{port}: {exc}"
            ) from exc
        except (OSError, EOFError, paramiko.SSHException) as exc:
            client.close()
            raise DeviceConnectionError(
                self.name, f"no SSH session with {host}:{port}: {exc or type(exc).__name__}"
            ) from exc
        self._client = client
        logger.debug("%s: session open on %s:%d", self.name, host, port)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except (OSError, EOFError, paramiko.SSHException) as exc:
                logger.debug("%s: closing the session: %r", self.name, exc)

    def __enter__(self) -> NftablesSession:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ config
    def get_config(self, which: ConfigKind = "running") -> str:
        """The ruleset the kernel runs (nftables has no startup config: ``startup`` is refused)."""
        if which != "running":
            raise DeviceError(self.name, f"a linux firewall has no {which} config (running only)")
        return normalize_ruleset(self._ok("read the ruleset", "sudo -n nft list ruleset"))

    def load_replace_candidate(self, config: str) -> None:
        text = config if "flush ruleset" in normalize_lines(config) else "flush ruleset\n" + config
        self._ok("upload the candidate", _sudo_sh(_UPLOAD), stdin=text)
        rc, _out, err = self._run("check the candidate", f"sudo -n nft -c -f {CANDIDATE}")
        if rc != 0:
            raise DeviceError(self.name, f"the candidate ruleset is invalid: nft -c said: {err}")
        self._candidate = text

    def compare(self) -> str:
        if self._candidate is None:
            raise DeviceError(self.name, "cannot compare: no candidate loaded")
        return ruleset_diff(self.get_config("running"), self._candidate)

    def commit(self, revert_in: int | None = None) -> None:
        """Load the candidate atomically; with ``revert_in`` (s), arm the revert timer first."""
        if self._candidate is None:
            raise DeviceError(self.name, "cannot commit: no candidate loaded")
        seconds = str(int(revert_in)) if revert_in else ""
        rc, out, err = self._run("commit", _sudo_sh(_COMMIT, seconds))
        if rc != 0 or "committed" not in out:
            why = {10: "cannot create " + STATE_DIR, 11: "cannot save the running ruleset"}
            raise DeviceError(
                self.name, f"commit refused: {why.get(rc, 'nft -f failed')} (exit {rc}): {err}"
            )
        self._candidate = None

    def confirm(self) -> None:
        rc, _out, err = self._run("confirm the commit", _sudo_sh(_DISARM))
        if rc == 20:
            raise DeviceError(self.name, "confirm: no commit awaits confirmation")
        if rc != 0:
            raise DeviceError(self.name, f"confirm failed (exit {rc}): {err}")

    def rollback(self) -> None:
        rc, _out, err = self._run("roll back", _sudo_sh(_ROLLBACK))
        if rc == 21:
            raise DeviceError(self.name, f"roll back: no saved ruleset ({SAVED}) to restore")
        if rc != 0:
            raise DeviceError(self.name, f"roll back failed (exit {rc}): {err}")

    def discard(self) -> None:
        self._candidate = None
        self._ok("discard the candidate", f"sudo -n rm -f {CANDIDATE}")

    def has_pending_commit(self) -> bool:
        return self.pending_commit() is not None

    def pending_commit(self) -> PendingCommit | None:
        """The armed revert timer (None: none, or its process is gone)."""
        return parse_pending(self._ok("read the revert timer", _sudo_sh(_PENDING)))

    # ------------------------------------------------------------ getters
    def get_facts(self) -> Facts:
        out = self._ok("get facts", "hostname; uname -r; sudo -n nft --version")
        lines = [*out.splitlines(), "", "", ""]
        return Facts(
            hostname=lines[0].strip(),
            model=NFT_MODEL,
            os_version=f"Linux {lines[1].strip()}, {lines[2].strip()}",
        )

    def get_interfaces(self) -> dict[str, InterfaceState]:
        out = self._ok("get interfaces", "ip -j link show")
        try:
            links: list[dict[str, Any]] = json.loads(out)
        except ValueError as exc:
            raise DeviceError(self.name, f"'ip -j link show' answered no JSON: {exc}") from exc
        return {
            str(link["ifname"]): InterfaceState(
                str(link["ifname"]),
                "UP" in link.get("flags", []),
                "LOWER_UP" in link.get("flags", []) and link.get("operstate") != "DOWN",
            )
            for link in links
            if "ifname" in link
        }

    def send_command(self, command: str) -> str:
        return self._ok(f"run {command!r}", command)

    # ------------------------------------------------------------ internals
    def _ok(self, operation: str, command: str, stdin: str | None = None) -> str:
        rc, out, err = self._run(operation, command, stdin)
        if rc != 0:
            shown = command if len(command) < 80 else command[:60] + " ..."
            raise DeviceError(self.name, f"{operation} failed: {shown!r} exit {rc}: {err}")
        return out

    def _run(self, operation: str, command: str, stdin: str | None = None) -> tuple[int, str, str]:
        """Run ``command``; (exit status, stdout, first lines of stderr). Loss raises."""
        if self._client is None:
            raise DeviceError(self.name, f"cannot {operation}: the session is not open")
        timeout = self.options.read_timeout
        try:
            transport = self._client.get_transport()
            if transport is None or not transport.is_active():
                raise SessionLostError(self.name, f"session lost before {operation}")
            channel = transport.open_session(timeout=self.options.conn_timeout)
            channel.settimeout(timeout)
            channel.exec_command(command)
            if stdin is not None:
                channel.sendall(stdin.encode())
            channel.shutdown_write()
            out = _read_all(channel, err=False)
            err = _read_all(channel, err=True)
            rc = _exit_status(channel, timeout)
            channel.close()
        except TimeoutError as exc:
            raise SessionLostError(
                self.name,
                f"session lost during {operation}: no answer within {timeout:g} s "
                "(the device is too slow, hung, or no longer lets this session through)",
            ) from exc
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise SessionLostError(
                self.name, f"session lost during {operation}: {exc or type(exc).__name__}"
            ) from exc
        return rc, out, " / ".join(err.strip().splitlines()[:3])


def _exit_status(channel: paramiko.Channel, timeout: float | None) -> int:
    """The command's exit status, waited for as long as a read (``recv_exit_status`` waits forever).

    Raises:
        TimeoutError: no status within ``timeout`` s.
    """
    if not channel.status_event.wait(timeout):
        raise TimeoutError(f"no exit status within {timeout} s")
    return int(channel.recv_exit_status())


def _read_all(channel: paramiko.Channel, *, err: bool) -> str:
    chunks: list[bytes] = []
    read = channel.recv_stderr if err else channel.recv
    while True:
        data = read(65536)
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")


def _sudo_sh(script: str, *args: str) -> str:
    """``sudo -n sh -c SCRIPT sh ARGS...`` quoted for the remote shell."""
    return " ".join(shlex.quote(p) for p in ("sudo", "-n", "sh", "-c", script, "sh", *args))


def normalize_lines(text: str) -> list[str]:
    """The stripped non-comment lines of a ruleset file."""
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]


def parse_pending(text: str) -> PendingCommit | None:
    """The ``pending`` file of an armed timer as a :class:`PendingCommit` (None: no timer).

    Examples:
        >>> p = parse_pending("pid=42\\nconfigured=2026-01-01T10:00:00.1Z\\nuser=netwarden\\n"
        ...                   "seconds=600\\n")
        >>> p.configured, p.user, p.minutes, p.archive
        ('2026-01-01T10:00:00.1Z', 'netwarden', 10, '/var/lib/netwarden/rollback.nft (timer pid 42)')
        >>> parse_pending("") is None
        True
    """
    fields = dict(line.partition("=")[::2] for line in text.splitlines() if "=" in line)
    if not fields.get("configured"):
        return None
    seconds = fields.get("seconds", "")
    return PendingCommit(
        configured=fields["configured"],
        user=fields.get("user", ""),
        minutes=-(-int(seconds) // 60) if seconds.isdigit() else None,
        archive=f"{SAVED} (timer pid {fields.get('pid', '?')})",
    )
