"""The connection matrix proven with real connections in the namespace lab (issue 15).

``netwarden lab up --no-sim`` for the example inventory; then the real
``ansible-playbook playbooks/firewalls.yml -i <lab>`` (role ``nftables_firewall``,
through ``netwarden_config`` and the firewalls' nftables sessions, commit-confirm),
run from HQ's management server jed-mon1 like an operator's controller, gives every
site firewall the ruleset netwarden renders from the flow policy, HQ's with the
partner's OpenVPN tunnel in its ``partners`` zone. Then a representative subset of
the connection matrix (every policy rule allowed at least once, the forbidden
cases issue 15 names, a deterministic sample of the rest:
:mod:`netwarden.lab.ns.probeplan`) is tried with real packets between lab hosts,
the partners zone from the partner's LAN over the tunnel. The matrix (policy vs
lab, one row per cell; skipped cells with their reason) is printed (``pytest -s``)
and written to ``matrix.txt`` in the test's tmp directory. Last, a second run
reports ``changed=0``, and a ruleset without the management path (role toggle
``nftables_firewall_management_path_enabled: false``: it cuts even the session that
loads it) applied through the playbook with a 1-minute confirm timeout comes back
by itself (the firewall's revert timer) and the run says ``rolled_back``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from netwarden.inventory import Inventory, load_inventory
from netwarden.lab.ns.firewalls import counters
from netwarden.lab.ns.probe import Observed, matrix_table, probe_lab
from netwarden.lab.ns.state import read_state
from tests.lab.nslab import REPO, cli, force_cleanup, in_ns, lab_prefix

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
    pytest.mark.skipif(shutil.which("nft") is None, reason="needs nftables"),
]

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
CONTROLLER = "jed-mon1"
RECAP = re.compile(
    r"^(?P<host>\S+)\s+: ok=\d+\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+"
    r"failed=(?P<failed>\d+)",
    re.M,
)


@dataclass(frozen=True)
class Run:
    code: int
    output: str
    recap: dict[str, tuple[int, int]]
    """host -> (changed, failed + unreachable)"""


def firewalls_playbook(lab: Path, work: Path, *extra: str) -> Run:
    """``ansible-playbook playbooks/firewalls.yml -i <lab>`` run inside jed-mon1's namespace."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = f"{ANSIBLE_PLAYBOOK.parent}{os.pathsep}{env.get('PATH', '')}"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["ANSIBLE_LOCAL_TEMP"] = str(work / "ansible-tmp")
    done = subprocess.run(
        ["ip", "netns", "exec", f"{lab_prefix(lab)}-jed-{CONTROLLER}", str(ANSIBLE_PLAYBOOK),
         "-i", str(lab),
         "--vault-password-file", str(lab / ".vault-password"),  # the lab's own, fresh
         "playbooks/firewalls.yml",
         "-e", f"nftables_firewall_output_dir={work / 'rulesets'}",
         "-e", f"netwarden_backup_repo={work / 'backups'}",
         "-e", "netwarden_timeout=15",
         *extra],
        cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    recap = {
        m["host"]: (int(m["changed"]), int(m["failed"]) + int(m["unreachable"]))
        for m in RECAP.finditer(done.stdout)
    }
    return Run(done.returncode, done.stdout + done.stderr, recap)


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


def _firewalls(inventory: Inventory) -> list[str]:
    return sorted(d.name for d in inventory.devices.values() if d.function.value == "firewall")


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("firewalls")


@pytest.fixture(scope="module")
def applied(lab: Path, inventory: Inventory, work: Path) -> Run:
    """The first run of firewalls.yml: every firewall changed, none failed."""
    run = firewalls_playbook(lab, work)
    assert run.code == 0, run.output[-6000:]
    assert run.recap == dict.fromkeys(_firewalls(inventory), (1, 0)), run.output[-6000:]
    return run


@pytest.fixture(scope="module")
def probed(
    lab: Path, inventory: Inventory, applied: Run, tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[Observed], dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    del applied
    before = _firewall_counters(lab)
    work = tmp_path_factory.mktemp("probe")
    observed = probe_lab(lab, inventory, work)
    after = _firewall_counters(lab)
    table = matrix_table(observed)
    (work / "matrix.txt").write_text(table)
    print("\n" + table)  # noqa: T201  (the matrix, for people: pytest -s)
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


def test_the_playbook_installed_what_netwarden_renders(
    lab: Path, inventory: Inventory, applied: Run, work: Path
) -> None:
    state = read_state(lab)
    assert state is not None
    for name in _firewalls(inventory):
        written = (work / "rulesets" / f"{name}.nft").read_text()
        assert written.startswith("#!/usr/sbin/nft -f\n")
        site = inventory.devices[name].site
        running = in_ns(f"{lab_prefix(lab)}-{site}-fw", "nft", "list", "ruleset").stdout
        assert "table inet netwarden {" in running
        assert "netwarden_lab" not in running
    jed = in_ns(f"{lab_prefix(lab)}-jed-fw", "nft", "list", "ruleset").stdout
    assert 'iifname "wan0" ip saddr 203.0.113.2 udp dport 1194 counter name "vpn" accept' in jed
    assert 'iifname "nwvpn0" ip saddr != @partner_ms_mofa' in jed


def test_the_partner_is_tested_over_its_tunnel(
    probed: tuple[list[Observed], object, object],
) -> None:
    observed, _, _ = probed
    partner = [
        o
        for o in observed
        if o.probe.cell.src.zone == "partners" and o.probe.cell.dst.zone != "internet"
    ]
    assert partner
    assert not [o for o in partner if o.skipped], matrix_table([o for o in partner if o.skipped])
    assert {o.probe.src_node for o in partner} == {"ms-mofa"}
    published = [o for o in partner if o.probe.cell.allowed]
    assert published
    assert all(o.allowed for o in published)
    assert {o.probe.cell.rule for o in published} == {"partners-dmz"}
    refused = [o for o in partner if not o.probe.cell.allowed]
    assert len(refused) > 10
    assert not any(o.allowed for o in refused)


def test_no_cell_is_skipped_for_want_of_a_partner_path(
    probed: tuple[list[Observed], object, object],
) -> None:
    observed, _, _ = probed
    reasons = {o.probe.skip for o in observed if o.skipped}
    assert not any("no lab host holds a partners-zone address" in (r or "") for r in reasons)


def test_a_second_run_changes_nothing(
    lab: Path, inventory: Inventory, applied: Run, probed: object, work: Path
) -> None:
    run = firewalls_playbook(lab, work)
    assert run.code == 0, run.output[-6000:]
    assert run.recap == dict.fromkeys(_firewalls(inventory), (0, 0)), run.output[-6000:]


def test_check_diff_shows_an_out_of_band_rule_and_changes_nothing(
    lab: Path, applied: Run, probed: object, work: Path
) -> None:
    fw_ns = f"{lab_prefix(lab)}-nyc-fw"
    added = in_ns(fw_ns, "nft", "add", "rule", "inet", "netwarden", "input",
                  "tcp", "dport", "2222", "accept")  # fmt: skip
    assert added.returncode == 0, added.stderr
    run = firewalls_playbook(lab, work, "--limit", "nyc-fw1", "--check", "--diff")
    assert run.code == 0, run.output[-6000:]
    assert run.recap == {"nyc-fw1": (1, 0)}, run.output[-6000:]
    assert "--- nyc-fw1 (running)" in run.output, run.output[-6000:]
    assert re.search(r"^-.*tcp dport 2222 accept", run.output, re.M), run.output[-6000:]
    still = in_ns(fw_ns, "nft", "list", "ruleset").stdout
    assert "tcp dport 2222 accept" in still  # check mode changed nothing


def test_a_ruleset_without_the_management_path_is_rolled_back(
    lab: Path, applied: Run, probed: object, work: Path
) -> None:
    fw_ns = f"{lab_prefix(lab)}-nyc-fw"
    before = in_ns(fw_ns, "nft", "list", "ruleset").stdout
    assert "mgmt-devices: hq/mgmt -> nyc-fw1" in before
    run = firewalls_playbook(
        lab, work,
        "--limit", "nyc-fw1",
        "-e", "nftables_firewall_management_path_enabled=false",
        "-e", "netwarden_confirm_timeout=1",
    )  # fmt: skip
    assert run.code != 0, run.output[-6000:]
    assert run.recap == {"nyc-fw1": (0, 1)}, run.output[-6000:]
    # the ruleset cut the playbook's own session: the firewall's revert timer healed it
    assert "nyc-fw1: rolled_back:" in run.output, run.output[-6000:]
    assert "revert timer" in run.output, run.output[-6000:]
    after = in_ns(fw_ns, "nft", "list", "ruleset").stdout
    assert _rules(after) == _rules(before)  # the previous ruleset, rule for rule (drift too)


def _rules(ruleset: str) -> list[str]:
    """The ruleset's lines without counter values (they move with traffic)."""
    return [re.sub(r"packets \d+ bytes \d+", "", line) for line in ruleset.splitlines()]
