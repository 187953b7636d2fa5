"""The lab holder's unit control (netwarden.lab.ns.units): what a restart runs, the script."""

from __future__ import annotations

import shutil
import subprocess
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from netwarden.lab.ns import units
from netwarden.lab.ns.services import Daemon, ServiceContext
from netwarden.lab.ns.services.rsyslog import rsyslog
from netwarden.lab.ns.units import (
    EXPORTER_USER,
    SCRIPT,
    UNITS,
    daemon_name,
    default_args,
    others_can_run,
    unit_daemon,
)

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


def test_prometheus_restarts_on_the_debian_paths_checked_by_promtool() -> None:
    unit = unit_daemon("prometheus", CTX, None)
    argv = unit.daemon.argv
    assert argv[0] == "/usr/bin/prometheus"
    assert "--config.file=/etc/prometheus/prometheus.yml" in argv
    assert "--storage.tsdb.path=/var/lib/prometheus/metrics2" in argv
    assert "--web.listen-address=0.0.0.0:9090" in argv  # the port of the lab's own one
    assert unit.daemon.check == (
        "/usr/bin/promtool", "check", "config", "/etc/prometheus/prometheus.yml"
    )  # fmt: skip
    assert unit.daemon.user == "prometheus"
    assert daemon_name("prometheus") == unit.daemon.name  # it replaces the lab's own
    assert ("/var/lib/prometheus/metrics2", 0o750, "prometheus") in unit.directories


def _server_root(tmp_path: Path, *, user: bool = True) -> ServiceContext:
    (tmp_path / "etc/default").mkdir(parents=True)
    passwd = "root:x:0:0::/root:/bin/sh\n"
    if user:
        passwd += f"{EXPORTER_USER}:x:990:990::/var/lib/netwarden-exporter:/usr/sbin/nologin\n"
    (tmp_path / "etc/passwd").write_text(passwd)
    return ServiceContext("jed-mon1", CTX.addresses, (), root=tmp_path)


def test_the_exporters_run_netwarden_with_the_role_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(units, "others_can_run", lambda *_: True)
    ctx = _server_root(tmp_path)
    (tmp_path / "etc/default/netwarden-exporter").write_text(
        '# written by the monitoring role\nARGS="-i /etc/netwarden/inventory '
        "--listen 127.0.0.1:9430 --backup-repo '/var/lib/netwarden exporter/b'\"\n"
    )
    (tmp_path / "etc/default/netwarden-access-exporter").write_text(
        'ARGS="-i /etc/netwarden/inventory --relay jed-log1"\n'
    )
    serve = unit_daemon("netwarden-exporter", ctx, None).daemon
    assert serve.argv[1:5] == ("-m", "netwarden.cli", "exporter", "serve")
    assert serve.argv[5:] == ("-i", "/etc/netwarden/inventory", "--listen", "127.0.0.1:9430",
                              "--backup-repo", "/var/lib/netwarden exporter/b")  # fmt: skip
    assert serve.user == EXPORTER_USER  # never root
    assert serve.env["NETWARDEN_LOCK_DIR"] == "/var/lib/netwarden-exporter/locks"
    access = unit_daemon("netwarden-access-exporter", ctx, None)
    assert access.daemon.argv[3:] == (
        "exporter", "access", "-i", "/etc/netwarden/inventory", "--relay", "jed-log1"
    )  # fmt: skip
    assert access.directories == (("/var/lib/netwarden-access-exporter", 0o750, EXPORTER_USER),)
    assert {"netwarden-exporter", "netwarden-access-exporter", "prometheus"} <= set(UNITS)
    monkeypatch.setattr(units, "others_can_run", lambda *_: False)  # a pyenv under /root
    assert unit_daemon("netwarden-exporter", ctx, None).daemon.user is None


def test_others_can_run_needs_every_folder_searchable(tmp_path: Path) -> None:
    sh = shutil.which("sh")
    assert sh is not None
    assert others_can_run(Path(sh))  # /usr/bin: every folder 0755
    program = tmp_path / "python"
    program.write_text("")
    program.chmod(0o755)
    # pytest's base folder (/tmp/pytest-of-<user>) is 0700: not for other users
    assert (tmp_path.parent.parent.stat().st_mode & 0o007) == 0
    assert not others_can_run(program)
    assert not others_can_run(Path(sh), program)
    assert not others_can_run(tmp_path / "missing")


def test_an_exporter_unit_needs_the_role_options_and_user(tmp_path: Path) -> None:
    ctx = _server_root(tmp_path, user=False)
    with pytest.raises(ValueError, match="gives no ARGS"):
        unit_daemon("netwarden-exporter", ctx, None)
    (tmp_path / "etc/default/netwarden-exporter").write_text('ARGS="-i /x"\n')
    with pytest.raises(ValueError, match="no user netwarden-exporter"):
        unit_daemon("netwarden-exporter", ctx, None)
    (tmp_path / "etc/default/netwarden-exporter").write_text('ARGS="-i \'/x"\n')
    with pytest.raises(ValueError, match="ARGS"):
        default_args(ctx, "netwarden-exporter")
