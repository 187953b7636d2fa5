"""netwarden.render.linux_server: the values the linux_server role renders, from the inventory."""

from __future__ import annotations

from pathlib import Path

import pytest

from netwarden.inventory import load_inventory
from netwarden.inventory.models import Inventory
from netwarden.render.linux_server import linux_server_context


@pytest.fixture(scope="module")
def inv(example_inventory: Path) -> Inventory:
    return load_inventory(example_inventory)


def test_a_field_server_uses_hq_ntp_and_the_log_server(inv: Inventory) -> None:
    ctx = linux_server_context(inv, inv.devices["bru-srv1"])
    ntp = tuple(str(inv.devices[h].service_address()) for h in inv.policy.ntp.servers)
    assert ctx.ntp_servers == ntp
    assert ctx.log_host == str(inv.devices["jed-log1"].service_address())
    assert ctx.log_host_name == f"jed-log1.{inv.org.domain}"
    assert not ctx.serves_ntp
    assert not ctx.is_log_host
    assert not ctx.hq
    assert set(ctx.site_networks) == {str(z.subnet) for z in inv.sites["bru"].zones.values()}


def test_an_ntp_server_leaves_itself_out_and_serves_every_site(inv: Inventory) -> None:
    ctx = linux_server_context(inv, inv.devices["jed-ntp1"])
    assert ctx.serves_ntp
    assert ctx.ntp_servers == (str(inv.devices["jed-ntp2"].service_address()),)
    every = {str(z.subnet) for s in inv.sites.values() for z in s.zones.values()}
    assert set(ctx.site_networks) == every


def test_the_log_server_forwards_nowhere(inv: Inventory) -> None:
    ctx = linux_server_context(inv, inv.devices["jed-log1"])
    assert ctx.is_log_host
    assert ctx.log_host is None
    data = ctx.template_data()
    assert data["log_host"] is None
    assert isinstance(data["ntp_servers"], list)


def test_a_switch_is_refused_with_where_its_platform_is_set(inv: Inventory) -> None:
    with pytest.raises(ValueError, match=r"nyc-acc-sw1: the linux_server role renders Linux hosts"):
        linux_server_context(inv, inv.devices["nyc-acc-sw1"])
