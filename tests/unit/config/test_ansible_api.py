"""The one-host API of the Ansible plugins: options default to the play's host and inventory."""

from __future__ import annotations

from pathlib import Path

import pytest

from netwarden.config.ansible_api import host_from_params, lookup_per_device
from netwarden.errors import NetwardenError
from netwarden.inventory import Device


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


def test_a_firewall_takes_its_ruleset_and_the_roles_toggles(example_inventory: Path) -> None:
    host = host_from_params({}, play_vars(example_inventory, "bru-fw1"))
    assert host.intended.startswith("#!/usr/sbin/nft -f\n")
    assert "table inet netwarden {" in host.intended
    assert "log prefix" in host.intended
    quiet = host_from_params(
        {"render_vars": {"nftables_firewall_log_drops_enabled": False}},
        play_vars(example_inventory, "bru-fw1"),
    )
    assert "log prefix" not in quiet.intended


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("bru-srv1", "linux server .*manages ios devices and nftables firewalls"),
        ("no-such-sw9", "not a device of the inventory"),
    ],
    ids=["server", "unknown"],
)
def test_a_host_netwarden_does_not_render_and_apply_is_refused(
    example_inventory: Path, host: str, message: str
) -> None:
    with pytest.raises(NetwardenError, match=message):
        host_from_params({}, play_vars(example_inventory, host))


def test_no_inventory_is_an_error() -> None:
    with pytest.raises(NetwardenError, match="no device or inventory"):
        host_from_params({}, {"inventory_hostname": "gva-acc-sw1"})


def test_a_role_lookup_maps_each_named_device_and_names_what_it_cannot_serve(
    example_inventory: Path,
) -> None:
    from ansible.errors import AnsibleLookupError  # only this test needs Ansible

    def site(_inv: object, device: Device) -> str:
        if device.platform != "ios":
            raise ValueError(f"{device.name} is not a switch")
        return device.site

    assert lookup_per_device(str(example_inventory), [["gva-acc-sw1"], "nyc-acc-sw2"], site) == [
        {"gva-acc-sw1": "gva", "nyc-acc-sw2": "nyc"}
    ]
    with pytest.raises(AnsibleLookupError, match="bru-srv1 is not a switch"):
        lookup_per_device(str(example_inventory), ["gva-acc-sw1", "bru-srv1"], site)
    with pytest.raises(AnsibleLookupError, match="no-such-sw9 is not a device of the inventory"):
        lookup_per_device(str(example_inventory), ["no-such-sw9"], site)
