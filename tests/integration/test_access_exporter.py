"""The access exporter with the simulated fleet and a real Prometheus (Debian's).

The example inventory's simulated switches send syslog to ``netwarden exporter
access`` (their running config gets ``logging host 127.0.0.1 transport udp port P``
and ``logging origin-id hostname``, as an engineer would configure it); Prometheus
scrapes the exporter. Failed and successful SSH logins are real SSH logins
(paramiko, host key checked) to the simulator. Rootless; loopback only; every
wait is a bounded poll.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.exporter_stack import (
    PROMETHEUS,
    PROMTOOL,
    Exporter,
    Prometheus,
    free_port,
    monitoring_config,
    poll,
    start_prometheus,
)
from tests.integration.labfleet import Lab, start_lab

pytestmark = pytest.mark.skipif(
    not Path(PROMETHEUS).is_file() or PROMTOOL is None,
    reason="prometheus/promtool not installed (Debian package prometheus)",
)

SITE = "nyc"
SWITCH = "nyc-acc-sw1"
OTHER = "nyc-acc-sw2"
WRONG_PASSWORD = "Wr0ng-" + "pass-" + "word-7731"


@dataclass
class AccessStack:
    lab: Lab
    exporter: Exporter
    prometheus: Prometheus
    syslog_port: int
    events_log: Path


def _start_access(lab: Lab, tmp: Path, syslog_port: int, events_log: Path) -> Exporter:
    log = tmp / "access.log"
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "netwarden.cli", "-vv", "exporter", "access",
                "-i", str(lab.path),
                "--listen-syslog", f"127.0.0.1:{syslog_port}",
                "--listen", f"127.0.0.1:{free_port()}",
                "--events-log", str(events_log),
                "--max-message", "2048",
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
        proc.kill()
        raise AssertionError(f"the access exporter did not start: {log.read_text()}")
    return Exporter(proc, log, url)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AccessStack]:
    tmp = tmp_path_factory.mktemp("access")
    with start_lab(Path("inventory"), tmp / "lab") as lab:
        syslog_port = free_port()
        events_log = tmp / "events.jsonl"
        exporter = _start_access(lab, tmp, syslog_port, events_log)
        prometheus: Prometheus | None = None
        try:
            for name in (SWITCH, OTHER):
                errors = lab.sim(name).merge(
                    "logging origin-id hostname\n"
                    f"logging host 127.0.0.1 transport udp port {syslog_port}\n"
                )
                assert errors == []
            # the configuration ``monitoring config`` writes, with the access exporter's job
            # (the device exporter is not run here: its jobs just fail to scrape)
            monitoring_config(
                lab.path,
                tmp / "prometheus",
                SITE,
                f"127.0.0.1:{free_port()}",
                "--access-exporter",
                exporter.url.removeprefix("http://"),
            )
            config = tmp / "prometheus" / "prometheus.yml"
            assert PROMTOOL is not None
            checked = subprocess.run(
                [PROMTOOL, "check", "config", str(config)],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            assert checked.returncode == 0, checked.stdout + checked.stderr
            prometheus = start_prometheus(config, tmp / "tsdb", tmp / "prometheus.log")
            yield AccessStack(lab, exporter, prometheus, syslog_port, events_log)
        finally:
            if prometheus is not None:
                prometheus.stop()
            exporter.stop()


def _value(stack: AccessStack, expr: str) -> float | None:
    result = stack.prometheus.query(expr)
    return float(result[0]["value"][1]) if result else None


def _until_at_least(stack: AccessStack, expr: str, target: float) -> float | None:
    """``expr``'s value once it reaches ``target`` (or when the poll gives up)."""
    poll(lambda: (_value(stack, expr) or 0.0) >= target)
    return _value(stack, expr)


def _exporter_ready(stack: AccessStack) -> None:
    up = poll(lambda: _value(stack, 'up{job="netwarden_access"}') == 1.0)
    assert up, "Prometheus never scraped the access exporter"


FAILED = (
    f'sum(netwarden_access_events_total{{device="{SWITCH}",site="{SITE}",event="login",'
    'outcome="failure"})'
)


