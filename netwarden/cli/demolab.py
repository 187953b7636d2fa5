"""``make demo``, root mode: the organisation in network namespaces and live attacks on it.

The namespace lab (``netwarden lab up``, some 15 s of work on an idle 2-core machine and
more under load) is built in the background from the demo's first second
(:class:`LabBuild`), while the rootless stages run; its step joins it and shows its
output. Every attack of the live matrix (:mod:`netwarden.lab.ns.attacks`, the definitions
``tests/lab/test_attack_matrix.py`` asserts) then runs from HQ's client namespaces and
the step shows the event HQ's sensor wrote for it (:class:`LiveAttacks`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

from netwarden.cli.demobase import INTERRUPT, TIMELINE, Step, _netwarden, console, wait_for_text
from netwarden.cli.demomonitoring import _free_port, _series
from netwarden.cli.demostate import BACKGROUND
from netwarden.cli.demosummary import count_jsonl
from netwarden.signals import deferred_signals

LAB_DIR = "lab-ns"
BUILD_LOG = "lab-up.log"
BUILD_TIMEOUT = 900.0
"""Seconds the demo waits for the background ``lab up`` (its own waits are bounded too)."""
EVENT_WAIT = 20.0
"""Seconds an attack's event may take to appear (the auditor reads in batches)."""
DEMO_ATTACKS = (
    "port_scan",
    "stealth_scan",
    "ack_scan",
    "fragmented_scan",
    "ping_sweep",
    "dhcp_starvation",
    "ssh_guessing",
    "arp_spoof",
    "dns_tunnel",
    "zone_crossing",
    "partner_unpublished",
)
"""The attacks issue 19 names, nmap's Xmas, ACK and fragmented scans and its ping sweep, and
DHCP starvation, in the order shown (the matrix test runs them all)."""
SENSOR_EVENTS_DIR = "lab-sensor-events"
"""Where the sensors' events files are copied before the lab goes down (summary)."""


