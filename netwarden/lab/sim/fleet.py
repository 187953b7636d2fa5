"""A fleet of simulated devices: build it, serve it, describe it as a lab inventory.

:func:`run_sim` is what ``netwarden lab sim`` runs: it starts the devices (the
inventory's ``ios`` devices, or the N switches of a generated inventory), writes a
lab inventory in the format of ``inventory/`` (same groups and variables, with ``ansible_host`` and
``ansible_port`` pointing at the simulator and generated credentials in a 0600
vars file) plus a ``known_hosts.txt`` with every device's host key, and serves
until Ctrl-C or SIGTERM.

Devices listen on 127.0.0.0/8, one port each, unless ``own_addresses`` is set: then
each device binds its inventory management address on port 22, as a real switch
does. That mode is refused in the host's network namespace (it would put the
organisation's addresses on the host): the namespace lab runs it inside a site's
fabric namespace (``netwarden.lab.ns.switches``).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import yaml

from netwarden.lab.sim.device import SimDevice
from netwarden.lab.sim.labdir import (
    CREDENTIALS_FILE,
    KNOWN_HOSTS_FILE,
    LAB_MARKER,
    LOCK_DIR_NAME,
    clear_lab_dir,
    dump_yaml,
    rekey_vault,
)
from netwarden.lab.sim.server import SimServer
from netwarden.lab.sim.showmodel import LldpNeighborView
from netwarden.lab.sim.shows_util import abbreviate
from netwarden.lab.sim.specs import (
    DeviceSpec,
    InterfaceSpec,
    chassis_mac,
    software_for,
    synthetic_spec,
    system_description,
)
from netwarden.lab.sim.stpdomain import StpDomain, links_of
from netwarden.signals import GracefulStop, deferred_signals

if TYPE_CHECKING:
    from netwarden.inventory.models import Inventory

logger = logging.getLogger(__name__)

OWN_ADDRESS_PORT = 22


@dataclass(frozen=True)
class Credentials:
    """The lab's login: generated at run time, never committed, never logged."""

    username: str = "netwarden"
    password: str = field(default="", repr=False)
    enable_secret: str = field(default="", repr=False)

    @classmethod
    def generate(cls, username: str = "netwarden") -> Credentials:
        return cls(username, secrets.token_urlsafe(12), secrets.token_urlsafe(12))


def in_host_netns() -> bool:
    """This process shares the host's network namespace: that of pid 1.

    Where pid 1's cannot be read (a container's init may forbid it, even to root),
    kthreadd's (pid 2, always in the initial namespaces) stands for it; where neither
    can be read, only a namespace named in ``/run/netns`` (``ip netns add``) counts
    as not the host's.
    """
    mine = Path("/proc/self/ns/net").stat()
    for pid in (1, 2):
        try:
            host = Path(f"/proc/{pid}/ns/net").stat()
        except OSError:
            continue
        return (mine.st_dev, mine.st_ino) == (host.st_dev, host.st_ino)
    named = Path("/run/netns")
    for entry in named.iterdir() if named.is_dir() else ():
        with contextlib.suppress(OSError):
            ns = entry.stat()
            if (ns.st_dev, ns.st_ino) == (mine.st_dev, mine.st_ino):
                return False
    return True


def require_lab_netns() -> None:
    """Refuse the own-address mode in the host's network namespace.

    Raises:
        ValueError: this process is in the host's network namespace.
    """
    if in_host_netns():
        raise ValueError(
            "simulated devices on their own addresses (port 22) run only inside a lab "
            "network namespace, and this process is in the host's (/proc/self/ns/net is "
            "/proc/1/ns/net): start it with `ip netns exec "
            "<lab namespace> ...` (netwarden lab up does), or use the default 127.0.0.1 mode"
        )


