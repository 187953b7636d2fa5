"""The simulated fleet, ``netwarden exporter serve`` and a real Prometheus, for the exporter tests.

The lab is the example inventory's simulated switches (``start_lab``); the exporter
and Prometheus are processes started on 127.0.0.1 with free ports. Prometheus reads
the configuration ``netwarden monitoring config --layout federated`` generated for
the ``nyc`` site (two simulated switches; ``nyc-fw1``, which the simulator does not
run, is down); HQ's Prometheus federating it is started by the test that needs it.
Every wait is a bounded poll; nothing asserts on time.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.integration.labfleet import Lab

DEADLINE = 60.0
"""Seconds a poll waits at most (a bound on hangs, never asserted on)."""
SCRAPE_INTERVAL = 3.0
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool")
DIRECT_TARGETS = ("nodes", "sensors")
"""The file-SD lists of ``monitoring config`` whose targets Prometheus scrapes as they are
(host:port); the others name devices and sites for the exporter's ``/probe``."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def netwarden(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netwarden.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=cwd,
    )


def poll(predicate: Callable[[], Any], timeout: float = DEADLINE, every: float = 0.5) -> Any:
    """``predicate()`` until it is truthy or ``timeout`` passes; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(every)


@dataclass
class Exporter:
    proc: subprocess.Popen[str]
    log: Path
    url: str

    def get(
        self, path: str, headers: dict[str, str] | None = None, timeout: float = 30.0
    ) -> tuple[int, str]:
        request = urllib.request.Request(self.url + path, headers=headers or {})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 (loopback)
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def probe(self, target: str, module: str, timeout: float | None = None) -> tuple[int, str]:
        query = urllib.parse.urlencode({"target": target, "module": module})
        headers = {} if timeout is None else {"X-Prometheus-Scrape-Timeout-Seconds": f"{timeout:g}"}
        return self.get(f"/probe?{query}", headers)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)


def start_exporter(lab: Lab, tmp: Path, *extra: str) -> Exporter:
    """``netwarden -vv exporter serve`` on a free port; its log (stderr) in ``tmp``."""
    log = tmp / "exporter.log"
    out = log.open("w", encoding="utf-8")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "netwarden.cli",
            "-vv",
            "exporter",
            "serve",
            "-i",
            str(lab.path),
            "--listen",
            f"127.0.0.1:{free_port()}",
            "--known-hosts",
            str(lab.known_hosts),
            *extra,
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out.close()
    pattern = re.compile(r"exporter listening on (https?://127\.0\.0\.1:\d+)")

    def listening() -> str | None:
        if proc.poll() is not None:
            raise AssertionError(f"the exporter exited: {log.read_text(encoding='utf-8')}")
        found = pattern.search(log.read_text(encoding="utf-8"))
        return found.group(1) if found else None

    url = poll(listening)
    if not url:
        proc.kill()
        raise AssertionError(f"the exporter did not start: {log.read_text(encoding='utf-8')}")
    return Exporter(proc, log, url)


@dataclass
class Prometheus:
    proc: subprocess.Popen[bytes]
    url: str

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector of ``expr`` (empty while Prometheus is not ready)."""
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 (loopback)
                data = json.load(answer)
        except (urllib.error.URLError, OSError):
            return []
        result: list[dict[str, Any]] = data["data"]["result"]
        return result

    def values(self, expr: str, by: str = "instance") -> dict[str, float]:
        return {r["metric"].get(by, ""): float(r["value"][1]) for r in self.query(expr)}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)


def start_prometheus(config: Path, data: Path, log: Path, port: int | None = None) -> Prometheus:
    port = port or free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={data}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=1h",
                "--log.level=warn",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Prometheus(proc, f"http://127.0.0.1:{port}")


def monitoring_config(inventory: Path, out: Path, limit: str, exporter: str, *extra: str) -> Path:
    """``netwarden monitoring config`` of ``inventory`` for the sites ``limit`` into ``out``,
    scraping every :data:`SCRAPE_INTERVAL` (the timeout too); ``exporter`` is the device
    exporter's host:port. Every target Prometheus would scrape directly (the node and
    sensor file-SD lists) must be on loopback, or there must be none: a lab Prometheus
    scrapes nothing else (decision 82); device and site targets are names handed to
    the exporter. Returns ``out``."""
    made = netwarden(
        "monitoring", "config", "-i", str(inventory), "--limit", limit, "--out", str(out),
        "--exporter", exporter,
        "--scrape-interval", f"{SCRAPE_INTERVAL:g}", "--scrape-timeout", f"{SCRAPE_INTERVAL:g}",
        *extra,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    for targets in sorted(p for name in DIRECT_TARGETS for p in out.rglob(f"targets/{name}.json")):
        for entry in json.loads(targets.read_text(encoding="utf-8")):
            for hostport in entry["targets"]:
                _assert_loopback(hostport, targets)
    return out


def _assert_loopback(hostport: str, where: Path) -> None:
    host = hostport.rsplit(":", 1)[0].strip("[]")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name: never resolved by a lab Prometheus
        loopback = False
    assert loopback, f"{where}: target {hostport} is not on loopback"


def write_targets(config: Path, name: str, targets: list[tuple[str, str, str]]) -> None:
    """Replace the file-SD list ``targets/<name>.json`` of the configuration in ``config``
    with (host:port, site, role) entries, each on loopback (never an inventory host);
    an empty list scrapes nothing."""
    entries = []
    for hostport, site, role in targets:
        _assert_loopback(hostport, config / "targets" / f"{name}.json")
        labels = {
            "__meta_netwarden_site": site,
            "__meta_netwarden_role": role,
            "__meta_netwarden_zone": "mgmt",
        }
        entries.append({"targets": [hostport], "labels": labels})
    (config / "targets" / f"{name}.json").write_text(json.dumps(entries), encoding="utf-8")


def tls_web_config(directory: Path, user: str, password: str) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and an exporter-toolkit web config with
    ``user``'s bcrypt hash; (web config, certificate)."""
    import datetime as dt
    import ipaddress

    import bcrypt
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "exporter.crt", directory / "exporter.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    web = directory / "web.yml"
    web.write_text(
        "tls_server_config:\n  cert_file: exporter.crt\n  key_file: exporter.key\n"
        f"basic_auth_users:\n  {user}: '{hashed}'\n",
        encoding="utf-8",
    )
    return web, cert_file
