"""The device exporter without devices: request checks, budget, routes, TLS/auth, Prometheus config.

Real sockets on 127.0.0.1 and real clients; no request here reaches a device
(every probe asked for is refused before one would be opened).
"""

from __future__ import annotations

import base64
import http.client
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from collectors.exporter.http import (
    BadRequestError,
    Budget,
    build_server,
    inventory_secrets,
    parse_query,
)
from collectors.exporter.probe import Prober, ProbeResult, ProbeSettings
from collectors.exporter.promconfig import (
    MonitoringSettings,
    target_groups,
    write_monitoring_config,
)
from collectors.httpserve import MetricsServer, Request, Response
from collectors.webconfig import load_web_config
from netwarden.cli.app import app
from netwarden.inventory import load_inventory
from netwarden.inventory.models import Device, Function, Inventory
from tests.unit.auditor.test_metrics_server import _web_config

WAIT = 30.0
"""Seconds a test waits at most (a bound on hangs, never asserted on)."""


@pytest.fixture(scope="module")
def inv(example_inventory: Path) -> Inventory:
    return load_inventory(example_inventory)


@pytest.fixture
def prober(inv: Inventory, tmp_path: Path) -> Iterator[Prober]:
    p = Prober(inv, ProbeSettings(known_hosts=tmp_path / "known_hosts"), secrets=["hunter2-secret"])
    yield p
    p.close()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("target=a&module=health", {"target": "a", "module": "health"}),
        ("module=config", {"module": "config"}),
        ("", {}),
    ],
)
def test_good_queries(query: str, expected: dict[str, str]) -> None:
    assert parse_query(query) == expected


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("target=a&target=b", "more than once"),
        ("target=a&password=x", "unknown parameter"),
        ("target=" + "a" * 129, "too long"),
        ("x" * 600, "query too long"),
        ("target=%0a", "non-printable"),
        ("target=%ff", "malformed"),
        ("target", "malformed"),
        ("&".join(f"a{i}=1" for i in range(6)), "malformed"),
    ],
)
def test_bad_queries_say_why(query: str, why: str) -> None:
    with pytest.raises(BadRequestError, match=why):
        parse_query(query)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [(None, 10.0), ("15", 14.5), ("0.3", 0.1), ("1000", 120.0)],
)
def test_budget_from_the_scrape_timeout_header(header: str | None, seconds: float) -> None:
    headers = {} if header is None else {"x-prometheus-scrape-timeout-seconds": header}
    assert Budget().of(headers) == pytest.approx(seconds)


@pytest.mark.parametrize("header", ["soon", "0", "-1", "nan", "inf", ""])
def test_a_bad_scrape_timeout_header_is_refused(header: str) -> None:
    with pytest.raises(BadRequestError, match="x-prometheus-scrape-timeout-seconds"):
        Budget().of({"x-prometheus-scrape-timeout-seconds": header})


def test_targets_are_the_inventory_devices_with_a_session(inv: Inventory, prober: Prober) -> None:
    health = prober.targets("health")
    assert "jed-core-sw1" in health
    assert "jed-mon1" in health  # a server: the read-only Linux session
    assert "jed-sensor1" not in health  # a sensor: no session class
    assert set(prober.targets("compliance")) >= {*inv.sites, *inv.devices}


