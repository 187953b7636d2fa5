"""A real rsyslogd on loopback, started by a test as HQ's log server (imtcp, optionally TLS).

It writes every message it receives as one line of JSON (rsyslog's own RFC 5424
parse: pri, version, timestamp, hostname, app-name, procid, msgid, structured data,
msg) to ``received.jsonl`` in its directory; ``stop()`` and ``start()`` again keep
the port and the file (HQ going away and coming back).
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
GTLS_DRIVER = Path("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_TEMPLATE = """template(name="fields" type="list" option.jsonf="on") {
  property(outname="pri" name="pri" format="jsonf")
  property(outname="version" name="protocol-version" format="jsonf")
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="app" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}
"""


@dataclass
class Rsyslog:
    """rsyslogd -n in ``directory`` listening on 127.0.0.1:``port`` (TLS when ``tls`` is given)."""

    directory: Path
    port: int = field(default_factory=free_port)
    tls: tuple[Path, Path, Path] | None = None  # CA, certificate, key
    proc: subprocess.Popen[bytes] | None = None

    @property
    def received_file(self) -> Path:
        return self.directory / "received.jsonl"

    def config(self) -> str:
        work = self.directory / "work"
        work.mkdir(parents=True, exist_ok=True)
        lines = [f'global(workDirectory="{work}")']
        if self.tls is not None:
            ca, cert, key = self.tls
            lines += [
                f'global(DefaultNetstreamDriverCAFile="{ca}" DefaultNetstreamDriverCertFile="{cert}"',
                f'       DefaultNetstreamDriverKeyFile="{key}")',
                (
                    'module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" '
                    'StreamDriver.AuthMode="anon")'
                ),
            ]
        else:
            lines.append('module(load="imtcp")')
        lines += [
            _TEMPLATE,
            'ruleset(name="hq") {',
            f'  action(type="omfile" file="{self.received_file}" template="fields")',
            "}",
            f'input(type="imtcp" address="127.0.0.1" port="{self.port}" ruleset="hq")',
        ]
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        conf = self.directory / "rsyslog.conf"
        conf.write_text(self.config(), encoding="utf-8")
        pidfile = self.directory / "rsyslog.pid"
        pidfile.unlink(missing_ok=True)
        with (self.directory / "rsyslog.err").open("ab") as err:  # the child keeps its copy
            self.proc = subprocess.Popen(
                [RSYSLOGD, "-n", "-f", str(conf), "-i", str(pidfile)],
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        for _ in range(200):  # bounded: rsyslog listens within moments
            if self.proc.poll() is not None:
                text = (self.directory / "rsyslog.err").read_text(errors="replace")
                raise RuntimeError(f"rsyslogd exited {self.proc.returncode}: {text}")
            if _listening(self.port):
                return
            time.sleep(0.05)
        raise RuntimeError(f"rsyslogd does not listen on 127.0.0.1:{self.port}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def received(self) -> list[dict[str, Any]]:
        if not self.received_file.exists():
            return []
        text = self.received_file.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def wait_for(self, count: int, attempts: int = 300) -> list[dict[str, Any]]:
        """The received messages once there are at least ``count`` (bounded polling)."""
        got: list[dict[str, Any]] = []
        for _ in range(attempts):
            got = self.received()
            if len(got) >= count:
                return got
            time.sleep(0.05)
        return got


def _listening(port: int) -> bool:
    """Whether something listens on 127.0.0.1:port, asked of the kernel (no connection made)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:  # 0A: LISTEN
            return True
    return False
