"""The rendered site firewall rulesets on a real nft (issue 15): `nft -c` validates each,
it loads in a scratch namespace whose veths carry the firewall's interface names, and
the compliance nftables pack passes on its `nft -j list ruleset`."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from netwarden.compliance.engine import Engine
from netwarden.compliance.models import Status
from netwarden.compliance.sources import Artifact, Target
from netwarden.inventory import load_inventory
from netwarden.inventory.models import Inventory
from netwarden.render.nftables import render_firewall

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
]
FIREWALLS = ["jed-fw1", "nyc-fw1", "gva-fw1", "bru-fw1", "kbl-fw1"]


def _run(*cmd: str, stdin: str | None = None) -> str:
    return subprocess.run(
        cmd, input=stdin, capture_output=True, text=True, check=True, timeout=30
    ).stdout


@pytest.fixture(scope="module")
def inv(example_inventory: Path) -> Inventory:
    return load_inventory(example_inventory)


@pytest.fixture
def netns(request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"nw15f{os.getpid()}-{request.node.callspec.id}"
    _run("ip", "netns", "add", name)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, timeout=30)


@pytest.mark.parametrize("device", FIREWALLS)
def test_ruleset_loads_and_passes_the_nftables_pack(
    inv: Inventory, netns: str, device: str
) -> None:
    dev = inv.devices[device]
    # veth pairs named like the firewall's interfaces (the far ends stay in the namespace)
    for i, iface in enumerate(dev.interfaces):
        _run("ip", "-n", netns, "link", "add", iface.name, "type", "veth", "peer", "name", f"p{i}")
    text = render_firewall(inv, dev)
    _run("ip", "netns", "exec", netns, "nft", "-c", "-f", "-", stdin=text)
    _run("ip", "netns", "exec", netns, "nft", "-f", "-", stdin=text)
    listed = _run("ip", "netns", "exec", netns, "nft", "-j", "list", "ruleset")
    assert '"name": "netwarden"' in listed or '"netwarden"' in listed
    target = Target(device, "nftables", Artifact(f"{device}.json", listed))
    results = Engine(inventory=inv).audit(target)
    assert results
    bad = [
        f"{r.rule}: {r.status.value} {r.message} {r.evidence}"
        for r in results
        if r.status is not Status.PASS
    ]
    assert not bad, "\n".join(bad)
    assert {r.rule for r in results} >= {
        "nft-default-deny",
        "nft-forbidden-flows",
        "nft-shadowed-rules",
    }
