"""``netwarden lab up``: build the whole organisation in network namespaces.

:func:`lab_up` plans the lab from the inventory (``plan.py``), then creates it step
by step (:data:`STEPS`), recording every resource in the state file *before* it
exists (``state.py``), so that whatever stops it (an error, Ctrl-C, SIGTERM, or a
SIGKILL that no code sees) leaves a lab ``lab down`` removes completely. An error,
Ctrl-C or SIGTERM removes the half-built lab at once.

``up`` on a directory holding a running lab reports that lab and changes nothing;
on a half-built or stale one (a killed ``up``, a reboot) it removes it and builds
anew.

Test hook: ``NETWARDEN_LAB_CRASH_AFTER=<step>`` (one of :data:`STEPS`) makes ``up``
end with ``os._exit(`` :data:`CRASH_EXIT` ``)`` right after that step, as if it had
been killed there: no cleanup, no ``finally``. ``tests/lab`` uses it to prove that
``lab down`` cleans a half-built lab.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from netwarden.errors import LabError, LabNeedsRootError, LabPlanError
from netwarden.inventory.models import Inventory
from netwarden.lab.ns import aaa, labinventory, netops, parts, sensors, teardown
from netwarden.lab.ns.plan import plan_lab
from netwarden.lab.ns.record import link_ident
from netwarden.lab.ns.seal import check_seal
from netwarden.lab.ns.state import (
    LAB_MARKER,
    Header,
    NodeEntry,
    StateWriter,
    is_lab_dir,
    lab_lock,
    read_state,
    work_dir,
)
from netwarden.lab.ns.status import Figures, figures, lab_alive, management_node
from netwarden.lab.ns.topology import LabPlan, Node, NodeKind, lab_id_for
from netwarden.signals import GracefulStop, deferred_signals

logger = logging.getLogger(__name__)

CRASH_ENV = "NETWARDEN_LAB_CRASH_AFTER"
CRASH_EXIT = 86
STEPS = (
    "netns",
    "sysctl",
    "links",
    "addresses",
    "routes",
    "mirrors",
    "firewalls",
    "inventory",
    "switches",
    "hosts",
    "vpn",
    "known_hosts",
    "sensors",
    "seal",
)
REQUIRED_TOOLS = ("ip", "tc", "nft", "sysctl", "ssh-keygen")
READY_TIMEOUT = 90.0
PARALLEL = 4
ROOTLESS_HINT = (
    "`netwarden lab up` needs root: it creates network namespaces, veth links, bridges "
    "and nftables rulesets (CAP_NET_ADMIN, CAP_SYS_ADMIN). Run it as root (sudo), or use "
    "`netwarden lab sim`, which simulates the switches without root."
)


@dataclass(frozen=True)
class UpOptions:
    out: Path
    inventory: Path | None = None
    sites: int | None = None
    sim: bool = True
    """Start the simulated switches (``--no-sim``: not)."""
    sensors: bool = False
    """Start the traffic auditor on each sensor's SPAN port (``--sensors``; off by default:
    a Python process of some 100 MB per site that only traffic tests and the demo read)."""


@dataclass(frozen=True)
class UpResult:
    lab_dir: Path
    already_running: bool
    nodes_by_kind: dict[str, int]
    figures: Figures
    seconds: float
    steps: dict[str, float] = field(default_factory=dict)
    not_started: tuple[str, ...] = ()
    work_from: str | None = None
    """A node to run commands from (:func:`~netwarden.lab.ns.status.management_node`)."""


_CAP_NET_ADMIN, _CAP_SYS_ADMIN = 12, 21  # linux/capability.h


def _effective_capabilities() -> int:
    """This process's effective capability set (``CapEff`` of ``/proc/self/status``)."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    except (OSError, ValueError):
        return 0
    return 0


