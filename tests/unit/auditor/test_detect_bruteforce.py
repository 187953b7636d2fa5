"""ssh/rdp/telnet/ftp brute force: guessing is reported, backups and single logins are not."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.auditor.config import parse_auditor_config
from tests.unit.auditor.auditor_helpers import T0, of, run_engine, tcp_session

ATTACKER, SERVER = "10.11.30.50", "10.11.20.10"


@pytest.mark.parametrize(("detector", "port"), [("ssh_bruteforce", 22), ("rdp_bruteforce", 3389)])
def test_many_short_sessions_are_guessing(tmp_path: Path, detector: str, port: int) -> None:
    pkts = []
    for k in range(12):
        pkts += tcp_session(T0 + k * 20, ATTACKER, SERVER, port, sport=50000 + k, resp_bytes=700)
    events = of(run_engine(tmp_path, pkts), detector)
    assert len(events) == 1
    assert (events[0].src, events[0].dst, events[0].count) == (ATTACKER, SERVER, 12)
    assert events[0].evidence["kinds"] == {"short_session": 12}


def test_ssh_guessing_spread_over_servers_counts_per_client(tmp_path: Path) -> None:
    pkts = []
    for k in range(10):
        pkts += tcp_session(T0 + k * 5, ATTACKER, f"10.11.20.{10 + k}", 22, sport=50000 + k)
    events = of(run_engine(tmp_path, pkts), "ssh_bruteforce")
    assert len(events) == 1
    assert len(events[0].evidence["servers"]) == 10


def test_backup_job_long_sessions_are_not_guessing(tmp_path: Path) -> None:
    # rsync over ssh every 30 s: many sessions to one host on one port, each moving 200 KB
    pkts = []
    for k in range(30):
        pkts += tcp_session(
            T0 + k * 30,
            "10.11.20.10",
            "10.10.20.30",
            22,
            sport=50000 + k,
            requests=20,
            resp_bytes=10_000,
        )
    assert run_engine(tmp_path, pkts) == []


def test_guessing_slower_than_the_window_is_quiet(tmp_path: Path) -> None:
    pkts = []
    for k in range(12):
        pkts += tcp_session(T0 + k * 120, ATTACKER, SERVER, 22, sport=50000 + k)
    assert of(run_engine(tmp_path, pkts), "ssh_bruteforce") == []


def _ftp_try(t: float, sport: int, reply: bytes) -> list:
    return tcp_session(
        t,
        ATTACKER,
        SERVER,
        21,
        sport=sport,
        payloads=[b"", b"USER admin\r\n", b"PASS guess\r\n", b"QUIT\r\n"],
        responses=[b"220 ready\r\n", b"331 Password required\r\n", reply, b"221 Bye\r\n"],
    )


def test_ftp_530_replies_are_counted_and_success_after_is_high(tmp_path: Path) -> None:
    pkts = []
    for k in range(22):
        pkts += _ftp_try(T0 + k * 2, 51000 + k, b"530 Login incorrect.\r\n")
    pkts += _ftp_try(T0 + 60, 51100, b"230 User admin logged in.\r\n")
    events = of(run_engine(tmp_path, pkts), "ftp_bruteforce")
    assert len(events) == 1
    assert events[0].count == 22
    assert events[0].evidence["login_succeeded_after"] is True
    assert events[0].severity.value == "high"


def test_a_few_ftp_typos_are_not_brute_force(tmp_path: Path) -> None:
    pkts = []
    for k in range(3):
        pkts += _ftp_try(T0 + k * 2, 51000 + k, b"530 Login incorrect.\r\n")
    assert of(run_engine(tmp_path, pkts), "ftp_bruteforce") == []


def test_telnet_failure_messages(tmp_path: Path) -> None:
    pkts = []
    for k in range(10):
        pkts += tcp_session(
            T0 + k * 3,
            ATTACKER,
            SERVER,
            23,
            sport=52000 + k,
            payloads=[b"admin\r\n", b"guess\r\n"],
            responses=[b"Password: ", b"\r\nLogin incorrect\r\n"],
        )
    events = of(run_engine(tmp_path, pkts), "telnet_bruteforce")
    assert len(events) == 1
    assert events[0].evidence["kinds"] == {"login_failed": 10}


def test_per_site_threshold_override(tmp_path: Path, inv: object) -> None:
    config = parse_auditor_config(
        {"auditor": {"sites": {"nyc": {"ssh_bruteforce": {"threshold": 3}}}}}
    )
    pkts = []
    for k in range(4):
        pkts += tcp_session(T0 + k * 5, ATTACKER, SERVER, 22, sport=50000 + k)
    assert of(run_engine(tmp_path, pkts, config=config), "ssh_bruteforce") == []
    assert len(of(run_engine(tmp_path, pkts, config=config, site="nyc"), "ssh_bruteforce")) == 1
