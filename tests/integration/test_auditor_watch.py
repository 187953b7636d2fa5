"""``netwarden auditor --watch``: captures dropped or rotated while it runs are read, and it says so.

Issue 11 point 6: a file dropped two seconds into a run was never read, and the
auditor showed nothing until the end. The auditor runs as a process with
``--settle 3600``, so a file can only be taken as complete because its writer
closed it or it was renamed into the directory (inotify), or because a newer
capture appeared beside it (tcpdump's rotation): never because it stopped
changing for a while. Progress is a status line on stderr.
"""

from __future__ import annotations

import json
import queue
import shutil
import signal
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.integration.auditor_proc import (
    DEADLINE,
    free_port,
    start_auditor,
    wait_for_packets,
)
from tests.unit.terminal import run

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's"),
]


class Auditor:
    """``netwarden -v auditor --watch DIR --settle 3600 --json ...``, its stderr read as it comes."""

    def __init__(self, watch: Path, tmp: Path, *extra: str) -> None:
        self.port = free_port()
        self.proc = start_auditor(
            watch,
            tmp / "events.jsonl",
            self.port,
            "--settle",
            "3600",
            "--status-every",
            "0.2",
            *extra,
            global_args=("-v",),
        )
        self.err: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.err.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def wait_for_line(self, text: str) -> str:
        """The first line of stderr from now on that holds ``text``."""
        while True:
            try:
                line = self._lines.get(timeout=DEADLINE)
            except queue.Empty:
                raise AssertionError(f"no {text!r} on stderr:\n{''.join(self.err)}") from None
            if line is None:
                raise AssertionError(f"the auditor exited:\n{''.join(self.err)}")
            if text in line:
                return line

    def wait_for_packets(self, packets: int) -> None:
        wait_for_packets(self.proc, self.port, packets)

    def stop(self) -> tuple[int, dict[str, object], str]:
        """SIGTERM; (exit code, the --json summary, stderr)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"the auditor did not stop:\n{''.join(self.err)}") from None
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()
        self._reader.join(DEADLINE)
        err = "".join(self.err)
        assert "Traceback" not in err, err
        return code, json.loads(out), err

    def kill(self) -> None:
        """Kill the process if a failed test left it running."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _records(trace: Path) -> tuple[bytes, list[bytes]]:
    """A classic pcap file's global header and its records (header and data each)."""
    data = trace.read_bytes()
    header, records, offset = data[:24], [], 24
    while offset < len(data):
        (length,) = struct.unpack_from("<I", data, offset + 8)
        records.append(data[offset : offset + 16 + length])
        offset += 16 + length
    return header, records


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """The demo attack trace and its packet count."""
    from collectors.auditor.demo import build_attack_pcap

    path = tmp_path_factory.mktemp("trace") / "attack.pcap"
    build_attack_pcap(path)
    return path, len(_records(path)[1])


def test_a_capture_dropped_while_running_is_read_at_once(
    tmp_path: Path, trace: tuple[Path, int]
) -> None:
    """Moved in under its final name (written as ``*.part`` first), then copied in (closed)."""
    path, packets = trace
    watch = tmp_path / "spool"
    watch.mkdir()
    auditor = Auditor(watch, tmp_path)
    try:
        auditor.wait_for_line("watching ")
        part = watch / "cap-1.pcap.part"  # a temporary name: never read as a capture
        shutil.copyfile(path, part)
        part.rename(watch / "cap-1.pcap")
        auditor.wait_for_packets(packets)
        # the status line says so while the run goes on (stderr is a pipe: a line of its own)
        auditor.wait_for_line(f"auditor: 1 file(s) read; {packets:,} packets; ")
        shutil.copyfile(path, watch / "cap-2.pcap")  # written in place and closed
        auditor.wait_for_packets(2 * packets)
        status = auditor.wait_for_line(f"auditor: 2 file(s) read; {2 * packets:,} packets; ")
        code, summary, err = auditor.stop()
    finally:
        auditor.kill()
    assert "incident(s) open; new: " in status, status
    assert " high" in status, status
    assert code == 1, err  # the demo trace holds attacks
    assert summary["packets"] == 2 * packets, err  # each file once, the .part file never
    assert summary["input_errors"] == {}, err


def test_a_capture_rotated_the_tcpdump_way_is_read_whole_once(
    tmp_path: Path, trace: tuple[Path, int]
) -> None:
    """Written in pieces while open, then closed as the next file starts (``tcpdump -G``)."""
    path, packets = trace
    header, records = _records(path)
    watch = tmp_path / "spool"
    watch.mkdir()
    auditor = Auditor(watch, tmp_path)
    try:
        auditor.wait_for_line("watching ")
        with (watch / "cap-1.pcap").open("wb") as first:
            first.write(header + b"".join(records[: packets // 2]))
            first.flush()
            auditor.wait_for_line("auditor: 0 file(s) read")  # a status line after the flush
            first.write(b"".join(records[packets // 2 :]))
        with (watch / "cap-2.pcap").open("wb") as second:  # the next one, still being written
            second.write(header + records[0])
            second.flush()
            auditor.wait_for_packets(packets)
            auditor.wait_for_line(f"auditor: 1 file(s) read; {packets:,} packets; ")
            code, summary, err = auditor.stop()
    finally:
        auditor.kill()
    assert code == 1, err
    assert summary["packets"] == packets, err  # cap-1 whole and once; cap-2 is still open
    assert summary["input_errors"] == {}, err  # no truncated record: cap-1 was read closed


def test_the_status_line_is_redrawn_on_a_terminal(tmp_path: Path, trace: tuple[Path, int]) -> None:
    """On a terminal the status line shows from the start (and is erased at the end)."""
    watch = tmp_path / "spool"
    watch.mkdir()
    shutil.copyfile(trace[0], watch / "cap-1.pcap")
    (watch / "cap-2.pcap").touch()  # cap-1 was rotated: read at once
    code, shown, _ = run(["auditor", "--watch", str(watch), "--duration", "3"], 100, tty=True)
    assert code == 1, shown
    assert f"auditor: 1 file(s) read; {trace[1]:,} packets; " in shown, shown
    assert "┃ severity / detector" in shown, shown  # then the summary table
