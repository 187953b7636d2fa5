"""Helpers of the tests that run ``netwarden auditor --watch`` as a process (signals, limits)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from collectors.auditor.demo import build_attack_pcap
from collectors.auditor.events import Event, read_events

DEADLINE = 90.0
"""Seconds a test waits for the auditor at most (a bound on hangs, never asserted on)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stage_captures(watch: Path, tmp: Path) -> int:
    """Put the demo attack trace in ``watch`` with a newer (empty) file beside it, so the
    trace counts as rotated and is processed at once; return its packet count."""
    trace = tmp / "trace.pcap"
    build_attack_pcap(trace)
    from scapy.utils import rdpcap

    packets = len(rdpcap(str(trace)))
    first = watch / "cap-1.pcap"
    first.write_bytes(trace.read_bytes())
    newer = watch / "cap-2.pcap"
    newer.touch()
    stat = first.stat()
    os.utime(newer, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    return packets


def start_auditor(
    watch: Path,
    events: Path,
    port: int,
    *extra: str,
    preexec_fn: Callable[[], None] | None = None,
    global_args: tuple[str, ...] = (),
) -> subprocess.Popen[str]:
    """``netwarden [global_args] auditor --watch ... --json [extra]``, its output piped."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "netwarden.cli",
            *global_args,
            "auditor",
            "--watch",
            str(watch),
            "--events",
            str(events),
            "--metrics-listen",
            f"127.0.0.1:{port}",
            "--json",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec_fn,  # noqa: PLW1509 (only setrlimit, before exec)
    )


def scrape(port: int, timeout: float = 5.0) -> str | None:
    """The auditor's /metrics text, or None when it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as resp:
            text: str = resp.read().decode()
            return text
    except (OSError, urllib.error.URLError):
        return None


def packets_read(text: str) -> int:
    match = re.search(r'^netwarden_auditor_packets_total\{site=""\} (\S+)$', text, re.M)
    return int(float(match.group(1))) if match else -1


def wait_for_packets(proc: subprocess.Popen[str], port: int, packets: int) -> None:
    """Wait until the auditor's metrics say it has read ``packets`` packets."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the auditor exited with {proc.returncode}:\n{out}\n{err}")
        text = scrape(port)
        if text is not None and packets_read(text) >= packets:
            return
        time.sleep(0.2)
    raise AssertionError(f"the auditor did not read {packets} packets")


def stop(proc: subprocess.Popen[str], signum: int) -> tuple[int, str, str]:
    proc.send_signal(signum)
    try:
        out, err = proc.communicate(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"the auditor did not stop on signal {signum}:\n{err}") from None
    return proc.returncode, out, err


def incident_view(events: list[Event]) -> list[tuple[str, str, str, str, int]]:
    """Events without their ids and run-specific times, in order (what two runs share)."""
    return [(e.detector, e.severity.value, e.src, e.dst, e.count) for e in events]


def read(path: Path) -> tuple[list[Event], list[Event]]:
    """Every line of an events file, and the last version of each incident."""
    if not path.exists():
        return [], []
    lines = [Event.model_validate_json(line) for line in path.read_text().splitlines() if line]
    return lines, read_events(path)