def test_a_hung_device_holds_one_probe_thread_and_the_others_are_still_probed(
    inv: Inventory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prometheus scrapes a hung device's modules again every interval: those probes wait
    for the device, never in the pool that the other devices' probes need."""
    slow, fine = "nyc-acc-sw1", "nyc-acc-sw2"
    entered, release = threading.Event(), threading.Event()
    sessions: list[str] = []

    def with_session(self: Prober, device: object, module: str, deadline: float) -> ProbeResult:
        name = getattr(device, "name", "")
        sessions.append(name)
        if name == slow:
            entered.set()
            release.wait(WAIT)  # hung, until the test lets it go
        return ProbeResult(up=True, collectors={module: True})

    monkeypatch.setattr(Prober, "_with_session", with_session)
    prober = Prober(inv, ProbeSettings(known_hosts=tmp_path / "kh", concurrency=2))
    results: dict[int, bool] = {}

    def probe_slow(i: int) -> None:
        families = prober.probe(slow, ("health", "config")[i % 2], budget=WAIT / 2)
        results[i] = any(f.name == "netwarden_up" and f.samples[0].value == 1 for f in families)

    threads = [threading.Thread(target=probe_slow, args=(i,)) for i in range(6)]
    try:
        threads[0].start()
        assert entered.wait(WAIT)
        for t in threads[1:]:
            t.start()
        time.sleep(0.3)  # the scrapes that followed are waiting (not asserted on)
        families = prober.probe(fine, "health", budget=WAIT / 3)
        up = [f for f in families if f.name == "netwarden_up"]
        assert [f.samples[0].value for f in up] == [1.0], "a hung device starved the others"
        assert sessions.count(slow) == 1, "one session to the hung device at a time"
        release.set()
        for t in threads:
            t.join(WAIT)
        assert results[0] is True  # the hung probe finished once let go, within its budget
        again = prober.probe(slow, "health", budget=WAIT)  # every lock was given back
        assert [f.samples[0].value for f in again if f.name == "netwarden_up"] == [1.0]
    finally:
        release.set()
        prober.close()


def test_scrub_removes_known_secrets(prober: Prober) -> None:
    assert prober.scrub("login hunter2-secret failed") == "login <removed> failed"


def test_inventory_secrets_are_the_vault_passwords(inv: Inventory) -> None:
    found = inventory_secrets(inv)
    with_password = [d for d in inv.devices.values() if d.connection and d.connection.password]
    assert bool(found) == bool(with_password)


def _route_server(route: object, **kwargs: object) -> MetricsServer:
    server = MetricsServer(CollectorRegistry(), "127.0.0.1", 0, routes={"/slow": route}, **kwargs)  # type: ignore[arg-type]
    server.start()
    return server


def test_a_route_answers_a_client_that_half_closed(tmp_path: Path) -> None:
    release = threading.Event()

    def slow(request: Request) -> Response:
        release.wait(WAIT)
        return Response(200, f"query {request.query}\n".encode())

    server = _route_server(slow)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as sock:
            sock.sendall(b"GET /slow?x=1 HTTP/1.0\r\n\r\n")
            sock.shutdown(socket.SHUT_WR)  # EOF before the answer is ready
            # the loop sees the EOF while the route runs; then the answer comes
            with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as other:
                other.sendall(b"GET /-/healthy HTTP/1.1\r\n\r\n")
                assert other.recv(4096).startswith(b"HTTP/1.1 200")  # the loop is not blocked
            release.set()
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200")
        assert answer.endswith(b"query x=1\n")
    finally:
        release.set()
        server.close()


def test_a_failing_route_answers_500_and_the_server_serves_on() -> None:
    def broken(request: Request) -> Response:
        raise RuntimeError("bug")

    server = _route_server(broken)
    try:
        for path in ("/slow", "/-/healthy"):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=WAIT)
            conn.request("GET", path)
            status = conn.getresponse().status
            conn.close()
            assert status == (500 if path == "/slow" else 200)
    finally:
        server.close()


def _https(port: int, ca: Path, path: str, auth: str | None) -> tuple[int, str]:
    ctx = ssl.create_default_context(cafile=str(ca))
    conn = http.client.HTTPSConnection("localhost", port, timeout=WAIT, context=ctx)
    headers = {}
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def test_probe_behind_tls_and_basic_auth(prober: Prober, tmp_path: Path) -> None:
    web = load_web_config(_web_config(tmp_path, "s3cret-pass"))
    server = build_server(prober, "127.0.0.1", 0, web_config=web)
    server.start()
    ca = tmp_path / "metrics.crt"
    try:
        bad = "/probe?target=nowhere&module=health"
        assert _https(server.port, ca, bad, None)[0] == 401
        assert _https(server.port, ca, bad, "prometheus:wrong")[0] == 401
        status, body = _https(server.port, ca, bad, "prometheus:s3cret-pass")
        assert status == 400
        assert "unknown target 'nowhere'" in body
        status, body = _https(server.port, ca, "/metrics", "prometheus:s3cret-pass")
        assert status == 200
        assert 'netwarden_exporter_requests_rejected_total{reason="target"} 1.0' in body
        assert "process_resident_memory_bytes" in body
    finally:
        server.close()


