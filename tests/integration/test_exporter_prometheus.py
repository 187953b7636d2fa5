"""The device exporter against the simulated fleet, scraped by a real Prometheus (Debian's).

One stack for the module: the example inventory's simulated switches, a backup and
a live audit of site ``nyc`` (so the config and compliance modules have something
to read), ``netwarden exporter serve`` and Prometheus with the configuration
``netwarden monitoring config --limit nyc`` wrote. Rootless; loopback only.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from netwarden.inventory.models import InterfaceMode
from tests.integration.exporter_stack import (
    PROMETHEUS,
    PROMTOOL,
    Exporter,
    Prometheus,
    free_port,
    monitoring_config,
    netwarden,
    poll,
    start_exporter,
    start_prometheus,
    tls_web_config,
)
from tests.integration.labfleet import Lab, start_lab

pytestmark = pytest.mark.skipif(
    not Path(PROMETHEUS).is_file() or PROMTOOL is None,
    reason="prometheus/promtool not installed (Debian package prometheus)",
)

SITE = "nyc"
SWITCHES = ("nyc-acc-sw1", "nyc-acc-sw2")
DOWN = "nyc-fw1"  # in the lab inventory, not run by the simulator: nothing listens
DOWN_ALL = (DOWN, "nyc-srv1")  # the firewall and the server: both have sessions, neither runs
SHUT = "GigabitEthernet1/0/3"


@dataclass
class Stack:
    lab: Lab
    exporter: Exporter
    prometheus: Prometheus
    config_dir: Path
    """Where ``monitoring config`` wrote (``site-nyc/``, ``hq/``)."""
    answers: list[str] = field(default_factory=list)
    """Every body the exporter answered in these tests (searched for secrets)."""

    def probe(self, target: str, module: str, timeout: float | None = None) -> tuple[int, str]:
        status, body = self.exporter.probe(target, module, timeout)
        self.answers.append(body)
        return status, body


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("exporter")
    with start_lab(Path("inventory"), tmp / "lab") as lab:
        repo, reports = tmp / "backups", tmp / "reports"
        done = netwarden("backup", "-i", str(lab.path), "--limit", SITE, "--repo", str(repo))
        assert done.returncode == 0, done.stdout + done.stderr
        audit = netwarden(
            "audit", "-i", str(lab.path), "--limit", SITE, "-f", "json", "-o", str(reports)
        )
        assert (reports / "report.json").is_file(), audit.stdout + audit.stderr
        exporter = start_exporter(
            lab, tmp, "--backup-repo", str(repo), "--reports", str(reports), "-c", "4"
        )
        prometheus: Prometheus | None = None
        try:
            config_dir = tmp / "prometheus"
            hostport = exporter.url.removeprefix("http://")
            site_port = free_port()
            monitoring_config(
                lab.path, config_dir, SITE, hostport, "--layout", "federated",
                "--site-prometheus", f"{SITE}=127.0.0.1:{site_port}", "--config-interval", "10",
            )  # fmt: skip
            prometheus = start_prometheus(
                config_dir / f"site-{SITE}" / "prometheus.yml",
                tmp / "tsdb",
                tmp / "prometheus.log",
                site_port,
            )
            yield Stack(lab, exporter, prometheus, config_dir)
        finally:
            if prometheus is not None:
                prometheus.stop()
            exporter.stop()


def _health_up(stack: Stack) -> dict[str, float]:
    got = stack.prometheus.values('netwarden_up{job="netwarden_health"}')
    return got if set(got) >= {*SWITCHES, *DOWN_ALL} else {}


def test_prometheus_has_each_device_with_the_simulator_values(stack: Stack) -> None:
    up = poll(lambda: _health_up(stack))
    assert up == {SWITCHES[0]: 1.0, SWITCHES[1]: 1.0, **dict.fromkeys(DOWN_ALL, 0.0)}
    info = poll(lambda: stack.prometheus.query("netwarden_device_info"))
    by_device = {r["metric"]["instance"]: r["metric"] for r in info}
    for name in SWITCHES:
        spec = stack.lab.sim(name).spec
        labels = by_device[name]
        assert labels["model"] == spec.model
        assert labels["serial_number"] == spec.serial
        assert labels["hostname"] == spec.hostname
        # site, role, zone from relabelling; the exporter's own copies dropped
        assert (labels["site"], labels["role"], labels["zone"]) == (SITE, "access", "mgmt")
        assert "exported_site" not in labels
        oper = stack.prometheus.values(
            f'netwarden_interface_oper_status{{instance="{name}"}}', by="interface"
        )
        physical = {i.name for i in spec.interfaces if i.name.startswith("GigabitEthernet")}
        assert physical <= set(oper), (physical, oper)
        octets = stack.prometheus.values(
            f'netwarden_interface_receive_bytes_total{{instance="{name}"}}', by="interface"
        )
        assert octets, "no interface counters"
        # what the inventory says each interface is, joinable with the device's own series
        described = stack.prometheus.query(f'netwarden_interface_info{{instance="{name}"}}')
        modes = {r["metric"]["interface"]: r["metric"]["mode"] for r in described}
        assert modes, "no netwarden_interface_info"
        assert set(modes.values()) <= {m.value for m in InterfaceMode}, modes
        joined = stack.prometheus.values(
            f'netwarden_interface_oper_status{{instance="{name}"}}'
            " and on (instance, interface) netwarden_interface_info",
            by="interface",
        )
        assert set(joined) == set(modes) & set(oper), (joined, modes)
        assert joined, "no interface of the inventory matches one the device reports"
    uptime = stack.prometheus.values("netwarden_device_uptime_seconds")
    assert set(uptime) == set(SWITCHES)
    assert min(uptime.values()) > 0


@pytest.mark.parametrize("which", [f"site-{SITE}", "hq"])
def test_promtool_check_config_on_the_generated_config(stack: Stack, which: str) -> None:
    assert PROMTOOL is not None
    checked = subprocess.run(
        [PROMTOOL, "check", "config", str(stack.config_dir / which / "prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_hq_prometheus_has_the_site_series_through_federation(stack: Stack, tmp_path: Path) -> None:
    hq = start_prometheus(
        stack.config_dir / "hq" / "prometheus.yml", tmp_path / "tsdb", tmp_path / "hq.log"
    )
    try:
        query = 'netwarden_up{job="netwarden_health"}'
        got = poll(
            lambda: len(hq.query(query)) == len(SWITCHES) + len(DOWN_ALL) and hq.query(query)
        )
        assert got, (tmp_path / "hq.log").read_text(encoding="utf-8")
        by_device = {r["metric"]["instance"]: r for r in got}
        assert set(by_device) == {*SWITCHES, *DOWN_ALL}
        labels = by_device[SWITCHES[0]]["metric"]
        assert labels["site"] == SITE  # the site's own labels, kept (honor_labels)
        assert labels["prometheus"] == f"site-{SITE}"  # the site Prometheus's external label
        assert float(by_device[SWITCHES[0]]["value"][1]) == 1.0
        assert float(by_device[DOWN]["value"][1]) == 0.0
    finally:
        hq.stop()


@pytest.mark.parametrize(("target", "module"), [
    (SWITCHES[0], "health"), (SWITCHES[0], "config"), (SITE, "compliance"),
    (SWITCHES[1], "compliance"), (DOWN, "health"),
])  # fmt: skip
def test_each_module_output_passes_promtool_check_metrics(
    stack: Stack, target: str, module: str
) -> None:
    status, body = stack.probe(target, module, timeout=20)
    assert status == 200, body
    assert PROMTOOL is not None
    checked = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=body, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr + body
    up = 0.0 if target == DOWN else 1.0
    assert f"netwarden_up {up}" in body
    assert "netwarden_scrape_duration_seconds " in body


def test_config_and_compliance_modules_read_backup_and_report(stack: Stack) -> None:
    _, config = stack.probe(SWITCHES[0], "config", timeout=20)
    assert 'netwarden_config_drift{against="backup"} 0.0' in config  # just backed up
    assert "netwarden_config_backup_age_seconds " in config
    assert 'netwarden_collector_success{collector="backup"} 1.0' in config
    _, compliance = stack.probe(SITE, "compliance", timeout=20)
    assert 'netwarden_compliance_results{framework="all",status="pass"}' in compliance
    assert "report.json" in compliance  # HELP names the report


def test_a_shut_interface_reads_oper_status_0_at_a_next_scrape(stack: Stack) -> None:
    name = SWITCHES[0]
    query = f'netwarden_interface_oper_status{{instance="{name}",interface="{SHUT}"}}'
    assert poll(lambda: stack.prometheus.values(query).get(name) == 1.0)
    stack.lab.manual_change(name, [f"interface {SHUT}", "shutdown"])
    try:
        assert poll(lambda: stack.prometheus.values(query).get(name) == 0.0), (
            stack.prometheus.query(query)
        )
        admin = f'netwarden_interface_admin_status{{instance="{name}",interface="{SHUT}"}}'
        assert stack.prometheus.values(admin).get(name) == 0.0
        other = f'netwarden_interface_oper_status{{instance="{SWITCHES[1]}",interface="{SHUT}"}}'
        assert stack.prometheus.values(other).get(SWITCHES[1]) == 1.0  # the other switch unaffected
    finally:
        stack.lab.manual_change(name, [f"interface {SHUT}", "no shutdown"])


def test_a_slow_device_is_down_within_the_timeout_and_others_are_not(stack: Stack) -> None:
    slow, fine = SWITCHES[1], SWITCHES[0]
    stack.lab.fleet.set_fault(slow, delay_seconds=30.0)
    answers: dict[str, str] = {}

    def probe(name: str) -> None:  # Prometheus scrapes both meanwhile (each probe waits its turn)
        answers[name] = stack.probe(name, "health", timeout=10)[1]

    try:
        threads = [threading.Thread(target=probe, args=(n,)) for n in (slow, fine)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        stack.lab.fleet.clear_faults(slow)
    assert "netwarden_up 0.0" in answers[slow]
    assert "netwarden_up 1.0" in answers[fine]
    # the exporter's own view: the slow probe counted as a failure
    _, own = stack.exporter.get("/metrics")
    assert 'netwarden_exporter_probes_total{module="health",result="failure"}' in own


def test_prometheus_scrapes_an_exporter_behind_tls_and_basic_auth(
    stack: Stack, tmp_path: Path
) -> None:
    password = secrets.token_urlsafe(16)
    web, cert = tls_web_config(tmp_path, "prometheus", password)
    (tmp_path / "password").write_text(password + "\n", encoding="utf-8")
    exporter = start_exporter(stack.lab, tmp_path, "--web-config", str(web), "-c", "2")
    prometheus: Prometheus | None = None
    try:
        assert exporter.url.startswith("https://")
        out = tmp_path / "prometheus"
        monitoring_config(
            stack.lab.path, out, SWITCHES[0], exporter.url.removeprefix("https://"),
            "--exporter-scheme", "https", "--exporter-ca-file", str(cert),
            "--exporter-user", "prometheus", "--exporter-password-file",
            str(tmp_path / "password"), "--config-interval", "60",
        )  # fmt: skip
        assert password not in (out / "prometheus.yml").read_text(encoding="utf-8")
        prometheus = start_prometheus(out / "prometheus.yml", tmp_path / "tsdb", tmp_path / "p.log")
        p = prometheus
        up = poll(lambda: p.values('netwarden_up{job="netwarden_health"}').get(SWITCHES[0]))
        assert up == 1.0, (tmp_path / "p.log").read_text(encoding="utf-8")
        own = poll(lambda: list(p.values('up{job="netwarden_exporter"}').values()) == [1.0])
        assert own, "the exporter's own metrics are scraped over TLS too"
    finally:
        if prometheus is not None:
            prometheus.stop()
        exporter.stop()
    assert password not in exporter.log.read_text(encoding="utf-8")


BAD_QUERIES = [
    "",
    "target=nyc-acc-sw1",
    "module=health",
    "target=nope&module=health",
    "target=nyc-sensor1&module=health",  # a sensor: no session class
    "target=nyc-acc-sw1&module=bogus",
    "target=nyc-acc-sw1&target=nyc-acc-sw2&module=health",
    "target=nyc-acc-sw1&module=health&module=health",
    "target=nyc-acc-sw1&module=health&password=secret",
    "target=%ff%fe&module=health",
    "target=" + "a" * 300 + "&module=health",
    "target=nyc-acc-sw1&module=health&" + "&".join(f"x{i}=1" for i in range(20)),
    "target=%0a%0d&module=health",
]


@pytest.mark.parametrize("query", BAD_QUERIES, ids=range(len(BAD_QUERIES)))
def test_bad_requests_get_400_with_a_message(stack: Stack, query: str) -> None:
    status, body = stack.exporter.get(f"/probe?{query}")
    stack.answers.append(body)
    assert status == 400, body
    assert body.strip(), "a 400 says why"


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_garbage_http_and_a_thousand_bad_requests_leave_it_up_with_flat_memory(
    stack: Stack,
) -> None:
    port = int(stack.exporter.url.rsplit(":", 1)[1])
    garbage = [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        b"GET\r\n\r\n",
        b"POST /probe?target=nyc-acc-sw1&module=health HTTP/1.1\r\n\r\n",
        b"GET /probe?target=nyc-acc-sw1&module=health HTTP/1.1\r\nX-Prometheus-Scrape-Timeout-Seconds: soon\r\n\r\n",
        b"GET /probe?target=nyc-acc-sw1&module=health HTTP/1.1\r\nX-Prometheus-Scrape-Timeout-Seconds: -1\r\n\r\n",
        b"GET /probe?target=" + b"x" * 20000 + b" HTTP/1.1\r\n\r\n",
        b"GET /probe HTTP/9.9\r\n\r\n",
    ]
    for data in garbage:
        answer = _raw(port, data)
        stack.answers.append(answer.decode("latin-1"))
        assert answer.startswith((b"HTTP/1.1 4", b"HTTP/1.1 505")), (data[:60], answer[:200])
    pid = stack.exporter.proc.pid
    bad = [q.encode() for q in BAD_QUERIES]
    for i in range(100):  # warm up: allocator and caches settle
        _raw(port, b"GET /probe?" + bad[i % len(bad)] + b" HTTP/1.1\r\n\r\n")
    before = _rss_kib(pid)
    for i in range(1000):
        answer = _raw(port, b"GET /probe?" + bad[i % len(bad)] + b" HTTP/1.1\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    after = _rss_kib(pid)
    assert after - before < 8 * 1024, (before, after)  # flat: under 8 MiB of growth
    assert stack.exporter.get("/-/healthy")[0] == 200
    status, landing = stack.exporter.get("/")
    assert status == 200
    assert "/probe?target=" in landing
    _, own = stack.exporter.get("/metrics")
    assert 'netwarden_exporter_requests_rejected_total{reason="target"}' in own


def test_no_secret_in_any_answer_or_log(stack: Stack) -> None:
    # after the other tests: every answer they got, the log of all their probes
    stack.probe(SWITCHES[0], "config", timeout=20)
    creds = stack.lab.credentials
    vault = (stack.lab.path / ".vault-password").read_text(encoding="utf-8").strip()
    secrets = {
        "password": creds.password,
        "enable secret": creds.enable_secret,
        "vault password": vault,
    }
    log = stack.exporter.log.read_text(encoding="utf-8")
    assert "DEBUG netmiko" in log  # -vv: the sessions, login included, are in the log
    seen = "\n".join(stack.answers)
    assert stack.answers
    for what, secret in secrets.items():
        assert len(secret) >= 8, what  # a real secret to look for
        assert secret not in log, f"the {what} is in the exporter's log"
        assert secret not in seen, f"the {what} is in an answer"


def _own_counters(exporter: Exporter) -> dict[str, float]:
    _, own = exporter.get("/metrics")
    out = {}
    for line in own.splitlines():
        if line.startswith("netwarden_exporter_sessions_") and "{" not in line:
            name, value = line.split()
            out[name] = float(value)
    return out


@pytest.mark.parametrize(("idle", "logins"), [("60", 1), ("0", 3)])
def test_probes_of_a_device_reuse_one_ssh_session(
    stack: Stack, tmp_path: Path, idle: str, logins: int
) -> None:
    """Three probes of one device (health, config, health): one login with the session
    cache, three with ``--session-idle 0``; counted on the simulated switch (its
    ``%SEC_LOGIN-5-LOGIN_SUCCESS`` log) and by the exporter's own counters."""
    # a switch outside the scraped site: nothing else logs in to it meanwhile
    name = next(n for n in sorted(stack.lab.fleet.devices) if not n.startswith(f"{SITE}-"))
    sim = stack.lab.sim(name)

    def sim_logins(since: int) -> int:  # logins logged after log entry number ``since``
        with sim.lock:
            new = list(sim.log)[len(sim.log) - (sim.log_sequence - since) :]
            assert len(new) == sim.log_sequence - since, "the log buffer wrapped"
            return sum(1 for e in new if e.facility_mnemonic == "SEC_LOGIN-5-LOGIN_SUCCESS")

    exporter = start_exporter(stack.lab, tmp_path, "--session-idle", idle, "-c", "2")
    try:
        with sim.lock:
            before = sim.log_sequence
        for module in ("health", "config", "health"):
            status, body = exporter.probe(name, module, timeout=20)
            stack.answers.append(body)
            assert status == 200, body
            assert "netwarden_up 1.0" in body, body
        assert sim_logins(before) == logins
        own = _own_counters(exporter)
        assert own["netwarden_exporter_sessions_opened_total"] == logins
        assert own["netwarden_exporter_sessions_reused_total"] == 3 - logins
        assert own["netwarden_exporter_sessions_idle"] == (1 if logins == 1 else 0)
        _, metrics = exporter.get("/metrics")
        assert PROMTOOL is not None
        checked = subprocess.run(
            [PROMTOOL, "check", "metrics"], input=metrics, capture_output=True, text=True,
            check=False,
        )  # fmt: skip
        assert checked.returncode == 0, checked.stdout + checked.stderr
    finally:
        exporter.stop()
    assert exporter.proc.returncode == 0
    if logins == 1:  # the kept session closed at stop: the switch saw the exec end
        assert "closing the cached session (shutdown)" in exporter.log.read_text(encoding="utf-8")