def require_root() -> None:
    """Raise :class:`LabNeedsRootError` (saying why and what works rootless) unless root.

    Root means what the lab needs of it: uid 0 with CAP_NET_ADMIN and CAP_SYS_ADMIN in
    effect (root in a container without them, or with a dropped bounding set, is refused
    as clearly as a user).
    """
    if os.geteuid() != 0:
        raise LabNeedsRootError(ROOTLESS_HINT)
    needed = (1 << _CAP_NET_ADMIN) | (1 << _CAP_SYS_ADMIN)
    if _effective_capabilities() & needed != needed:
        raise LabNeedsRootError(
            "this process is root but lacks CAP_NET_ADMIN or CAP_SYS_ADMIN (a container or "
            "a dropped capability bounding set?). " + ROOTLESS_HINT
        )


def _require_tools() -> None:
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        raise LabError(
            f"the lab needs {', '.join(missing)} (Debian: iproute2, nftables, procps, "
            "openssh-client); install them and run lab up again"
        )


def _crash_point(step: str) -> None:
    if os.environ.get(CRASH_ENV) == step:
        logger.warning("%s=%s: exiting without cleanup (test hook)", CRASH_ENV, step)
        os._exit(CRASH_EXIT)


@contextmanager
def _source_inventory(options: UpOptions) -> Iterator[Path]:
    """The inventory to build from: the given one, or ``--sites N`` generated in a temp dir."""
    if options.sites is None:
        yield options.inventory or Path("inventory")
        return
    from netwarden.inventory.generate import generate  # noqa: PLC0415

    with deferred_signals():  # never the directory without its removal registered
        scratch = tempfile.TemporaryDirectory(prefix="netwarden-lab-inventory-")
    with scratch as tmp:
        path = Path(tmp) / "inventory"
        generate(path, options.sites)
        yield path


def _load(source: Path) -> Inventory:
    from netwarden.inventory.loader import read_inventory  # noqa: PLC0415 - Ansible: heavy

    inv, problems = read_inventory(source)
    if inv is None or problems:
        shown = "; ".join(str(p) for p in problems[:3])
        raise LabPlanError(
            f"{source}: the inventory has {len(problems)} problem(s) ({shown}); "
            "run `netwarden inventory check` for the list"
        )
    return inv


def _prepare_dir(out: Path, source: Path) -> bool:
    """Make ``out`` usable; return whether it was created here."""
    src, dst = source.resolve(), out.resolve()
    if src == dst or src.is_relative_to(dst) or dst.is_relative_to(src):
        raise LabError(f"--out {out} overlaps the inventory {source}; choose another --out")
    if not out.exists():
        out.mkdir(parents=True)
        return True
    if not out.is_dir():
        raise LabError(f"--out {out} exists and is not a directory")
    if any(out.iterdir()) and not is_lab_dir(out):
        raise LabError(
            f"--out {out} is not empty and is not a lab directory (no {LAB_MARKER}); "
            "choose another --out"
        )
    return False


def _node_table(plan: LabPlan) -> dict[str, NodeEntry]:
    return {
        n.name: NodeEntry(
            kind=n.kind.value,
            netns=n.netns,
            site=n.site,
            addresses=tuple(str(a) for a in plan.addresses_of(n)),
        )
        for n in plan.nodes
    }


def lab_up(options: UpOptions, *, progress: Callable[[str], None] | None = None) -> UpResult:
    """Build the lab described by ``options``; report a running one instead if there is one.

    Raises:
        LabNeedsRootError: not root.
        LabError: the inventory, the directory or a step failed (the half-built lab
            has been removed).
        KeyboardInterrupt: Ctrl-C or SIGTERM (the half-built lab has been removed).
    """
    require_root()
    _require_tools()
    say = progress or (lambda _msg: None)
    start = time.monotonic()
    out = options.out.resolve()
    with GracefulStop(), _source_inventory(options) as source:
        created = _prepare_dir(out, source)
        try:
            return _up_locked(options, out, source, created, say, start)
        finally:
            if created and out.is_dir() and not any(out.iterdir()):
                out.rmdir()  # failed before anything was built: no empty directory left