class LabBuild:
    """``netwarden lab up`` for the demo, started in the background (output to a log) and
    joined by its step, which then shows that output. Recorded in the demo's state file
    like every background process: Ctrl-C or ``make demo-down`` stops it (SIGTERM: ``lab
    up`` removes its half-built lab itself; :func:`lab_down` removes the rest)."""

    def __init__(self, workdir: Path) -> None:
        self.lab = workdir / LAB_DIR
        self.log = workdir / BUILD_LOG
        self.proc: subprocess.Popen[bytes] | None = None
        self.began = 0.0
        self.ended: float | None = None

    @property
    def argv(self) -> list[str]:
        return _netwarden("lab", "up", "-i", "inventory", "--out", str(self.lab), "--sensors")

    def start(self) -> None:
        self.began = time.monotonic()
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        BACKGROUND.started("namespace lab build (netwarden lab up)", self.proc)
        with deferred_signals():  # the thread inherits them blocked: Ctrl-C is the main's
            threading.Thread(target=self._note_end, args=(self.proc,), daemon=True).start()
        console.print(f"[dim]namespace lab: building in the background ({self.log.name})[/]")

    def _note_end(self, proc: subprocess.Popen[bytes]) -> None:
        proc.wait()
        self.ended = time.monotonic()

    def join(self) -> int:
        """Wait for ``lab up`` (bounded), show its output; its exit code."""
        if self.proc is None:
            self.start()
        proc = self.proc
        if proc is None:
            return 1
        waited = time.monotonic()
        try:
            rc = proc.wait(timeout=BUILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            console.print(f"[red]lab up still running after {BUILD_TIMEOUT:g} s: stopped[/]")
            self.stop()
            rc = 124
        now = time.monotonic()
        sys.stdout.write(self.log.read_text(encoding="utf-8", errors="replace"))
        sys.stdout.flush()
        ended = self.ended if self.ended is not None else now
        TIMELINE.add_stage("namespace lab build (lab up, in the background)", ended - self.began)
        TIMELINE.add_stage("waiting for the namespace lab", now - waited)
        return rc

    def stop(self) -> None:
        """Stop a ``lab up`` still running (it removes what it built)."""
        if self.proc is not None and self.proc.poll() is None:
            BACKGROUND.stop(self.proc, interrupted=True)


def lab_down(workdir: Path) -> None:
    """``netwarden lab down`` on the demo's namespace lab, when there is one."""
    lab = workdir / LAB_DIR
    if (lab / ".lab").exists() or (lab / ".netwarden-lab").exists():
        console.rule("[bold]Removing the namespace lab: netwarden lab down")
        with TIMELINE.stage("namespace lab down"):
            subprocess.run(_netwarden("lab", "down", str(lab)), check=False)


class LiveAttacks:
    """The live attack matrix of :mod:`netwarden.lab.ns.attacks` on the demo's lab:
    planned when the first attack runs (the lab's addresses and MACs are known then)."""

    def __init__(self, lab: Path) -> None:
        self.lab = lab
        self._planned: tuple[Any, Any, dict[str, Any]] | None = None
        self.results: dict[str, dict[str, Any]] = {}

    def _plan(self) -> tuple[Any, Any, dict[str, Any]]:
        if self._planned is None:
            from netwarden.inventory.snapshot import load_inventory_snapshot  # noqa: PLC0415
            from netwarden.lab.ns.attacks import plan_attacks  # noqa: PLC0415
            from netwarden.lab.ns.state import read_state  # noqa: PLC0415

            state = read_state(self.lab)
            if state is None:
                raise RuntimeError(f"no namespace lab in {self.lab}")
            inventory = load_inventory_snapshot(self.lab)
            self._planned = (inventory, state, plan_attacks(inventory, state))
        return self._planned

    def run(self, name: str) -> int:
        """Run one attack, show the tool's output and the sensor's event; 0 when the event
        came within :data:`EVENT_WAIT` seconds."""
        from netwarden.lab.ns.attacks import run_attack, wait_event  # noqa: PLC0415

        _, state, attacks = self._plan()
        attack = attacks[name]
        command = attack.shown or " ".join(attack.commands[0].argv)
        console.print(
            f"[dim]$ netwarden lab exec --lab {self.lab} {attack.node} -- {command}[/]",
            highlight=False,
            soft_wrap=True,
        )
        console.print(
            f"[italic]{attack.what} Then HQ's sensor's event for it, as its auditor appends "
            "it to its events file (its metrics on :9101, which Prometheus scrapes, count the "
            "incident too).[/]",
            highlight=False,
        )
        began = time.monotonic()
        done = run_attack(state, attack)
        INTERRUPT.check()
        if len(done.runs) == 1:
            sys.stdout.write(done.output[-2000:])
        else:
            codes = Counter(r.returncode for r in done.runs)
            shown = ", ".join(f"{n} exited {rc}" for rc, n in sorted(codes.items()))
            console.print(f"{len(done.runs)} runs: {shown}", highlight=False)
        expect = attack.expect
        event = wait_event(self.lab, expect, EVENT_WAIT)
        self.results[name] = {
            "detector": expect.detector,
            "detected": event is not None,
            "seconds": round(time.monotonic() - began, 1),
        }
        if event is None:
            console.print(
                f"[bold red]no {expect.detector} event from {', '.join(expect.sources)} in "
                f"{expect.sensor}'s events within {EVENT_WAIT:g} s[/]"
            )
            return 1
        console.print(f"{expect.sensor} reported ({expect.detector}, {expect.site}):")
        sys.stdout.write(json.dumps(event, sort_keys=True) + "\n")
        return 0

    def at_hq(self) -> int:
        """The port scan's event as HQ's log server received it from the sensor."""
        from netwarden.lab.ns.attacks import at_log_host  # noqa: PLC0415

        inventory, state, attacks = self._plan()
        sensor = attacks["port_scan"].expect.sensor
        path = at_log_host(self.lab, inventory, state, sensor)
        if path is None:
            console.print("[yellow]the inventory has no log host[/]")
            return 1
        wanted = '"detector":"port_scan"'
        console.print(f"[dim]$ grep -m 1 '{wanted}' {path}[/]", highlight=False, soft_wrap=True)
        wait_for_text(path, wanted, EVENT_WAIT)
        return subprocess.run(["grep", "-m", "1", wanted, str(path)], check=False).returncode

    def summary(self) -> dict[str, Any] | None:
        """Attacks run, detected, and detections per detector (None: none ran)."""
        if not self.results:
            return None
        by_detector: Counter[str] = Counter(
            r["detector"] for r in self.results.values() if r["detected"]
        )
        _, _, attacks = self._plan()
        sensor = next(iter(attacks.values())).expect.sensor
        return {
            "run": len(self.results),
            "detected": sum(1 for r in self.results.values() if r["detected"]),
            "by_detector": dict(sorted(by_detector.items())),
            "attacks": dict(self.results),
            "events": str(self.lab.parent / SENSOR_EVENTS_DIR / f"{sensor}.jsonl"),
        }


def _from_mon1(lab: str, *args: str) -> list[str]:
    """``netwarden ARGS`` run inside the lab from the management server jed-mon1."""
    return _netwarden("lab", "exec", "--lab", lab, "jed-mon1", "--", *_netwarden(*args))


def namespace_lab_steps(workdir: Path, build: LabBuild) -> list[Step]:
    """The organisation as real Linux in network namespaces (root only), issue 14: the lab
    joined, then the New York firewall and server configured and audited live. They run
    after the simulated fleet's rollout and before its backup (the issue's order); the
    attacks (:func:`namespace_attack_steps`) come once Prometheus runs."""
    lab = str(build.lab)
    # the live audit of the New York firewall and server, before and after the hardening
    audit_ns = _from_mon1(
        lab,
        "audit",
        "-i",
        lab,
        "--limit",
        "nyc-fw1,nyc-srv1",
        "--out",
        str(workdir / "compliance-ns"),
    )
    return [
        Step(
            "Build the whole organisation in network namespaces",
            build.argv,
            "Per site: a firewall (nftables, routing its zones to the WAN), servers with their "
            "own sshd/chrony/unbound/rsyslog/nginx, a sensor with a SPAN port and the traffic "
            "auditor watching it (--sensors), client hosts, "
            "the simulated switches on their management addresses; a WAN, an internet host and "
            "the member-state partner over OpenVPN. Sealed from this machine's network; the "
            "figures at the end are what it costs. Started in the background when the demo "
            f"began (its output, {BUILD_LOG}, below).",
            run=build.join,
        ),
        Step(
            "From a New York staff laptop to HQ's DNS server, across two firewalls and the WAN",
            _netwarden(
                "lab", "exec", "--lab", lab, "nyc-staff-c1", "--", "ping", "-c", "2", "10.10.20.14"
            ),
            "Real packets: nyc-fw1 routes staff -> WAN, jed-fw1 routes WAN -> servers.",
        ),
        Step(
            "Plan from the management server, over the lab's own network",
            _from_mon1(lab, "plan", "-i", lab, "--limit", "site_nyc", "--summary"),
            "netwarden inside the lab reaches the New York switches and firewall on their "
            "management addresses (SSH on port 22, host keys from the lab's known_hosts.txt); "
            "the switches run their boot configs, nyc-fw1 the lab's permissive table and "
            "nyc-srv1 is not hardened (its plan is playbooks/servers.yml --check --diff), so "
            "every device has a plan.",
        ),
        Step(
            "The New York firewall: its ruleset rendered from the flow policy, against the live one",
            _from_mon1(lab, "plan", "-i", lab, "--limit", "nyc-fw1"),
            "nyc-fw1 runs the lab's permissive table; the plan replaces it with the policy's "
            "(default drop, a named counter per rule, anti-spoofing per zone).",
        ),
        Step(
            "Apply it with commit-confirm",
            _from_mon1(
                lab, "apply", "-i", lab, "--limit", "nyc-fw1", "--yes", "--confirm-timeout", "2"
            ),
            "Loaded atomically with a revert timer armed on the firewall; post-checks over a "
            "new session, then confirmed. Had the new ruleset cut the session, the firewall "
            "would have restored the old one by itself (rolled_back).",
        ),
        Step(
            "Drift: the firewall now matches its intended ruleset",
            _from_mon1(lab, "drift", "-i", lab, "--limit", "nyc-fw1", "--intended-only"),
            "Exit 0: in sync with the rendered policy.",
        ),
        Step(
            "The connection matrix: the flow policy beside the live New York ruleset",
            _from_mon1(lab, "matrix", "-i", lab, "--limit", "nyc-fw1", "--mismatches-only"),
            "For every (zone, zone, service) crossing nyc-fw1 only (its zones, the internet): "
            "allowed or denied by the policy, and by the ruleset nyc-fw1 runs now (nft -j list "
            "ruleset, evaluated). Exit 0: no mismatch; an nft rule added by hand would be one.",
        ),
        Step(
            "Live compliance of the New York firewall and server",
            audit_ns,
            "nyc-fw1's live ruleset against the nftables pack (it passes: it is the policy's); "
            "nyc-srv1 read over SSH (sshd -T as root, sysctls, login.defs, PAM, packages, "
            "listening sockets) against the linux pack, each finding quoting the line and what "
            "was read where. Exit 1: the lab's servers are not hardened until "
            "playbooks/servers.yml runs.",
            expect_rc=1,
        ),
        Step(
            "Harden the New York server: netwarden apply runs playbooks/servers.yml for it",
            _from_mon1(lab, "apply", "-i", lab, "--limit", "nyc-srv1", "--yes"),
            "Servers are applied through their role (linux_server): sshd keys only and "
            "checked with sshd -t before it is replaced, sysctls, password policy, chrony from "
            "HQ, syslog over TLS to HQ's log server, node exporter. The result is per server, "
            "like the switches' and firewalls'.",
        ),
        Step(
            "Live compliance again: the firewall and the hardened server pass",
            audit_ns,
            "Exit 0. The two auditd rules are WAIVED on lab servers (the kernel refuses audit "
            "requests from a namespace): the waiver, its reason and expiry are in the report.",
        ),
    ]


def namespace_attack_steps(build: LabBuild, attacks: LiveAttacks) -> list[Step]:
    """The live attacks on the namespace lab, then what the lab runs. They are at HQ, whose
    firewall keeps the lab's base ruleset: the sensor is judged by the flow policy."""
    return [
        *attack_steps(attacks),
        Step(
            "What is running",
            _netwarden("lab", "status", str(build.lab)),
            "Namespaces, processes and memory per kind of node.",
        ),
    ]


def attack_steps(attacks: LiveAttacks) -> list[Step]:
    """The live attacks (issues 18, 19), each with the event HQ's sensor wrote for it, and
    the port scan's event as HQ's log server received it. Left out without the tools."""
    from netwarden.lab.ns.attacks import TITLES, TOOLS  # noqa: PLC0415

    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        console.print(f"[yellow]live attacks skipped: {', '.join(missing)} not installed[/]")
        return []
    steps = []
    for name in DEMO_ATTACKS:
        steps.append(Step(f"Attack live: {TITLES[name]}", [], "", run=partial(attacks.run, name)))
        if name == "port_scan":
            steps.append(
                Step(
                    "The same event at HQ's log server",
                    [],
                    "The sensor also sends each event to jed-log1 as RFC 5424 over TLS "
                    "(tcp/6514, the lab CA; spooled on the sensor while the log server is "
                    "unreachable): jed-log1's rsyslog writes it to /var/log/remote/<sensor "
                    "address>.log, the sensor's name as HOSTNAME, the same JSON as the "
                    "events file.",
                    run=attacks.at_hq,
                )
            )
    return steps


def lab_sensor_events(workdir: Path) -> dict[str, int] | None:
    """Events the namespace lab's sensors wrote, by detector; their files are copied to
    ``lab-sensor-events/`` (the lab's directory goes with the lab)."""
    files = sorted((workdir / LAB_DIR / ".lab" / "sensors").glob("*/events.jsonl"))
    if not files:
        return None
    keep = workdir / SENSOR_EVENTS_DIR
    keep.mkdir(exist_ok=True)
    total: dict[str, int] = {}
    for path in files:
        copy = keep / f"{path.parent.name}.jsonl"
        shutil.copyfile(path, copy)  # counted from the copy: the sensor may still be writing
        for detector, n in (count_jsonl(copy, "detector") or {}).items():
            total[detector] = total.get(detector, 0) + n
    return dict(sorted(total.items()))


RELAY_WAIT = 40.0
"""Seconds for Prometheus to scrape every relayed sensor once (its interval is 5 s)."""


def scrape_lab_sensors(build: LabBuild, prometheus: str, config: Path) -> Step:
    """A step: Prometheus (on the host's loopback) starts scraping each lab sensor's auditor.

    The lab is sealed, so each sensor's metrics port (``<sensor>:9101`` inside its
    namespace) is reached through a relay of its own on a loopback port
    (:mod:`netwarden.lab.ns.forward`), added to the sensor targets the generated
    configuration reads (file discovery: Prometheus sees the file change). The step waits
    until each is scraped, so that the live attacks' incidents count from zero."""
    sensors_file = config / "targets" / "sensors.json"

    def run() -> int:
        from netwarden.inventory.models import Function  # noqa: PLC0415
        from netwarden.inventory.snapshot import load_inventory_snapshot  # noqa: PLC0415
        from netwarden.lab.ns.sensors import METRICS_PORT  # noqa: PLC0415
        from netwarden.lab.ns.status import node_netns  # noqa: PLC0415

        inventory = load_inventory_snapshot(build.lab)
        targets = json.loads(sensors_file.read_text(encoding="utf-8"))
        relayed: list[str] = []
        for device in sorted(inventory.devices.values(), key=lambda d: d.name):
            if device.function is not Function.SENSOR or device.mgmt_address is None:
                continue
            port = _free_port()
            proc = subprocess.Popen(
                [sys.executable, "-m", "netwarden.lab.ns.forward",
                 node_netns(build.lab, device.name), str(device.mgmt_address),
                 str(METRICS_PORT), str(port)],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            BACKGROUND.started(f"relay to {device.name}'s auditor metrics", proc)
            if proc.stdout is None or proc.stdout.readline().strip() != b"ready":
                console.print(f"[red]the relay to {device.name} did not start[/]")
                return 1
            targets.append({"targets": [f"127.0.0.1:{port}"], "labels": {
                "__meta_netwarden_site": device.site, "__meta_netwarden_role": "sensor",
                "__meta_netwarden_zone": "mgmt"}})  # fmt: skip
            relayed.append(device.name)
        partial_file = sensors_file.with_suffix(".json.tmp")
        partial_file.write_text(json.dumps(targets), encoding="utf-8")
        partial_file.replace(sensors_file)  # whole, never half-written, for Prometheus
        return _wait_scraped(prometheus, len(relayed) + 1, relayed)

    return Step(
        "Prometheus scrapes the lab's sensors, through a loopback relay each",
        [sys.executable, "-m", "netwarden.lab.ns.forward", "NETNS", "SENSOR", "9101", "PORT"],
        "The lab stays sealed (no route to this machine): each sensor's auditor metrics "
        "port is relayed to a loopback port by a process that connects inside the "
        "sensor's namespace, and added to the sensor targets Prometheus reads. The "
        "attacks below then count in Prometheus, and its rules alert on them.",
        run=run,
    )


def _wait_scraped(prometheus: str, expected: int, relayed: list[str]) -> int:
    """0 once ``expected`` auditor targets are up in Prometheus (the demo's own and the
    relayed ones), within :data:`RELAY_WAIT`; else 1."""
    deadline = time.monotonic() + RELAY_WAIT
    up = 0
    while time.monotonic() < deadline:
        INTERRUPT.check()
        up = _series(prometheus, 'up{job="netwarden_auditor"} == 1')
        if up >= expected:
            console.print(f"scraped through relays: {', '.join(relayed)}")
            return 0
        time.sleep(0.5)
    console.print(f"[red]{up} of {expected} auditor targets up after {RELAY_WAIT:g} s[/]")
    return 1
