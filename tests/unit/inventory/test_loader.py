"""Loading through Ansible: the example inventory, vault handling, origins."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from netwarden.errors import InventoryError, InventoryInvalidError, VaultError
from netwarden.inventory import load_inventory, read_inventory
from netwarden.inventory.models import Function, Platform, SiteRole


def test_example_inventory_is_clean_and_complete(example_inventory: Path) -> None:
    inv = load_inventory(example_inventory)
    assert inv.hq().name == "jed"
    field = [s for s in inv.sites.values() if s.role is SiteRole.FIELD]
    assert {s.name for s in field} >= {"nyc", "gva", "bru", "kbl"}
    for site in field:
        devs = inv.devices_at(site.name)
        assert any(d.function is Function.FIREWALL for d in devs)
        assert any(d.function is Function.SWITCH and d.platform is Platform.IOS for d in devs)
        assert any(d.function is Function.SENSOR for d in devs)
        assert set(site.zones) == {"mgmt", "servers", "staff", "guests", "voice"}
    assert {"dmz", "partners"} <= set(inv.hq().zones)
    hq_servers = {p for d in inv.devices_at("jed") for p in d.provides}
    assert {"tacacs", "syslog", "ntp", "dns", "smb"} <= hq_servers
    # Secrets come out of the vault, and never print.
    assert inv.policy.aaa.tacacs_key.get_secret_value()
    assert "tacacs_key=SecretStr('**********')" in repr(inv.policy.aaa)
    assert {"ar", "en", "fr"} == set(inv.policy.banners.model_dump())


def test_device_sources_point_at_host_vars(example_inventory: Path) -> None:
    inv = load_inventory(example_inventory)
    dev = inv.devices["nyc-acc-sw1"]
    assert dev.src.file.endswith("host_vars/nyc-acc-sw1.yml")
    assert dev.interfaces[0].src.line > 0


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="does not exist"):
        read_inventory(tmp_path / "nope")


def test_wrong_vault_password_names_the_fix(example_inventory: Path, tmp_path: Path) -> None:
    wrong = tmp_path / "pw"
    wrong.write_text("not-the-password\n")
    with pytest.raises(VaultError, match="cannot open the vault: Decryption failed") as err:
        read_inventory(example_inventory, wrong)
    # the hint names the file that was given, and does not ask for one (issue 11 point 15)
    assert f"the password in {wrong} (given with --vault-password-file) does not open" in str(
        err.value
    )
    assert "give it with" not in str(err.value)


def test_wrong_vault_password_from_environment_names_the_variable(
    example_inventory: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "inv"
    shutil.copytree(example_inventory, copy)
    (copy / ".vault-password").unlink()
    wrong = tmp_path / "pw"
    wrong.write_text("not-the-password\n")
    monkeypatch.setenv("NETWARDEN_VAULT_PASSWORD_FILE", str(wrong))
    with pytest.raises(VaultError, match="given with NETWARDEN_VAULT_PASSWORD_FILE"):
        read_inventory(copy)


def test_no_vault_password(example_inventory: Path, tmp_path: Path) -> None:
    copy = tmp_path / "inv"
    shutil.copytree(example_inventory, copy)
    (copy / ".vault-password").unlink()
    with pytest.raises(VaultError, match="--vault-password-file"):
        read_inventory(copy)


def test_vault_password_from_environment(
    example_inventory: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "inv"
    shutil.copytree(example_inventory, copy)
    pw = tmp_path / "elsewhere"
    (copy / ".vault-password").rename(pw)
    monkeypatch.setenv("NETWARDEN_VAULT_PASSWORD_FILE", str(pw))
    assert load_inventory(copy).devices


def test_load_raises_with_every_problem(inventory_copy: Path) -> None:
    site1 = inventory_copy / "group_vars" / "site_fo001.yml"
    site1.write_text(site1.read_text().replace("vlan: 40", "vlan: 30"))
    site2 = inventory_copy / "group_vars" / "site_fo002.yml"
    site2.write_text(site2.read_text().replace("10.12.10.0/24", "10.12.10.0/33"))
    with pytest.raises(InventoryInvalidError) as info:
        load_inventory(inventory_copy)
    messages = "\n".join(map(str, info.value.problems))
    assert "VLAN 30 of site fo001" in messages
    assert "10.12.10.0/33" in messages
    # fo002's devices are not each reported as siteless: the site's own problem says it.
    assert "has no site definition" not in messages


def test_unparsable_hosts_file_is_reported(inventory_copy: Path) -> None:
    (inventory_copy / "extra.yml").write_text("all:\n  hosts: [oops\n")
    _, problems = read_inventory(inventory_copy)
    assert any(p.file.endswith("extra.yml") and "could not parse" in p.message for p in problems)


def test_connection_variables(inventory_copy: Path) -> None:
    """ansible_host/port/user/password (vault references too) become the device's connection."""
    (inventory_copy / "group_vars" / "all" / "connection.yml").write_text(
        "ansible_user: netops\nansible_password: '{{ vault_local_admin_secret }}'\n"
    )
    hv = inventory_copy / "host_vars" / "fo001-acc-sw1.yml"
    hv.write_text(hv.read_text() + "ansible_host: 127.0.0.5\nansible_port: 2222\n")
    inv = load_inventory(inventory_copy)
    conn = inv.devices["fo001-acc-sw1"].connection
    assert conn is not None
    assert (conn.host, conn.port, conn.username) == ("127.0.0.5", 2222, "netops")
    assert conn.password is not None
    assert conn.password.get_secret_value() == inv.policy.local_users[0].secret.get_secret_value()
    other = inv.devices["fo001-fw1"].connection
    assert other is not None
    assert other.host == str(inv.devices["fo001-fw1"].mgmt_address)
    assert other.port == 22


def test_connection_with_undefined_secret_is_reported(inventory_copy: Path) -> None:
    (inventory_copy / "group_vars" / "all" / "connection.yml").write_text(
        "ansible_password: '{{ vault_netops_password }}'\n"
    )
    _, problems = read_inventory(inventory_copy)
    hits = [
        p
        for p in problems
        if p.key.endswith(".ansible_password")
        and "vault_netops_password is not defined" in p.message
        and p.file.endswith("group_vars/all/connection.yml")
    ]
    assert len(hits) == 1, problems  # once for the group variable, not once per host


def test_an_overlong_description_is_refused_and_quoted_short(inventory_copy: Path) -> None:
    """IOS takes at most 240 characters of description; a huge value is named with file:line,
    and quoted cut short (a 300,000-character value must not flood the terminal)."""
    hv = inventory_copy / "host_vars" / "fo001-acc-sw1.yml"
    text = hv.read_text()
    first = next(ln for ln in text.splitlines() if ln.lstrip().startswith("description:"))
    hv.write_text(text.replace(first, first.split(":")[0] + ": " + "A" * 300_000, 1))
    line = text.splitlines().index(first) + 1
    _inv, problems = read_inventory(inventory_copy)
    (problem,) = problems
    message = str(problem)
    assert f"host_vars/fo001-acc-sw1.yml:{line}" in message
    assert "at most 240 characters" in message
    assert "(300002 characters)" in message
    assert len(message) < 400
