"""The auditor's metrics port cannot take the capture down (idle connections, few descriptors).

``netwarden auditor --watch`` runs with ``ulimit -n 256`` and 300 idle connections
to ``--metrics-listen``: prometheus_client's threading server held a thread and a
descriptor for each until the capture failed with EMFILE. The auditor must go on
reading captures, /metrics must keep answering, and the run must end normally.
"""

from __future__ import annotations

import contextlib
import resource
import signal
import socket
import time
from pathlib import Path

import pytest

from tests.integration.auditor_proc import (
    DEADLINE,
    free_port,
    incident_view,
    packets_read,
    read,
    scrape,
    stage_captures,
    start_auditor,
    stop,
    wait_for_packets,
)

pytestmark = pytest.mark.integration

NOFILE = 256
IDLE = 300


def _low_nofile() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


def _wait_until_serving(port: int) -> None:
    end = time.monotonic() + DEADLINE
    while scrape(port, timeout=1) is None:
        assert time.monotonic() < end, "the metrics port never answered"
        time.sleep(0.1)


def _threads(pid: int) -> int:
    """Threads of process ``pid`` (Linux /proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads:")))


def test_idle_metrics_connections_do_not_stop_the_capture(tmp_path: Path) -> None:
    watch = tmp_path / "spool"
    watch.mkdir()
    events = tmp_path / "events.jsonl"
    port = free_port()
    proc = start_auditor(watch, events, port, preexec_fn=_low_nofile)
    idle: list[socket.socket] = []
    try:
        _wait_until_serving(port)
        threads = _threads(proc.pid)
        for _ in range(IDLE):  # connect and say nothing
            sock = socket.socket()
            sock.settimeout(5)
            with contextlib.suppress(OSError):  # refused or reset: the server's choice
                sock.connect(("127.0.0.1", port))
            idle.append(sock)
        assert proc.poll() is None, proc.communicate()
        assert _threads(proc.pid) <= threads  # no thread per connection
        packets = stage_captures(watch, tmp_path)
        wait_for_packets(proc, port, packets)  # the capture went on; /metrics answers
        text = scrape(port)
        assert text is not None
        assert packets_read(text) == packets
        assert proc.poll() is None
    finally:
        for sock in idle:
            sock.close()
        code, _out, err = stop(proc, signal.SIGTERM)
    assert "Traceback" not in err, err
    assert "Too many open files" not in err, err
    assert code == 1, err  # the trace holds findings
    _lines, incidents = read(events)
    assert incident_view(incidents)