class SimFleet:
    """Simulated devices served by one :class:`SimServer`; a context manager.

    ``own_addresses``: the specs carry the devices' own addresses and port 22
    (:func:`specs_from_inventory` with ``own_addresses=True``); :meth:`start` then
    refuses to run in the host's network namespace (:func:`require_lab_netns`).
    """

    def __init__(
        self,
        specs: Sequence[DeviceSpec],
        credentials: Credentials | None = None,
        *,
        own_addresses: bool = False,
    ) -> None:
        self.credentials = credentials
        self.own_addresses = own_addresses
        self.devices: dict[str, SimDevice] = {s.name: SimDevice(s) for s in specs}
        for device in self.devices.values():  # in a lab namespace: ask the config's TACACS+
            device.aaa_network = own_addresses
        # one spanning tree over the fleet's links (those its LLDP/CDP neighbours describe)
        self.stp = StpDomain(self.devices.values(), links_of(specs)).attach()
        self.server = SimServer(self.devices.values())
        self._started = False

    def start(self) -> SimFleet:
        if self.own_addresses:
            require_lab_netns()
        self.server.start()
        self._started = True
        return self

    def stop(self) -> None:
        if self._started:
            self.server.stop()
            self._started = False

    def __enter__(self) -> SimFleet:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def device(self, name: str) -> SimDevice:
        return self.devices[name]

    def __iter__(self) -> Iterator[SimDevice]:
        return iter(self.devices.values())

    def set_fault(self, name: str, **changes: Any) -> None:
        """Set faults of one device (``refuse_login=True``, ``delay_seconds=2`` ...)."""
        device = self.devices[name]
        for key, value in changes.items():
            if not hasattr(device.faults, key):
                raise ValueError(f"unknown fault {key!r} for device {name}")
            setattr(device.faults, key, value)

    def clear_faults(self, name: str) -> None:
        device = self.devices[name]
        device.faults.clear()
        self.server.release_hung(device)

    def known_hosts(self) -> str:
        """OpenSSH/paramiko known_hosts lines: ``[127.0.0.1]:PORT ssh-ed25519 AAAA...``."""
        lines = []
        for device in self.devices.values():
            if device.host_key is None:
                raise RuntimeError(f"{device.spec.name}: start the fleet before asking its keys")
            host = device.spec.address
            where = host if device.bound_port == 22 else f"[{host}]:{device.bound_port}"
            lines.append(f"{where} {device.host_key.get_name()} {device.host_key.get_base64()}")
        return "\n".join(lines) + "\n"


def synthetic_fleet(
    count: int,
    credentials: Credentials,
    *,
    access_ports: int = 24,
) -> SimFleet:
    """``count`` synthetic access switches, all on 127.0.0.1 with free ports."""
    return SimFleet(
        [
            synthetic_spec(
                n,
                username=credentials.username,
                password=credentials.password,
                enable_secret=credentials.enable_secret,
                access_ports=access_ports,
            )
            for n in range(1, count + 1)
        ],
        credentials,
    )


def specs_from_inventory(
    path: Path,
    credentials: Credentials,
    *,
    address: str = "127.0.0.1",
    time_scale: float = 1.0,
    own_addresses: bool = False,
    sites: Collection[str] | None = None,
) -> list[DeviceSpec]:
    """A spec for each ``ios`` device of the inventory (its interfaces, VLANs, neighbours).

    ``own_addresses``: each device on its management address, port 22 (instead of
    ``address`` and any free port). ``sites``: only the devices of these sites (their
    neighbours are still those of the whole inventory).
    """
    return specs_for(
        load_for_sim(path),
        credentials,
        address=address,
        time_scale=time_scale,
        own_addresses=own_addresses,
        sites=sites,
    )


def load_for_sim(path: Path) -> Inventory:
    """The inventory at ``path``, validated (what :func:`specs_for` takes).

    Raises:
        ValueError: it cannot be read or does not validate (the first problems quoted).
    """
    from netwarden.inventory.loader import read_inventory  # noqa: PLC0415 - heavy (Ansible)

    inventory, problems = read_inventory(path)
    if inventory is None:
        raise ValueError(
            f"{path}: the inventory cannot be read: " + "; ".join(str(p) for p in problems[:3])
        )
    return inventory


