"""The one-host API of the Ansible plugins: options default to the play's host and inventory."""

from __future__ import annotations

from pathlib import Path

import pytest

from netwarden.config.ansible_api import host_from_params
from netwarden.errors import NetwardenError


def play_vars(inventory: Path, host: str) -> dict[str, object]:
    return {"inventory_hostname": host, "ansible_inventory_sources": [str(inventory)]}


def test_defaults_come_from_the_play(example_inventory: Path) -> None:
    host = host_from_params({"timeout": 12.0}, play_vars(example_inventory, "gva-acc-sw1"))
    assert host.device.name == "gva-acc-sw1"
    assert host.options.timeout == 12.0
    assert host.options.conn_timeout == 10.0
    assert not host.options.trust_on_first_use
    assert "hostname gva-acc-sw1\n" in host.intended


def test_options_win_over_the_play(example_inventory: Path, tmp_path: Path) -> None:
    params = {
        "device": "nyc-acc-sw2",
        "inventory": str(example_inventory),
        "known_hosts": str(tmp_path / "kh"),
        "trust_on_first_use": True,
    }
    host = host_from_params(params, play_vars(Path("/nonexistent"), "gva-acc-sw1"))
    assert host.device.name == "nyc-acc-sw2"
    assert host.options.known_hosts == tmp_path / "kh"
    assert host.options.trust_on_first_use


@pytest.mark.parametrize(
    ("host", "message"),
    [("bru-fw1", "'linux' device"), ("no-such-sw9", "not a device of the inventory")],
    ids=["not-ios", "unknown"],
)
def test_a_host_that_is_not_an_ios_device_is_refused(
    example_inventory: Path, host: str, message: str
) -> None:
    with pytest.raises(NetwardenError, match=message):
        host_from_params({}, play_vars(example_inventory, host))


def test_no_inventory_is_an_error() -> None:
    with pytest.raises(NetwardenError, match="no device or inventory"):
        host_from_params({}, {"inventory_hostname": "gva-acc-sw1"})
