"""One simulated IOS device: configs, flash, archive, revert timer, log, clock.

Everything here is protected by the device's lock: several SSH sessions (NAPALM's
CLI session and its SCP session, say) touch one device at once. The device clock
runs ``time_scale`` times faster than real time, so a 1-minute IOS revert timer
expires after ``60 / time_scale`` real seconds, and restores the config it saved.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from netwarden.lab.sim import passwords, syslogsend, tacacsauth
from netwarden.lab.sim.config import ConfigNode, ConfigTree
from netwarden.lab.sim.configdiff import incremental_diff
from netwarden.lab.sim.flash import Flash, split_path
from netwarden.lab.sim.showmodel import LogEntry
from netwarden.lab.sim.specs import DeviceSpec, Faults, initial_config
from netwarden.lab.sim.stp import BridgeId, SpanningTreeSource

if TYPE_CHECKING:
    import paramiko

logger = logging.getLogger(__name__)

LOG_BUFFER_LINES = 200
_BOOT = datetime(2024, 3, 1, 8, 0, 0, tzinfo=UTC)


class DeviceClock:
    """Device time: starts at ``start`` and runs ``scale`` times faster than real time."""

    def __init__(self, scale: float = 1.0, start: datetime | None = None) -> None:
        self.scale = scale
        self._start = start or datetime.now(UTC).replace(microsecond=0)
        self._mono0 = time.monotonic()
        self._base = 0.0

    def elapsed(self) -> float:
        """Device seconds since the simulator started the device."""
        return self._base + (time.monotonic() - self._mono0) * self.scale

    def set_scale(self, scale: float) -> None:
        """Change the speed from now on (the clock does not jump; armed timers keep theirs)."""
        self._base = self.elapsed()
        self._mono0 = time.monotonic()
        self.scale = scale

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.elapsed())

    def real_seconds(self, device_seconds: float) -> float:
        return device_seconds / self.scale


@dataclass
class PendingCommit:
    """A change that reverts unless confirmed (``show archive config rollback timer``)."""

    snapshot: ConfigTree
    archive_file: str
    minutes: int
    user: str
    configured_at: datetime
    timer: threading.Timer | None = None


@dataclass
class CliLine:
    """A logged-in session, for ``show users``."""

    number: int
    username: str
    source: str
    since: float = field(default_factory=time.monotonic)


class SimDevice:
    """The state of one simulated device and the operations sessions run on it."""

    def __init__(self, spec: DeviceSpec, *, host_key: paramiko.PKey | None = None) -> None:
        self.spec = spec
        self.lock = threading.RLock()
        self.clock = DeviceClock(spec.time_scale)
        self.faults = Faults()
        self.host_key = host_key
        self.bound_port = spec.port
        # own-address fleets only: ask the config's TACACS+ servers, send syslog to any host
        self.aaa_network = False
        self.log_sequence = 0
        self.stp_source: SpanningTreeSource | None = None  # the fleet's spanning tree (stpdomain)
        self.physical = frozenset(i.name for i in spec.interfaces if _is_physical(i.name))
        user_hash = passwords.type9(spec.password) if spec.password else "0 "
        enable_hash = passwords.type9(spec.enable_secret) if spec.enable_secret else "0 "
        text = initial_config(spec, user_hash, enable_hash)
        self.running = ConfigTree.build(text, self.physical)
        self.ensure_interfaces(self.running)
        self.startup: str | None = self.running.render_body()
        self.flash = Flash()
        boot = self.clock.now() - timedelta(days=3)
        self.flash.place(spec.image, 21_011_456, boot)
        self.flash.write("flash:/vlan.dat", b"\x00" * 616, boot)
        self.log: deque[LogEntry] = deque(maxlen=LOG_BUFFER_LINES)
        self.lines: dict[int, CliLine] = {}
        self.pending: PendingCommit | None = None
        self.archive_count = 0
        self.last_change: tuple[datetime, str] | None = None
        self.saved_at: datetime | None = None
        self.uptime_offset = 3 * 86400 + 4 * 3600 + (hash(spec.name) % 3000)

    # ------------------------------------------------------------- identity
    @property
    def hostname(self) -> str:
        return self.running.value("hostname") or self.spec.hostname

    def ensure_interfaces(self, tree: ConfigTree) -> None:
        """Physical interfaces always exist: a config without them gets them back empty."""
        present = {n.text for n in tree.root}
        last = -1
        for index, node in enumerate(tree.root):
            if node.text.startswith("interface "):
                last = index
        for itf in self.spec.interfaces:
            text = f"interface {itf.name}"
            if itf.name in self.physical and text not in present:
                last = last + 1 if last >= 0 else len(tree.root)
                tree.root.insert(last, ConfigNode(text))

    def stp_root(self, vlan: int) -> tuple[BridgeId | None, str]:
        """The root of ``vlan`` as this switch sees it, and its own bridge MAC (``root primary``)."""
        tree = self.stp_source.trees(self.spec.name).get(vlan) if self.stp_source else None
        return (tree.root, tree.bridge.mac) if tree is not None else (None, "")

    # ------------------------------------------------------------------ log
    def add_log(self, mnemonic: str, message: str) -> None:
        """Buffer a log line and send it to the config's ``logging host`` s (:mod:`syslogsend`)."""
        with self.lock:
            entry = LogEntry(self.clock.now(), mnemonic, message)
            self.log.append(entry)
            self.log_sequence += 1
            settings = syslogsend.settings_of(self.running)
            if settings.hosts:
                payload = syslogsend.line(settings, self.hostname, self.log_sequence, entry)
                source = self.spec.address if self.aaa_network else None
                syslogsend.send(settings, payload, syslogsend.severity_of(mnemonic), source)

    def timezone_name(self) -> str:
        """The zone name of ``clock timezone`` in the running config (``UTC`` without one)."""
        value = self.running.value("clock timezone")
        return value.split()[0] if value else "UTC"

    # --------------------------------------------------------- credentials
    def _user_line(self, username: str) -> ConfigNode | None:
        for node in self.running.top_starting(f"username {username}"):
            return node
        return None

    def check_password(self, username: str, password: str, source: str, port: int) -> bool:
        """Password login as IOS does it: the TACACS+ servers first when ``aaa
        authentication login default group tacacs+`` says so (:mod:`tacacsauth`; only a
        device with :attr:`aaa_network`), then ``login local``; logs success or failure."""
        methods = None
        with self.lock:
            if self.aaa_network and not self.faults.refuse_login:
                methods = tacacsauth.login_methods(self.running)
        verdict = None
        if methods is not None:  # outside the lock: it waits on the network
            verdict = tacacsauth.authenticate(methods, username, password,
                                              source=self.spec.address, rem_addr=source)  # fmt: skip
        with self.lock:
            if verdict is not None:
                ok = verdict and not self.faults.refuse_login
            elif methods is not None and not methods.local_fallback:
                ok = False
            else:
                ok = self._check_local(username, password)
            self._log_login(username, source, port, ok)
            return ok

    def _check_local(self, username: str, password: str) -> bool:
        ok = False
        if not self.faults.refuse_login:
            node = self._user_line(username)
            if node is not None:
                words = node.words()
                for keyword in ("secret", "password"):
                    if keyword in words:
                        stored = " ".join(words[words.index(keyword) + 1 :])
                        ok = passwords.verify(stored, password)
            # The lab's AAA server (TACACS+ in production) knows the spec's account,
            # so pushing an intended config without it does not lock the lab out.
            ok = ok or (
                bool(self.spec.password)
                and username == self.spec.username
                and hmac.compare_digest(password, self.spec.password)
            )
        return ok

    def check_public_key(self, username: str, key_line: str, source: str, port: int) -> bool:
        with self.lock:
            ok = (
                not self.faults.refuse_login
                and username == self.spec.username
                and any(k.split()[:2] == key_line.split()[:2] for k in self.spec.authorized_keys)
            )
            self._log_login(username, source, port, ok)
            return ok

    def _log_login(self, username: str, source: str, port: int, ok: bool) -> None:
        where = f"[user: {username}] [Source: {source}] [localport: {port}]"
        at = self._fmt(self.clock.now())
        if any(n.text == "ip ssh logging events" for n in self.running.root):
            self.add_log(
                "SSH-5-SSH2_USERAUTH",
                f"User '{username}' authentication for SSH2 Session from {source} (tty = 0) "
                "using crypto cipher 'aes256-ctr', hmac 'hmac-sha2-256' "
                + ("Succeeded" if ok else "Failed"),
            )
        if ok:
            self.add_log("SEC_LOGIN-5-LOGIN_SUCCESS", f"Login Success {where} at {at}")
        else:
            self.add_log(
                "SEC_LOGIN-4-LOGIN_FAILED",
                f"Login failed {where} [Reason: Login Authentication Failed] at {at}",
            )

    def privilege(self, username: str) -> int:
        node = self._user_line(username)
        if node is not None and "privilege" in node.words():
            words = node.words()
            return int(words[words.index("privilege") + 1])
        return 1

    def check_enable(self, secret: str) -> bool | None:
        """True/False for a secret; None when no enable secret is configured."""
        with self.lock:
            spec_ok = bool(self.spec.enable_secret) and hmac.compare_digest(
                secret, self.spec.enable_secret
            )
            for prefix in ("enable secret", "enable password"):
                value = self.running.value(prefix)
                if value is not None:
                    return passwords.verify(value, secret) or spec_ok
            return spec_ok if self.spec.enable_secret else None

    # ---------------------------------------------------------------- lines
    def open_line(self, username: str, source: str) -> int:
        with self.lock:
            number = next(n for n in range(len(self.lines) + 1) if n not in self.lines)
            self.lines[number] = CliLine(number, username, source)
            return number

    def close_line(self, number: int) -> None:
        with self.lock:
            line = self.lines.pop(number, None)
            if line is not None:
                self.add_log(
                    "SYS-6-LOGOUT",
                    f"User {line.username} has exited tty session {number + 2}({line.source})",
                )

    # --------------------------------------------------------------- config
    def config_changed(self, user: str, source: str, line: int, origin: str = "console") -> None:
        with self.lock:
            self.last_change = (self.clock.now(), user)
            self.add_log(
                "SYS-5-CONFIG_I", f"Configured from {origin} by {user} on vty{line} ({source})"
            )

    def save(self) -> None:
        """``write memory``: startup = running (and an archive copy with ``write-memory``)."""
        with self.lock:
            self.startup = self.running.render_body()
            self.saved_at = self.clock.now()
            archive = self.running.find("archive")
            if archive is not None and any(c.text == "write-memory" for c in archive.children):
                self.archive_now()

    def merge(self, text: str) -> list[str]:
        """Apply a config file to running (``copy FILE running-config``); return errors."""
        with self.lock:
            return self.running.apply_text(text, self.physical, self.stp_root)

    def incremental(self, text: str) -> str:
        with self.lock:
            return incremental_diff(self.running, text, self.physical)

    def replace(self, text: str) -> list[str]:
        """``configure replace``: running becomes the file; return the file's errors.

        SNMPv3 users are not in the running config, so a replace keeps them (and adds
        or changes those of the file), as on IOS.
        """
        with self.lock:
            tree = ConfigTree()
            tree.snmp_users = dict(self.running.snmp_users)
            errors = tree.apply_text(text, self.physical, self.stp_root)
            self.ensure_interfaces(tree)
            self.running = tree
            return errors

    def render_running(self) -> str:
        with self.lock:
            body = self.running.render_body()
            head = ["Building configuration...", "", f"Current configuration : {len(body)} bytes"]
            head.append("!")
            if self.last_change is not None:
                when, user = self.last_change
                head.append(f"! Last configuration change at {self._fmt(when)} by {user}")
            if self.saved_at is not None:
                head.append(f"! NVRAM config last updated at {self._fmt(self.saved_at)}")
            head.append("!")
            return "\n".join(head) + "\n" + body

    def render_startup(self) -> str:
        with self.lock:
            if self.startup is None:
                return "startup-config is not present"
            return f"Using {len(self.startup)} out of 524288 bytes\n!\n{self.startup}"

    def _fmt(self, when: datetime) -> str:
        return f"{when:%H:%M:%S} {self.timezone_name()} {when:%a %b} {when.day} {when.year}"

    # -------------------------------------------------------------- archive
    def archive_base(self) -> str | None:
        """The archive ``path`` (e.g. ``flash:archive``), None when archive is off."""
        node = self.running.find("archive")
        if node is None:
            return None
        for child in node.children:
            if child.text.startswith("path "):
                return child.text.split(None, 1)[1].replace("$h", self.hostname)
        return None

    def archive_max(self) -> int:
        node = self.running.find("archive")
        for child in node.children if node else []:
            if child.text.startswith("maximum "):
                return int(child.text.split()[1])
        return 10

    def archive_now(self) -> str | None:
        """Save running into the next archive file; its path, or None when archive is off."""
        with self.lock:
            base = self.archive_base()
            if base is None:
                return None
            self.archive_count += 1
            name = f"{base}-{self.archive_count}"
            self.flash.write(name, self.running.render_body().encode(), self.clock.now())
            stale = f"{base}-{self.archive_count - self.archive_max()}"
            if self.archive_count > self.archive_max():
                self.flash.delete(stale)
            return name

    def show_archive(self) -> str:
        with self.lock:
            base = self.archive_base()
            if base is None:
                return "Archive feature not enabled"
            maximum = self.archive_max()
            first = max(1, self.archive_count - maximum + 1)
            lines = [
                f"The maximum archive configurations allowed is {maximum}.",
                (
                    f"There are currently {self.archive_count - first + 1 if self.archive_count else 0}"
                    " archive configurations saved."
                ),
                f"The next archive file will be named {base}-{self.archive_count + 1}",
                " Archive #  Name",
            ]
            for slot in range(1, maximum + 1):
                number = first + slot - 1
                if number <= self.archive_count:
                    recent = " <- Most Recent" if number == self.archive_count else ""
                    lines.append(f"   {slot:<9}{base}-{number}{recent}")
                else:
                    lines.append(f"   {slot}")
            return "\n".join(lines)

    # ---------------------------------------------------------- revert timer
    def start_revert(self, user: str, minutes: int) -> str:
        """Snapshot running and arm a revert timer; IOS's messages, or an error line."""
        with self.lock:
            if self.pending is not None:
                self._cancel_timer()
                self.pending.minutes = minutes
                self.pending.configured_at = self.clock.now()
                self._arm()
                return ""
            snapshot = self.running.copy()
            archive = self.archive_now()
            if archive is None:
                return "%Please turn config archive on before using Rollback Confirmed Change"
            self.pending = PendingCommit(snapshot, archive, minutes, user, self.clock.now())
            self._arm()
            self.add_log(
                "ARCHIVE_DIFF-5-ROLLBK_CNFMD_CHG_BACKUP",
                f"Backing up current running config to {archive}",
            )
            self.add_log(
                "ARCHIVE_DIFF-5-ROLLBK_CNFMD_CHG_START_ABSTIMER",
                f"User: {user}: Scheduled to rollback to config {archive} in {minutes} minutes",
            )
            return ""

    def _arm(self) -> None:
        if self.pending is None:
            return
        delay = self.clock.real_seconds(self.pending.minutes * 60)
        timer = threading.Timer(delay, self._expire, args=(self.pending,))
        timer.daemon = True
        self.pending.timer = timer
        timer.start()

    def _cancel_timer(self) -> None:
        if self.pending is not None and self.pending.timer is not None:
            self.pending.timer.cancel()

    def _expire(self, pending: PendingCommit) -> None:
        with self.lock:
            if self.pending is not pending:
                return
            logger.info(
                "%s: revert timer expired, restoring %s", self.hostname, pending.archive_file
            )
            self._restore(pending, "timer expired")

    def _restore(self, pending: PendingCommit, why: str) -> None:
        self.add_log(
            "ARCHIVE_DIFF-5-ROLLBK_CNFMD_CHG_ROLLBACK_START",
            f"Start rolling to: {pending.archive_file} ({why})",
        )
        pending.snapshot.snmp_users = dict(self.running.snmp_users)  # not in the archive
        self.running = pending.snapshot
        self.pending = None
        self.last_change = (self.clock.now(), pending.user)

    def confirm(self, user: str) -> str:
        with self.lock:
            if self.pending is None:
                return "%No Rollback Confirmed Change pending"
            self._cancel_timer()
            self.pending = None
            self.add_log(
                "ARCHIVE_DIFF-5-ROLLBK_CNFMD_CHG_CONFIRM",
                f"User {user} confirm the configuration change",
            )
            return ""

    def revert_now(self) -> str:
        with self.lock:
            if self.pending is None:
                return "%No Rollback Confirmed Change pending"
            pending = self.pending
            self._cancel_timer()
            self._restore(pending, "revert now")
            return f"Rollback Done\nLoading configuration from {pending.archive_file}"

    def rollback_timer_text(self) -> str:
        with self.lock:
            pending = self.pending
            if pending is None:
                return "%No Rollback Confirmed Change pending"
            return "\n".join(
                [
                    f"Time configured(or reset): {self._fmt(pending.configured_at)}",
                    "Timer type: Rollback timer",
                    f"Timer value: {pending.minutes} min",
                    f"Archive file: {pending.archive_file}",
                    f"User: {pending.user}",
                ]
            )

    def stop(self) -> None:
        """Cancel timers (the simulator is stopping)."""
        with self.lock:
            self._cancel_timer()

    # ---------------------------------------------------------------- files
    def read_file(self, path: str) -> bytes | None:
        """Bytes of a file, including ``system:running-config`` and ``nvram:startup-config``."""
        fs, name = split_path(path)
        with self.lock:
            if name == "running-config" and fs in ("system", "flash"):
                return self.running.render_body().encode()
            if name == "startup-config" and fs in ("nvram", "flash"):
                return None if self.startup is None else self.startup.encode()
            if fs == "null":
                return b""
            if fs not in ("flash", "bootflash"):
                return None
            return self.flash.read(path)

    def write_file(self, path: str, data: bytes) -> str:
        """Write a flash file; "" or IOS's error line."""
        fs, _name = split_path(path)
        with self.lock:
            if fs not in ("flash", "bootflash"):
                return f"%Error opening {path} (Permission denied)"
            if len(data) > self.flash.free():
                return f"%Error writing {path} (No space left on device)"
            self.flash.write(path, data, self.clock.now())
            return ""


def _is_physical(name: str) -> bool:
    logical = ("Loopback", "Vlan", "Port-channel", "Tunnel", "BDI", "Null")
    return not name.startswith(logical)
