"""Load the site firewalls' rendered rulesets into a running lab, straight (no commit-confirm).

``lab up`` gives each firewall namespace a permissive ``table inet netwarden_lab``.
:func:`load_rendered` renders every ``nftables`` firewall of the lab's inventory with
:mod:`netwarden.render` (the same bytes ``netwarden render`` prints), writes each to
``<lab>/.lab/firewalls/<device>.nft``, checks it with ``nft -c -f`` inside the
firewall's namespace and loads it with ``nft -f``. The file starts with ``flush
ruleset``, so it replaces the lab's table in one transaction (a file that fails to
load leaves the previous ruleset).

Not a deployment path: ``playbooks/firewalls.yml`` (role ``nftables_firewall``) and
``netwarden apply`` are (tests/lab/test_connection_matrix.py goes that way). No commit-confirm.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from netwarden.errors import LabError
from netwarden.inventory.models import Inventory
from netwarden.lab.ns import netops
from netwarden.lab.ns.state import WORK_DIR, read_state
from netwarden.render.platforms import renderer_for

logger = logging.getLogger(__name__)

RULESET_DIR = "firewalls"


def load_inventory_of(lab_dir: Path) -> Inventory:
    """The lab directory read as the inventory it is (Ansible's loader, vault included)."""
    from netwarden.inventory.loader import read_inventory  # noqa: PLC0415 - Ansible: heavy

    inv, problems = read_inventory(lab_dir)
    if inv is None or problems:
        shown = "; ".join(str(p) for p in problems[:3])
        raise LabError(f"{lab_dir}: the lab inventory has {len(problems)} problem(s) ({shown})")
    return inv


def load_rendered(lab_dir: Path, inventory: Inventory | None = None) -> dict[str, Path]:
    """Render and load every nftables firewall of the lab in ``lab_dir``; device -> file.

    Raises:
        LabError: the lab is not running (no state), a firewall has no namespace in it,
            or ``nft`` refused a ruleset (the message names the device and the file).
    """
    import netwarden.render  # noqa: F401, PLC0415 - registers the renderers (nftables, ios)

    state = read_state(lab_dir)
    if state is None:
        raise LabError(f"{lab_dir}: no lab state; is the lab up (netwarden lab up --out DIR)?")
    inv = inventory if inventory is not None else load_inventory_of(lab_dir)
    nodes = state.header.nodes
    out_dir = lab_dir / WORK_DIR / RULESET_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    loaded: dict[str, Path] = {}
    for name, device in sorted(inv.devices.items()):
        renderer = renderer_for(device)
        if renderer is None or renderer.name != "nftables":
            continue
        node = nodes.get(name)
        if node is None or node.kind != "firewall":
            raise LabError(f"{name}: the lab in {lab_dir} has no firewall node for it")
        path = out_dir / f"{name}{renderer.suffix}"
        path.write_text(renderer.render(inv, device))
        for check in (True, False):
            args = ["nft", *(("-c",) if check else ()), "-f", str(path)]
            done = netops.ns_exec(node.netns, args, check=False)
            if done.returncode != 0:
                what = "check" if check else "load"
                raise LabError(
                    f"{name}: nft could not {what} {path} in {node.netns}: "
                    f"{(done.stderr or done.stdout).strip()}"
                )
        logger.info("%s: loaded %s into %s", name, path, node.netns)
        loaded[name] = path
    if not loaded:
        raise LabError(f"{lab_dir}: the inventory has no nftables firewall to load")
    return loaded


def counters(netns: str) -> dict[str, int]:
    """Packets of every named counter of the firewall in ``netns`` (``nft -j list counters``)."""
    done = netops.ns_exec(netns, ["nft", "-j", "list", "counters"])
    out: dict[str, int] = {}
    for item in json.loads(done.stdout).get("nftables", []):
        counter = item.get("counter")
        if isinstance(counter, dict):
            out[str(counter["name"])] = int(counter["packets"])
    return out