def _up_locked(  # noqa: PLR0917 - lab_up's steps, split for length
    options: UpOptions,
    out: Path,
    source: Path,
    created: bool,
    say: Callable[[str], None],
    start: float,
) -> UpResult:
    with lab_lock(out, "up"):
        state = read_state(out) if is_lab_dir(out) else None
        if state is not None and state.ready and lab_alive(state):
            counts: dict[str, int] = {}
            for entry in state.header.nodes.values():
                counts[entry.kind] = counts.get(entry.kind, 0) + 1
            return UpResult(
                lab_dir=out,
                already_running=True,
                nodes_by_kind=counts,
                figures=figures(state.namespaces()),
                seconds=time.monotonic() - start,
                work_from=management_node(state.header.nodes),
            )
        if is_lab_dir(out):
            say("removing the previous, unfinished lab in this directory")
            removed = teardown.remove_lab(out, state, remove_dir=False)
            if removed.problems:
                raise LabError(
                    f"{out}: the previous lab could not be removed: " + "; ".join(removed.problems)
                )
        say(f"reading {source}")
        inv = _load(source)
        plan = plan_lab(inv, lab_id_for(str(out)))
        _refuse_foreign_namespaces(plan)
        (out / LAB_MARKER).write_text(
            f"A lab built by netwarden lab up from {source}; `netwarden lab down {out}` "
            "removes it and this directory.\n",
            encoding="utf-8",
        )
        header = Header(
            lab_id=plan.lab_id,
            prefix=plan.prefix,
            lab_dir=str(out),
            source=str(source if options.sites is None else f"--sites {options.sites}"),
            created=time.time(),
            pid=os.getpid(),
            nodes=_node_table(plan),
        )
        writer = StateWriter.create(out, header)
        try:
            writer.phase("building")
            builder = _Build(plan, out, source, writer, options, say,
                             tacacs_key=inv.policy.aaa.tacacs_key.get_secret_value())  # fmt: skip
            builder.run()
            writer.phase("ready")
        except BaseException:
            with deferred_signals():
                say("removing the half-built lab")
                writer.close()
                teardown.remove_lab(out, read_state(out), remove_dir=created)
            raise
        finally:
            writer.close()
        return UpResult(
            lab_dir=out,
            already_running=False,
            nodes_by_kind=plan.count_by_kind(),
            figures=figures(plan.namespaces()),
            seconds=time.monotonic() - start,
            steps=builder.timings,
            not_started=tuple(builder.not_started),
            work_from=management_node(header.nodes),
        )


def _refuse_foreign_namespaces(plan: LabPlan) -> None:
    foreign = sorted(n for n in netops.netns_names() if n.startswith(f"{plan.prefix}-"))
    if foreign:
        raise LabError(
            f"{len(foreign)} namespaces named like this lab's already exist ({', '.join(foreign[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}), not recorded in this directory: a lab "
            "built here whose directory was deleted, or another lab whose directory hashes to "
            f"the same id {plan.lab_id}. Remove it with `netwarden lab down <its directory>`, "
            "or, its directory gone, stop the processes `ip netns pids NAME` lists and "
            "`ip netns del NAME`; or choose another --out"
        )


