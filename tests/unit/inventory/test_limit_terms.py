"""Every ``--limit`` term must match something, in every command (issue 11 points 1 and 15).

``--limit nyc-acc-sw1,nyc-acc-sw3`` (sw3 does not exist) used to run on sw1 alone,
``--limit nyc,switchs`` on nyc alone, and ``audit --limit nyx`` said "no device to
audit" without naming the limit. Now each command exits 2 before touching a
device, naming the terms that match nothing and what a term can be.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from netwarden.cli.app import app
from netwarden.cli.common import EXIT_USAGE
from netwarden.errors import LimitError
from netwarden.inventory import load_inventory
from netwarden.inventory.models import Inventory
from netwarden.inventory.select import check_limit, unmatched_terms

BAD = {
    "nyx": ["nyx"],
    "nyc-acc-sw1,nyc-acc-sw3": ["nyc-acc-sw3"],
    "nyc,switchs": ["switchs"],
    "JED,gva": ["JED"],
    "site_*": ["site_*"],
}
GOOD = ["nyc-acc-sw1", "nyc,switches", "hq", "site_jed", "*-fw1", "switch", "jed-core-sw1, gva"]


@pytest.fixture(scope="module")
def example(example_inventory: Path) -> Inventory:
    return load_inventory(example_inventory)


@pytest.mark.parametrize("limit", BAD, ids=list(BAD))
def test_terms_that_match_nothing_are_named(example: Inventory, limit: str) -> None:
    assert unmatched_terms(limit, example) == BAD[limit]
    with pytest.raises(LimitError) as caught:
        check_limit(limit, example)
    message = str(caught.value)
    assert message.startswith(f"--limit {limit!r}: ")
    for term in BAD[limit]:
        assert f"{term!r} matches no device, site or group" in message
    assert "a site (bru, gva, jed, kbl, nyc)" in message


@pytest.mark.parametrize("limit", GOOD)
def test_terms_that_match_pass(example: Inventory, limit: str) -> None:
    check_limit(limit, example)


def test_close_names_are_suggested(example: Inventory) -> None:
    def message(limit: str) -> str:
        with pytest.raises(LimitError) as caught:
            check_limit(limit, example)
        return str(caught.value)

    assert "(did you mean nyc?)" in message("nyx")
    assert "(did you mean jed" in message("JED")
    assert "(did you mean switches, switch?)" in message("nyc,switchs")


def test_no_limit_and_configs_without_inventory() -> None:
    check_limit(None, None)
    check_limit("", None)
    check_limit("sw1", None, ["sw1", "sw2"])
    with pytest.raises(LimitError, match="names no device"):
        check_limit(" , ", None, ["sw1"])
    with pytest.raises(LimitError, match=r"'sw9' matches no device .*; without an inventory"):
        check_limit("sw9", None, ["sw1", "sw2"])


@pytest.mark.parametrize("command", ["render", "plan", "apply", "backup", "drift", "audit"])
@pytest.mark.parametrize("limit", ["nyx", "nyc-acc-sw1,nyc-acc-sw3", "nyc,switchs"])
def test_every_command_exits_2_naming_the_term(
    example_inventory: Path, tmp_path: Path, command: str, limit: str
) -> None:
    """Nothing is rendered, read or contacted: the check comes first."""
    args = [command, "-i", str(example_inventory), "--limit", limit]
    if command in ("render", "audit"):
        args += ["--out", str(tmp_path / "out")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == EXIT_USAGE, result.output
    [term] = BAD[limit]
    assert f"error: --limit {limit!r}: {term!r} matches no device, site or group" in result.output
    assert not (tmp_path / "out").exists()