def specs_for(
    inventory: Inventory,
    credentials: Credentials,
    *,
    address: str = "127.0.0.1",
    time_scale: float = 1.0,
    own_addresses: bool = False,
    sites: Collection[str] | None = None,
) -> list[DeviceSpec]:
    """:func:`specs_from_inventory` for an inventory already loaded."""
    ios = [d for d in inventory.devices.values() if d.platform.value == "ios"]
    simulated = {d.name for d in ios}
    specs = []
    for device in ios:
        if sites is not None and device.site not in sites:
            continue
        site = inventory.sites[device.site]
        vlans = tuple(sorted((z.vlan, name) for name, z in site.zones.items()))
        interfaces = []
        neighbors = []
        for itf in device.interfaces:
            mode = itf.mode.value
            zone = site.zones.get(itf.zone) if itf.zone else None
            ipv4 = (str(itf.address.ip), itf.address.network.prefixlen) if itf.address else None
            interfaces.append(
                InterfaceSpec(
                    name=itf.name,
                    description=itf.description,
                    switchport=mode in ("access", "trunk"),
                    trunk=mode == "trunk",
                    access_vlan=zone.vlan if zone and mode == "access" else None,
                    ipv4=ipv4,
                    shutdown=itf.shutdown,
                )
            )
            if itf.peer and itf.peer in inventory.devices:
                seen = _neighbor(itf.name, itf.peer, device.name, inventory.devices)
                if seen.remote_port == "unknown" and itf.peer in simulated:
                    # the far end has no port naming us: no link, so none seen from here
                    logger.info("%s %s: %s has no port towards it; no LLDP/CDP neighbour",
                                device.name, itf.name, itf.peer)  # fmt: skip
                    continue
                neighbors.append(seen)
        neighbors += _back_links(device.name, ios, inventory.devices)
        digest = hashlib.sha256(device.name.encode()).hexdigest()
        specs.append(
            DeviceSpec(
                name=device.name,
                hostname=device.name,
                interfaces=tuple(interfaces),
                address=str(device.mgmt_address) if own_addresses else address,
                port=OWN_ADDRESS_PORT if own_addresses else 0,
                model=device.model or "WS-C3750X-24P",
                serial=f"FOC{int(digest[:6], 16) % 10**4:04d}X{digest[6:9].upper()}",
                username=credentials.username,
                password=credentials.password,
                enable_secret=credentials.enable_secret,
                domain_name=f"{site.name}.{inventory.org.domain}",
                ntp_servers=tuple(inventory.policy.ntp.servers),
                vlans=vlans,
                lldp_neighbors=tuple(neighbors),
                base_mac=_base_mac(device.name),
                time_scale=time_scale,
            )
        )
    return specs


def _neighbor(
    local: str, peer: str, me: str, devices: dict[str, Any], remote_port: str = ""
) -> LldpNeighborView:
    """What ``me`` learns on ``local`` from ``peer`` by LLDP/CDP (the peer's own data).

    The chassis ID is the MAC the peer's ``show version`` reports, the port
    description and management address are the peer's, so every simulated device
    tells the same story about a link as the one at its other end.
    """
    remote = devices[peer]
    port = next((i for i in remote.interfaces if i.name == remote_port), None) or next(
        (i for i in remote.interfaces if getattr(i, "peer", None) == me), None
    )
    names = [i.name for i in remote.interfaces]
    addresses = [i for i in remote.interfaces if getattr(i, "address", None) is not None]
    managed = [i for i in addresses if i.name.startswith(("Vlan", "Loopback"))] or addresses
    model = getattr(remote, "model", None) or "WS-C3750X-24P"
    return LldpNeighborView(
        local_interface=local,
        remote_hostname=peer,
        remote_port=abbreviate(port.name) if port is not None else "unknown",
        remote_port_description=(port.description or "") if port is not None else "",
        remote_chassis_id=chassis_mac(_base_mac(peer), names),
        remote_system_description=system_description(model),
        capabilities=("B", "R"),
        remote_management_address=str(managed[0].address.ip) if managed else "",
        remote_platform=model,
        remote_version=software_for(model)[0],
    )


def _back_links(me: str, ios: Sequence[Any], devices: dict[str, Any]) -> list[LldpNeighborView]:
    """Links another simulated device declares towards ``me`` that ``me`` does not declare.

    A link is seen from both ends: when only one end names its peer, the other end
    learns it all the same (on the port whose ``peer`` names it, else none).
    """
    found: list[LldpNeighborView] = []
    mine = devices[me]
    declared = {getattr(i, "peer", None) for i in mine.interfaces}
    for other in ios:
        if other.name == me or other.name in declared:
            continue
        for itf in other.interfaces:
            if getattr(itf, "peer", None) == me:
                local = next(
                    (i.name for i in mine.interfaces if getattr(i, "peer", None) == other.name), ""
                )
                if local:
                    found.append(_neighbor(local, other.name, me, devices, itf.name))
    return found


