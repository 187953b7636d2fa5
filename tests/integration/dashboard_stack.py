"""Processes the dashboard tests start on 127.0.0.1: the access exporter, node_exporter,
and reading a ``/metrics`` page. Every wait is a bounded poll; nothing asserts on time."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.integration.exporter_stack import free_port, poll

NODE_EXPORTER = shutil.which("prometheus-node-exporter") or "/usr/bin/prometheus-node-exporter"


def get(url: str) -> str | None:
    """The body at ``url``, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 (loopback)
            text: str = answer.read().decode()
            return text
    except (OSError, urllib.error.URLError):
        return None


def stop(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@dataclass
class Access:
    proc: subprocess.Popen[str]
    url: str
    syslog_port: int


def start_access(inventory: Path, tmp: Path) -> Access:
    """``netwarden exporter access`` (UDP/TCP syslog and /metrics on free ports)."""
    syslog_port = free_port()
    log = tmp / "access.log"
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "netwarden.cli", "-vv", "exporter", "access",
                "-i", str(inventory),
                "--listen-syslog", f"127.0.0.1:{syslog_port}",
                "--listen", f"127.0.0.1:{free_port()}",
                "--events-log", str(tmp / "access-events.jsonl"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
    pattern = re.compile(r"access exporter listening on (http://127\.0\.0\.1:\d+)")

    def listening() -> str | None:
        if proc.poll() is not None:
            raise AssertionError(f"the access exporter exited: {log.read_text(encoding='utf-8')}")
        found = pattern.search(log.read_text(encoding="utf-8"))
        return found.group(1) if found else None

    url = poll(listening)
    if not url:
        stop(proc)
        raise AssertionError(f"the access exporter did not start: {log.read_text()}")
    return Access(proc, url, syslog_port)


def start_node_exporter() -> tuple[subprocess.Popen[bytes], str]:
    """Debian's node_exporter on a free loopback port; (process, host:port)."""
    hostport = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen(
        [NODE_EXPORTER, f"--web.listen-address={hostport}", "--log.level=warn"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if not poll(lambda: get(f"http://{hostport}/metrics")):
        stop(proc)
        raise AssertionError("node_exporter did not answer")
    return proc, hostport
