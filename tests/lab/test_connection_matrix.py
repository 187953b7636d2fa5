"""The connection matrix proven with real connections in the namespace lab (issue 15).

``netwarden lab up --no-sim`` for the example inventory; every site firewall gets the
ruleset netwarden renders from the flow policy, loaded straight into its namespace
(:func:`netwarden.lab.ns.firewalls.load_rendered`; the Ansible role comes later);
then a representative subset of the connection matrix (every policy rule allowed at
least once, the forbidden cases issue 15 names, a deterministic sample of the rest:
:mod:`netwarden.lab.ns.probeplan`) is tried with real packets between lab hosts.
The matrix (policy vs lab, one row per cell; skipped cells with their reason) is
printed (``pytest -s``) and written to ``matrix.txt`` in the test's tmp directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from netwarden.inventory import Inventory, load_inventory
from netwarden.lab.ns.firewalls import counters, load_rendered
from netwarden.lab.ns.probe import Observed, matrix_table, probe_lab
from netwarden.lab.ns.state import read_state
from tests.lab.nslab import REPO, cli, force_cleanup, lab_prefix

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
]


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_inventory(REPO / "inventory")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = tmp_path_factory.mktemp(f"matrix{os.getpid()}")
    path, log = base / "lab", base / "cli.log"
    try:
        code = cli(
            "lab", "up", "-i", str(REPO / "inventory"), "--out", str(path), "--no-sim", log=log
        )
        assert code == 0, log.read_text()
        yield path
    finally:
        if path.exists():
            cli("lab", "down", str(path), log=log)
        force_cleanup(lab_prefix(path))


def _firewall_counters(lab: Path) -> dict[str, dict[str, int]]:
    state = read_state(lab)
    assert state is not None
    return {
        name: counters(node.netns)
        for name, node in state.header.nodes.items()
        if node.kind == "firewall"
    }


@pytest.fixture(scope="module")
def probed(
    lab: Path, inventory: Inventory, tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[Observed], dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    loaded = load_rendered(lab, inventory)
    assert sorted(loaded) == sorted(
        d.name for d in inventory.devices.values() if d.function.value == "firewall"
    )
    before = _firewall_counters(lab)
    work = tmp_path_factory.mktemp("probe")
    observed = probe_lab(lab, inventory, work)
    after = _firewall_counters(lab)
    table = matrix_table(observed)
    (work / "matrix.txt").write_text(table)
    return observed, before, after


def test_the_rendered_rulesets_replace_the_lab_table(lab: Path, probed: object) -> None:
    state = read_state(lab)
    assert state is not None
    fw = next(n for n in state.header.nodes.values() if n.kind == "firewall")
    names = counters(fw.netns)
    assert "drop_forward" in names
    assert "mgmt-devices" in names


def test_every_probed_cell_does_what_the_policy_says(
    probed: tuple[list[Observed], object, object],
) -> None:
    observed, _, _ = probed
    tried = [o for o in observed if not o.skipped]
    wrong = [o for o in tried if not o.matches]
    assert not wrong, "\n" + matrix_table(wrong)
    # the subset is not vacuous: rules allowed, and forbidden cases denied
    assert sum(o.probe.cell.allowed for o in tried) >= len(
        {o.probe.cell.rule for o in tried if o.probe.cell.allowed}
    )
    named = {o.probe.chosen.why for o in tried if not o.probe.cell.allowed}
    for case in ("guests to servers", "field staff to HQ management", "the internet inward"):
        assert f"forbidden: {case}" in named
    for o in observed:
        if o.skipped:
            assert o.probe.skip, o.probe.cell.flow  # a skip always says why


def test_every_policy_rule_is_allowed_in_the_lab(
    inventory: Inventory, probed: tuple[list[Observed], object, object]
) -> None:
    observed, _, _ = probed
    seen = {o.probe.cell.rule for o in observed if not o.skipped and o.allowed}
    skipped = {o.probe.cell.rule for o in observed if o.skipped and o.probe.cell.allowed}
    rules = {r.id for r in inventory.flow_policy.rules}
    assert rules - seen <= skipped, f"never allowed in the lab: {sorted(rules - seen - skipped)}"


def test_the_rule_counters_rose_for_allowed_probes(
    probed: tuple[list[Observed], dict[str, dict[str, int]], dict[str, dict[str, int]]],
) -> None:
    observed, before, after = probed
    rules = {o.probe.cell.rule for o in observed if not o.skipped and o.allowed}
    assert rules
    for rule in sorted(r for r in rules if r is not None):
        was = sum(c.get(rule, 0) for c in before.values())
        now = sum(c.get(rule, 0) for c in after.values())
        assert now > was, f"counter {rule}: {was} -> {now} on every firewall"