def _base_mac(name: str) -> str:
    """The base MAC of the simulated device ``name`` (stable per name)."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    return f"00{digest[:2]}.{digest[2:6]}.{digest[6:8]}00"


def write_lab_inventory(fleet: SimFleet, out: Path, credentials: Credentials, source: Path) -> Path:
    """Write the lab inventory into ``out`` (a directory); return the known_hosts path.

    The inventory ``source`` is copied (groups, policy, site plans, host vars, vault:
    re-encrypted with a fresh random password, see :func:`rekey_vault`) and each
    simulated host's ``ansible_host``/``ansible_port`` is overridden, so the
    lab inventory passes ``netwarden inventory check`` whenever ``source`` does. A
    previous lab in ``out`` is replaced; another non-empty directory is refused.
    """
    clear_lab_dir(out, source)
    # The marker first: a lab cut short (killed while copying) is still replaceable.
    (out / LAB_MARKER).write_text(
        f"Written by netwarden lab sim from {source.resolve()}; the next lab sim with this "
        "--out replaces this whole directory.\n",
        encoding="utf-8",
    )
    shutil.copytree(
        source,
        out,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(LAB_MARKER, LOCK_DIR_NAME),
    )
    rekey_vault(source, out)
    for name, device in fleet.devices.items():
        lab_vars = {"ansible_host": device.spec.address, "ansible_port": device.bound_port}
        host_file = out / "host_vars" / f"{name}.yml"
        host_dir = out / "host_vars" / name
        if host_dir.is_dir():
            dump_yaml(host_dir / "zz_lab_sim.yml", lab_vars)
        elif host_file.is_file():
            data = yaml.safe_load(host_file.read_text(encoding="utf-8")) or {}
            data.update(lab_vars)
            dump_yaml(host_file, data)
        else:
            raise ValueError(f"{source}: no host_vars for the simulated device {name}")
    # Devices of the source the simulator does not run (firewalls, servers): never reached
    # through the lab inventory. Marked absent (device commands leave them out) and pointed
    # at loopback's discard port, so nothing built on this inventory can reach the real one.
    for host_file in sorted((out / "host_vars").glob("*.yml")):
        if host_file.stem in fleet.devices:
            continue
        data = yaml.safe_load(host_file.read_text(encoding="utf-8")) or {}
        data.update({"netwarden_lab_absent": True, "ansible_host": "127.0.0.1", "ansible_port": 9})
        dump_yaml(host_file, data)
    dump_yaml(
        out / CREDENTIALS_FILE,
        {
            "ansible_user": credentials.username,
            "ansible_password": credentials.password,
            "ansible_become_password": credentials.enable_secret,
            "ansible_network_os": "cisco.ios.ios",
            "netwarden_lab": True,
        },
        private=True,
    )
    known_hosts = out / KNOWN_HOSTS_FILE
    known_hosts.write_text(fleet.known_hosts(), encoding="utf-8")
    return known_hosts


def run_sim(
    inventory: Path | None = None,
    devices: int | None = None,
    out: Path = Path("lab"),
    time_scale: float = 1.0,
    *,
    address: str = "127.0.0.1",
    ready: Callable[[SimFleet, Path], None] | None = None,
    stop: threading.Event | None = None,
    own_addresses: bool = False,
) -> int:
    """Serve simulated devices until Ctrl-C, SIGTERM or ``stop``; return an exit code.

    Exactly one of ``inventory`` (simulate its ios devices) and ``devices`` is given:
    ``devices`` switches are those of a generated inventory (HQ and as many field
    offices as it takes, :func:`netwarden.inventory.generate.lab_sites`), at least 5.
    ``ready`` is called once the devices listen and the lab inventory is written (the
    CLI prints where it is). ``own_addresses``: each device on its inventory management
    address, port 22, allowed only outside the host's network namespace (module docstring).
    """
    if (inventory is None) == (devices is None):
        raise ValueError("give either an inventory or a number of devices")
    if own_addresses:
        require_lab_netns()
    elif not address.startswith("127."):
        raise ValueError(f"the simulator only listens on 127.0.0.0/8, not {address}")
    credentials = Credentials.generate()
    # SIGTERM as SIGINT from here on: while setting up, either raises KeyboardInterrupt
    # (the temporary inventory, which holds a vault password, is removed); once the
    # devices listen, either stops the simulator (netwarden.signals).
    with GracefulStop() as signals:
        with deferred_signals():  # never the directory without its removal registered
            scratch = tempfile.TemporaryDirectory(prefix="netwarden-lab-")
        with scratch as tmp:
            if inventory is None:  # N switches: a generated fleet (HQ + field offices)
                from netwarden.inventory.generate import generate, lab_sites  # noqa: PLC0415

                inventory = Path(tmp) / "inventory"
                generate(inventory, lab_sites(devices or 0))
            specs = specs_from_inventory(
                inventory,
                credentials,
                address=address,
                time_scale=time_scale,
                own_addresses=own_addresses,
            )
            fleet = SimFleet(specs, credentials, own_addresses=own_addresses)
            return _serve(
                fleet, inventory, out, credentials, ready=ready, stop=stop, signals=signals
            )


def _serve(
    fleet: SimFleet,
    inventory: Path,
    out: Path,
    credentials: Credentials,
    *,
    ready: Callable[[SimFleet, Path], None] | None,
    stop: threading.Event | None,
    signals: GracefulStop,
) -> int:
    stop = stop or threading.Event()
    with fleet:
        signals.arm(stop.set)  # the lab inventory is written whole, then the loop ends
        known_hosts = write_lab_inventory(fleet, out, credentials, inventory)
        if ready is not None:
            ready(fleet, known_hosts)
        while not stop.wait(0.5):
            continue
    return 0