class _Build:
    """The steps of one ``up``; each records before it creates."""

    def __init__(  # noqa: PLR0917 - one call site, every argument needed
        self,
        plan: LabPlan,
        out: Path,
        source: Path,
        record: StateWriter,
        options: UpOptions,
        say: Callable[[str], None],
        *,
        tacacs_key: str = "",
    ) -> None:
        self.plan = plan
        self.tacacs_key = tacacs_key
        self.tacacs_vault: dict[str, str] = {}
        self.out = out
        self.work = work_dir(out)
        self.source = source
        self.record = record
        self.options = options
        self.say = say
        self.timings: dict[str, float] = {}
        self.not_started: list[str] = []
        self.started: list[parts.Started] = []
        self.pubkey = ""

    def run(self) -> None:
        for step in STEPS:
            began = time.monotonic()
            getattr(self, f"_step_{step}")()
            self.timings[step] = time.monotonic() - began
            logger.info("lab up: step %s took %.2f s", step, self.timings[step])
            _crash_point(step)

    def _parallel(self, fn: Callable[[Node], None], nodes: list[Node]) -> None:
        with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
            for future in [pool.submit(fn, node) for node in nodes]:
                future.result()

    def _step_netns(self) -> None:
        self.say(f"creating {len(self.plan.nodes)} network namespaces")
        for node in self.plan.nodes:
            self.record("netns", node.netns, node=node.name, role=node.kind.value)
        netops.ip_batch(f"netns add {node.netns}" for node in self.plan.nodes)

    def _step_sysctl(self) -> None:
        def settings(node: Node) -> None:
            values = {
                # The organisation is IPv4; no link-local chatter on the SPAN ports.
                "net.ipv6.conf.all.disable_ipv6": "1",
                "net.ipv6.conf.default.disable_ipv6": "1",
                "net.ipv4.ip_forward": "1" if node.forwarding else "0",
            }
            if node.strict_rp_filter:
                values["net.ipv4.conf.all.rp_filter"] = "1"
                values["net.ipv4.conf.default.rp_filter"] = "1"
            netops.sysctl(node.netns, values)

        self._parallel(settings, list(self.plan.nodes))

    def _step_links(self) -> None:
        self.say(f"linking them ({len(self.plan.veths)} veth pairs)")
        for veth in self.plan.veths:
            self.record("link", link_ident(veth.node.netns, veth.node.ifname))
            self.record("link", link_ident(veth.far.netns, veth.far.ifname))
        # Created inside their namespaces: no lab interface ever exists in the host's.
        netops.ip_batch(
            f"link add name {v.node.ifname} netns {v.node.netns} type veth "
            f"peer name {v.far.ifname} netns {v.far.netns}"
            for v in self.plan.veths
        )

    def _step_addresses(self) -> None:
        def configure(node: Node) -> None:
            lines = ["link set lo up"]
            for bridge in node.bridges:
                self.record("link", link_ident(node.netns, bridge), role="bridge")
                lines += [f"link add {bridge} type bridge", f"link set {bridge} up"]
            for end in self.plan.ends_in(node.netns):
                if end.bridge:
                    lines.append(f"link set {end.ifname} master {end.bridge}")
                if end.capture:
                    lines.append(f"link set {end.ifname} arp off")
                lines.append(f"link set {end.ifname} up")
                lines += [f"addr add {a} dev {end.ifname}" for a in end.addresses]
            lines += [f"addr add {a} dev {dev}" for dev, a in node.local_addresses]
            netops.ip_batch(lines, node.netns)

        self._parallel(configure, list(self.plan.nodes))

    def _step_routes(self) -> None:
        def route(node: Node) -> None:
            lines = []
            for r in node.routes:
                line = f"route add {r.dst or 'default'}"
                line += f" via {r.via}" if r.via else ""
                line += f" dev {r.dev}" if r.dev else ""
                line += f" table {r.table}" if r.table else ""
                lines.append(line)
            lines += [
                f"rule add from {r.src} lookup {r.table} priority {r.priority}" for r in node.rules
            ]
            netops.ip_batch(lines, node.netns)

        self._parallel(route, [n for n in self.plan.nodes if n.routes or n.rules])

    def _step_mirrors(self) -> None:
        for node in self.plan.nodes:
            if node.kind is not NodeKind.FABRIC or not node.spans:
                continue
            actions = " ".join(f"action mirred egress mirror dev {span}" for span in node.spans)
            lines = []
            for port in self.plan.mirrored_ports(node):
                lines += [
                    f"qdisc add dev {port} clsact",
                    f"filter add dev {port} ingress u32 match u32 0 0 {actions}",
                ]
            netops.tc_batch(lines, node.netns)

    def _step_firewalls(self) -> None:
        for fw in self.plan.firewalls:
            netops.nft_load(fw.netns, base_ruleset(fw.zones))

    def _step_inventory(self) -> None:
        self.say(f"writing the lab inventory into {self.out}")
        labinventory.copy_inventory(self.source, self.out)
        key, self.pubkey = labinventory.automation_keypair(self.out, self.record)
        control = labinventory.control_path_dir(self.plan.prefix)
        self.record("dir", str(control), role="ansible control sockets")  # down removes it
        labinventory.write_lab_vars(self.out, key, control)
        servers = [n.device for n in self.plan.nodes if n.kind is NodeKind.SERVER and n.device]
        labinventory.write_lab_waivers(self.out, servers, date.today())

    def _step_switches(self) -> None:
        if not self.options.sim:
            self.not_started.append("simulated switches (--no-sim)")
            return
        self.say("starting the simulated switches")
        found = parts.start_switches(self.plan, self.out, self.work, self.record)
        if not found and any(s.switches for s in self.plan.switch_sites):
            self.not_started.append("simulated switches (netwarden.lab.ns.switches missing)")
        self.started += found

    def _step_hosts(self) -> None:
        self.say(f"starting {len(self.plan.hosts)} Linux hosts (sshd and their services)")
        tacacs = None
        if self.tacacs_key and any("tacacs" in h.services for h in self.plan.hosts):
            logins = aaa.lab_logins(self.work)
            tacacs = aaa.server_secrets(self.tacacs_key, logins)
            self.tacacs_vault = aaa.vault_vars(logins)
        found = parts.start_hosts(self.plan, self.work, self.pubkey, self.record, tacacs)
        if not found and self.plan.hosts:
            self.not_started.append("servers, sensors, firewalls' sshd (servers module missing)")
        if found:
            parts.wait_hosts(found, READY_TIMEOUT)
        self.started += found

    def _step_vpn(self) -> None:
        found = parts.start_partners(self.plan, self.work, self.record)
        if not found and self.plan.partners:
            self.not_started.append("partner VPNs (netwarden.lab.ns.vpn missing)")
        self.started += found

    def _step_known_hosts(self) -> None:
        lines = [line for s in self.started for line in s.known_hosts]
        labinventory.write_known_hosts(self.out, lines)
        logins = {s.site: s.login for s in self.started if s.login is not None and s.site}
        switches = {name: site.site for site in self.plan.switch_sites for name, _ in site.switches}
        labinventory.write_switch_logins(self.out, logins, switches, self.tacacs_vault)
        problems = labinventory.check_lab_inventory(self.out)
        if problems:
            raise LabError(
                f"{self.out}: the lab inventory fails its check: " + "; ".join(problems[:5])
            )

    def _step_sensors(self) -> None:
        """The auditors last: they load the finished lab inventory (:mod:`.sensors`)."""
        if not self.options.sensors:
            return
        wanted = sensors.sensor_auditors(self.plan, self.work)
        self.say(f"starting the traffic auditor on {len(wanted)} sensors' SPAN ports")
        started = [sensors.start_auditor(a, self.out, self.record) for a in wanted]
        for auditor in started:
            sensors.wait_auditor(auditor, READY_TIMEOUT)

    def _step_seal(self) -> None:
        problems = check_seal(self.plan.namespaces(), self.plan.prefix)
        if problems:
            raise LabError("the lab is not sealed: " + "; ".join(problems[:10]))


def base_ruleset(zones: tuple[tuple[str, str], ...]) -> str:
    """Issue 14's firewall ruleset: forward everything, count per zone pair (no policy yet).

    Examples:
        >>> print(base_ruleset((("staff0", "staff"), ("wan0", "wan"))))  # doctest: +NORMALIZE_WHITESPACE
        table inet netwarden_lab {
          chain forward {
            type filter hook forward priority filter; policy accept;
            iifname "staff0" oifname "wan0" counter comment "staff->wan"
            iifname "wan0" oifname "staff0" counter comment "wan->staff"
          }
        }
    """
    rules = [
        f'    iifname "{a}" oifname "{b}" counter comment "{za}->{zb}"'
        for a, za in zones
        for b, zb in zones
        if a != b
    ]
    body = "\n".join(
        [
            "  chain forward {",
            "    type filter hook forward priority filter; policy accept;",
            *rules,
            "  }",
        ]
    )
    return f"table inet netwarden_lab {{\n{body}\n}}\n"
