"""The lab holder's unit control (netwarden.lab.ns.units): what a restart runs, the script."""

from __future__ import annotations

import shutil
import subprocess
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from netwarden.lab.ns.services import Daemon, ServiceContext
from netwarden.lab.ns.services.rsyslog import rsyslog
from netwarden.lab.ns.units import SCRIPT, UNITS, daemon_name, unit_daemon

CTX = ServiceContext("bru-srv1", (IPv4Address("10.13.10.101"),), ("smb",), local_syslog=True)


def test_sshd_restarts_on_the_debian_config_checked_first() -> None:
    unit = unit_daemon("ssh", CTX, None)
    assert unit.daemon.argv == ("/usr/sbin/sshd", "-D", "-f", "/etc/ssh/sshd_config")
    assert unit.daemon.check == ("/usr/sbin/sshd", "-t", "-f", "/etc/ssh/sshd_config")
    assert daemon_name("ssh") == unit.daemon.name == "sshd"
    no_syslog = ServiceContext("x", CTX.addresses, (), local_syslog=False)
    assert unit_daemon("ssh", no_syslog, None).daemon.argv[-1] == "-e"  # logs to stderr


def test_chrony_never_steers_the_host_clock() -> None:
    unit = unit_daemon("chrony", CTX, None)
    assert "-x" in unit.daemon.argv
    assert unit.daemon.argv[-2:] == ("-f", "/etc/chrony/chrony.conf")
    assert daemon_name("chrony") == unit.daemon.name


def test_rsyslog_restarts_its_running_config_and_needs_one() -> None:
    running = Daemon(
        "rsyslogd", ("/usr/sbin/rsyslogd", "-n", "-f", "/etc/netwarden-lab/rsyslog.conf")
    )
    assert unit_daemon("rsyslog", CTX, running).daemon is running
    with pytest.raises(ValueError, match="runs no rsyslogd"):
        unit_daemon("rsyslog", CTX, None)


def test_an_unknown_unit_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="'apache2' is not a lab unit; the lab restarts ssh"):
        unit_daemon("apache2", CTX, None)


def test_the_lab_rsyslog_reads_the_drop_ins(tmp_path: Path) -> None:
    ctx = ServiceContext("bru-srv1", CTX.addresses, (), log_host=IPv4Address("10.10.20.11"),
                         root=tmp_path)  # fmt: skip
    rsyslog(ctx)
    text = (tmp_path / "etc/netwarden-lab/rsyslog.conf").read_text()
    assert 'include(file="/etc/rsyslog.d/*.conf" mode="optional")' in text


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs sh")
def test_the_unit_script_is_valid_sh_and_refuses_unknown_units(tmp_path: Path) -> None:
    script = tmp_path / "netwarden-lab-unit"
    script.write_text(SCRIPT)
    assert subprocess.run(["sh", "-n", str(script)], check=False).returncode == 0
    for args in (["restart", "apache2"], ["stop", "ssh"], []):
        done = subprocess.run(["sh", str(script), *args], capture_output=True, text=True,
                              check=False, timeout=10)  # fmt: skip
        assert done.returncode == 2, args
        assert f"restart {{{'|'.join(UNITS)}}}" in done.stderr