def test_five_failed_logins_count_five_for_the_device_and_site(stack: AccessStack) -> None:
    _exporter_ready(stack)
    before = _value(stack, FAILED) or 0.0
    user = stack.lab.credentials.username
    for _ in range(5):
        assert not stack.lab.ssh_login(SWITCH, user, WRONG_PASSWORD)
    after = _until_at_least(stack, FAILED, before + 5)
    assert after == before + 5
    # the other switch logged nothing of it
    assert (
        _value(stack, f'sum(netwarden_access_events_total{{device="{OTHER}",outcome="failure"}})')
        is None
    )


def test_automation_login_has_the_automation_user_class(stack: AccessStack) -> None:
    _exporter_ready(stack)
    creds = stack.lab.credentials
    assert stack.lab.ssh_login(OTHER, creds.username, creds.password)
    expr = (
        f'netwarden_access_events_total{{device="{OTHER}",site="{SITE}",event="login",'
        'outcome="success",user_class="automation"}'
    )
    assert _until_at_least(stack, expr, 1) == 1.0
    labels = stack.prometheus.query(expr)[0]["metric"]
    assert labels["source_zone"] == "unknown"  # 127.0.0.1: in no zone of the policy
    assert "user" not in labels


def _send_tcp(port: int, data: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)


def test_garbage_is_counted_and_the_receiver_stays_up(stack: AccessStack) -> None:
    _exporter_ready(stack)
    unparsed = 'sum(netwarden_access_syslog_unparsed_total{reason="syslog"})'
    oversize = 'sum(netwarden_access_syslog_unparsed_total{reason="oversize"})'
    base_unparsed = _value(stack, unparsed) or 0.0
    base_oversize = _value(stack, oversize) or 0.0
    port = stack.syslog_port
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        for junk in (b"\x00\xff garbage", b"<13>not a known format", b"<999>x", b"<13>\xff\xfe"):
            udp.sendto(junk, ("127.0.0.1", port))
        udp.sendto(b"<13>" + b"X" * 4000, ("127.0.0.1", port))  # over --max-message 2048
    _send_tcp(port, b"garbage line\n" + b"Y" * 5000 + b"\n" + b"3000 " + b"Z" * 3000)
    _send_tcp(port, b"12x4 not a frame length\n")  # a framing error: that connection closes
    assert _until_at_least(stack, unparsed, base_unparsed + 5) == base_unparsed + 5
    assert _until_at_least(stack, oversize, base_oversize + 3) == base_oversize + 3
    # still receiving: an sshd line from a name the sender's address does not vouch for
    line = b"<38>Dec  6 05:12:01 evil-host sshd[9]: Invalid user root from 203.0.113.9 port 4"
    _send_tcp(port, b"%d %s" % (len(line), line))
    expr = (
        'netwarden_access_events_total{device="unknown",site="unknown",event="invalid_user",'
        'source_zone="internet"}'
    )
    assert _until_at_least(stack, expr, 1) == 1.0


def test_config_change_is_counted(stack: AccessStack) -> None:
    _exporter_ready(stack)
    stack.lab.manual_change(SWITCH, ["interface GigabitEthernet1/0/5", "description access-test"])
    expr = f'sum(netwarden_access_events_total{{device="{SWITCH}",event="config_change"}})'
    assert (_until_at_least(stack, expr, 1) or 0) >= 1


def test_metrics_pass_promtool_and_hold_no_secret(stack: AccessStack) -> None:
    status, body = stack.exporter.get("/metrics")
    assert status == 200
    assert "netwarden_access_events_total" in body
    assert PROMTOOL is not None
    checked = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=body, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    status, events = stack.exporter.get("/events")
    assert status == 200
    assert '"outcome": "failure"' in events
    creds = stack.lab.credentials
    texts = {
        "/metrics": body,
        "/events": events,
        "exporter log": stack.exporter.log.read_text(encoding="utf-8"),
        "events log": stack.events_log.read_text(encoding="utf-8"),
    }
    for secret in (creds.password, creds.enable_secret, WRONG_PASSWORD):
        for where, text in texts.items():
            assert secret not in text, f"a password in {where}"