def test_monitoring_config_targets(inv: Inventory) -> None:
    groups = target_groups(inv, list(inv.devices.values()), MonitoringSettings())
    probed = {g["targets"][0] for g in groups["devices"]}
    assert "jed-core-sw1" in probed
    assert "jed-sensor1" not in probed
    servers = {d.name for d in inv.devices.values() if d.function is Function.SERVER}
    nodes = {g["targets"][0] for g in groups["nodes"]}
    assert len(nodes) >= len(servers)
    # HQ's servers on their management address (HQ's mgmt zone: no firewall between);
    # a field server where the policy opens node-exporter from HQ (monitoring-servers:
    # its servers-zone address); a firewall on its management address
    assert f"{inv.devices['jed-log1'].mgmt_address}:9100" in nodes
    nyc_srv1 = next(i for i in inv.devices["nyc-srv1"].interfaces if i.zone == "servers")
    assert f"{nyc_srv1.address.ip}:9100" in nodes  # type: ignore[union-attr]
    assert f"{inv.devices['nyc-fw1'].mgmt_address}:9100" in nodes
    assert {g["targets"][0] for g in groups["sites"]} == set(inv.sites)
    first = groups["devices"][0]["labels"]
    assert set(first) == {
        "__meta_netwarden_site",
        "__meta_netwarden_role",
        "__meta_netwarden_zone",
    }


def test_a_lab_absent_device_gets_no_node_or_sensor_target(inv: Inventory) -> None:
    # A simulated lab lists servers, firewalls and sensors it does not run: their
    # inventory addresses are no lab's, so Prometheus must not be sent there.
    def absent(device: Device) -> Device:
        if device.connection is None or device.site != "nyc":
            return device
        gone = device.connection.model_copy(update={"lab_absent": True})
        return device.model_copy(update={"connection": gone})

    lab = inv.model_copy(update={"devices": {n: absent(d) for n, d in inv.devices.items()}})
    groups = target_groups(lab, list(lab.devices.values()), MonitoringSettings())
    scraped = {
        g["labels"]["__meta_netwarden_site"] for k in ("nodes", "sensors") for g in groups[k]
    }
    assert "nyc" not in scraped
    assert "jed" in scraped  # the others keep theirs
    probed = {g["targets"][0] for g in groups["devices"]}
    assert "nyc-acc-sw1" in probed  # the exporter answers netwarden_up 0 for an absent one


def test_generated_config_passes_promtool(inv: Inventory, tmp_path: Path) -> None:
    settings = MonitoringSettings(
        scheme="https",
        ca_file="ca.crt",
        basic_auth_user="prometheus",
        password_file="password",
        scrape_interval=3,
        scrape_timeout=2.5,  # Prometheus takes 2500ms, refuses 2.5s
    )
    written = write_monitoring_config(inv, list(inv.devices.values()), settings, tmp_path)
    assert {p.name for p in written} >= {"prometheus.yml", "devices.json", "sites.json"}
    json.loads((tmp_path / "targets" / "devices.json").read_text(encoding="utf-8"))
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus)")
    (tmp_path / "ca.crt").write_text("", encoding="utf-8")
    (tmp_path / "password").write_text("x\n", encoding="utf-8")
    checked = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--layout", "sideways"], "expected single or federated"),
        (["--layout", "federated", "--site-prometheus", "mars=1.2.3.4:9090"], "mars"),
        (["--site-prometheus", "nyc"], "SITE=HOST:PORT"),
        (["--scrape-interval", "5", "--scrape-timeout", "10"], "longer than --scrape-interval"),
        (["--exporter", "nowhere"], "nowhere"),
        (["--limit", "nyx"], "nyx"),
    ],
)
def test_monitoring_config_refuses_bad_options(
    example_inventory: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(
        app,
        ["monitoring", "config", "-i", str(example_inventory), "--out", str(tmp_path / "m"), *args],
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "m").exists()
