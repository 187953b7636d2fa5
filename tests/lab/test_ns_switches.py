"""A site's simulated switches in a namespace of their own, each answering SSH on its address:22.

Root only (skips otherwise). ``nwb<pid>f`` stands for a site's fabric: a bridge
``br-mgmt`` holding the two Geneva switches' management addresses (from the example
inventory); ``nwb<pid>m`` is a management host on a veth into that bridge. The test
logs in from there with paramiko, host keys checked against the returned lines.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from netwarden.lab.ns.nsproc import ns_connect
from netwarden.lab.ns.switches import StartedSwitches, start_site_switches
from tests.lab.nsparts import Namespaces, Records, ip, namespaces, require_root

pytestmark = pytest.mark.lab

GVA_SWITCHES = {"gva-acc-sw1": "10.12.10.21", "gva-acc-sw2": "10.12.10.22"}


@pytest.fixture
def fabric(
    example_inventory: Path, tmp_path: Path
) -> Iterator[tuple[Namespaces, str, str, StartedSwitches]]:
    require_root()
    with namespaces() as made:
        fab, mgmt = made.add("f"), made.add("m")
        ip("-n", fab, "link", "add", "br-mgmt", "type", "bridge")
        ip("-n", fab, "link", "set", "br-mgmt", "up")
        for address in GVA_SWITCHES.values():
            made.addr(fab, f"{address}/24", "br-mgmt")
        made.veth(fab, "p-mgmt", mgmt, "mgmt0")
        ip("-n", fab, "link", "set", "p-mgmt", "master", "br-mgmt")
        made.addr(mgmt, "10.12.10.250/24", "mgmt0")
        records = Records()
        started = start_site_switches(
            netns=fab, inventory=example_inventory, site="gva", lab_dir=tmp_path,
            record=records,
        )  # fmt: skip
        try:
            assert ("pid", started.pid_ident) in records
            yield made, fab, mgmt, started
        finally:
            assert started.process is not None
            started.process.terminate()
            started.process.wait(15)


def test_each_switch_answers_ssh_on_its_address(
    fabric: tuple[Namespaces, str, str, StartedSwitches], tmp_path: Path
) -> None:
    _, _, mgmt, started = fabric
    assert (
        dict(zip(started.devices, (str(a) for a in started.addresses), strict=True)) == GVA_SWITCHES
    )
    assert sorted(line.split()[0] for line in started.known_hosts) == sorted(GVA_SWITCHES.values())
    known_hosts = tmp_path / "known_hosts.txt"
    known_hosts.write_text("\n".join(started.known_hosts) + "\n")
    for name, address in GVA_SWITCHES.items():
        client = paramiko.SSHClient()
        client.load_host_keys(str(known_hosts))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        client.connect(
            address, username=started.credentials.username, password=started.credentials.password,
            sock=ns_connect(mgmt, address, 22, 5.0),  # type: ignore[arg-type]
            look_for_keys=False, allow_agent=False, timeout=10,
        )  # fmt: skip
        try:
            _, out, _ = client.exec_command("show version | include uptime", timeout=10)
            assert out.read().decode().split()[:3] == [name, "uptime", "is"]
        finally:
            client.close()


def test_the_login_is_shared_and_private(
    fabric: tuple[Namespaces, str, str, StartedSwitches], tmp_path: Path
) -> None:
    _, _, _, started = fabric
    for path in (tmp_path / "switches/credentials.json", tmp_path / "switches/gva/specs.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert started.credentials.password in path.read_text()
    assert started.credentials.password not in repr(started)


def test_a_wrong_host_key_is_refused(
    fabric: tuple[Namespaces, str, str, StartedSwitches], tmp_path: Path
) -> None:
    _, _, mgmt, started = fabric
    sw1, sw2 = started.known_hosts[0].split(), started.known_hosts[1].split()
    known_hosts = tmp_path / "swapped.txt"
    known_hosts.write_text(f"{sw1[0]} {sw2[1]} {sw2[2]}\n")  # sw2's key for sw1's address
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    with pytest.raises(paramiko.BadHostKeyException):
        client.connect(
            sw1[0], username=started.credentials.username, password=started.credentials.password,
            sock=ns_connect(mgmt, sw1[0], 22, 5.0),  # type: ignore[arg-type]
            look_for_keys=False, allow_agent=False, timeout=10,
        )  # fmt: skip
    client.close()
