"""A site's simulated switches inside its fabric namespace, each on ``<mgmt address>:22``.

:func:`start_site_switches` builds the site's device specs from the inventory (in
the caller, which has read it; the inventory is read once per process), writes them
to ``<lab>/switches/<site>/specs.json`` (0600: they hold the login), and starts
``ip netns exec <fabric ns> python -m netwarden.lab.ns.switches <dir>``: a light
process (no Ansible import) that serves the specs with the simulator's own-address
mode (:class:`~netwarden.lab.sim.fleet.SimFleet` ``own_addresses=True``, refused
outside a lab namespace), writes ``known_hosts`` once every switch listens, and
serves until SIGTERM. The switches' addresses must already be on an interface of
the namespace (the fabric's ``br-mgmt``).

One login for every switch of the lab (``<lab>/switches/credentials.json``, 0600,
made by the first site started), so the lab inventory holds one set of credentials.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from ipaddress import IPv4Address
from pathlib import Path
from typing import TYPE_CHECKING

from netwarden.errors import LabError, LabServiceError
from netwarden.lab.ns.nsproc import log_tail, netns_exists, pid_ident
from netwarden.lab.ns.record import Recorder
from netwarden.lab.sim.fleet import Credentials, SimFleet, load_for_sim, specs_for
from netwarden.lab.sim.specs import specs_from_json, specs_to_json
from netwarden.privatefile import private_dir, write_private
from netwarden.signals import GracefulStop

if TYPE_CHECKING:
    from netwarden.inventory.models import Inventory

logger = logging.getLogger("netwarden.lab.ns.switches")  # also when run as __main__

SWITCHES_DIR = "switches"
CREDENTIALS_FILE = "credentials.json"
SPECS_FILE = "specs.json"
KNOWN_HOSTS_FILE = "known_hosts"
LOG_FILE = "sim.log"
_READY_SECONDS = 60.0
_loaded: dict[Path, Inventory] = {}


@dataclass(frozen=True)
class StartedSwitches:
    """A site's simulator process: its pid, its switches' host keys and their login."""

    site: str
    netns: str
    pid: int
    pid_ident: str
    devices: tuple[str, ...]
    addresses: tuple[IPv4Address, ...]
    known_hosts: tuple[str, ...]
    credentials: Credentials
    process: subprocess.Popen[bytes] | None = field(default=None, compare=False, repr=False)


def lab_credentials(lab_dir: Path) -> Credentials:
    """The lab's switch login: read from ``<lab>/switches/credentials.json`` or made there."""
    path = lab_dir / SWITCHES_DIR / CREDENTIALS_FILE
    if path.is_file():
        return Credentials(**json.loads(path.read_text(encoding="utf-8")))
    credentials = Credentials.generate()
    write_private(path, json.dumps(asdict(credentials)) + "\n")
    return credentials


def _inventory(path: Path) -> Inventory:
    key = path.resolve()
    if key not in _loaded:
        _loaded[key] = load_for_sim(key)
    return _loaded[key]


def start_site_switches(
    *, netns: str, inventory: Path, site: str, lab_dir: Path, record: Recorder
) -> StartedSwitches:
    """Start the simulator for ``site``'s ios devices in ``netns``; return once they listen.

    Raises:
        LabError: no such namespace, or the site has no ios device.
        LabServiceError: the simulator exited or did not listen in time.
    """
    if not netns_exists(netns):
        raise LabError(f"switches of {site}: network namespace {netns} does not exist")
    lab_dir = lab_dir.resolve()
    base = lab_dir / SWITCHES_DIR
    record("dir", str(base), role="switches")
    private_dir(base)
    credentials = lab_credentials(lab_dir)
    specs = specs_for(_inventory(inventory), credentials, own_addresses=True, sites={site})
    if not specs:
        raise LabError(f"switches of {site}: the inventory {inventory} has no ios device there")
    work = private_dir(base / site)
    for stale in (KNOWN_HOSTS_FILE, LOG_FILE):
        (work / stale).unlink(missing_ok=True)
    write_private(work / SPECS_FILE, specs_to_json(specs))
    with (work / LOG_FILE).open("ab") as log:
        process = subprocess.Popen(
            ["ip", "netns", "exec", netns, sys.executable, "-m", "netwarden.lab.ns.switches",
             str(work)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            cwd="/", start_new_session=True,
        )  # fmt: skip
    ident = pid_ident(process.pid)
    record("pid", ident, role="switches", site=site, netns=netns)
    known_hosts = _wait_known_hosts(process, work, site)
    logger.info("switches of %s: %d simulated in %s (pid %d)", site, len(specs), netns,
                process.pid)  # fmt: skip
    return StartedSwitches(
        site=site,
        netns=netns,
        pid=process.pid,
        pid_ident=ident,
        devices=tuple(s.name for s in specs),
        addresses=tuple(IPv4Address(s.address) for s in specs),
        known_hosts=known_hosts,
        credentials=credentials,
        process=process,
    )


def _wait_known_hosts(process: subprocess.Popen[bytes], work: Path, site: str) -> tuple[str, ...]:
    deadline = time.monotonic() + _READY_SECONDS
    path = work / KNOWN_HOSTS_FILE
    while not path.is_file():
        if process.poll() is not None or time.monotonic() >= deadline:
            if process.poll() is None:
                process.terminate()
                process.wait(10)
            raise LabServiceError(
                f"switches of {site}: the simulator did not start (exit {process.returncode}); "
                f"{work / LOG_FILE}:\n{log_tail(work / LOG_FILE)}"
            )
        time.sleep(0.05)
    return tuple(line for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def serve(work: Path, stop: threading.Event | None = None) -> int:
    """The simulator process: serve ``<work>/specs.json`` on the devices' own addresses.

    Raises:
        ValueError: this process is in the host's network namespace.
    """
    specs = specs_from_json((work / SPECS_FILE).read_text(encoding="utf-8"))
    stop = stop or threading.Event()
    with GracefulStop(stop.set), SimFleet(specs, own_addresses=True) as fleet:
        write_private(work / KNOWN_HOSTS_FILE, fleet.known_hosts())
        logger.info("%d simulated switches listening: %s", len(specs),
                    ", ".join(f"{s.name}={s.address}:{s.port}" for s in specs))  # fmt: skip
        while not stop.wait(1.0):
            continue
    logger.info("simulated switches stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if len(args) != 1:
        logger.error("usage: python -m netwarden.lab.ns.switches <switches directory>")
        return 2
    try:
        return serve(Path(args[0]))
    except (ValueError, OSError):
        logger.exception("simulated switches did not start")
        return 1


if __name__ == "__main__":
    sys.exit(main())
