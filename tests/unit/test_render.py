"""Intended configs: golden files per device role, hier_config round-trips, secrets, banners.

Golden files (``tests/data/golden/<device>.cfg``) are rendered from a generated
inventory (HQ + fo001) whose random vault is replaced by :data:`TEST_VAULT`,
fixed test-only secrets re-encrypted with the generated password. The golden
files are therefore exact, hashes included: a change to the type 9, type 7 or
SNMPv3 key derivation shows up as a golden diff instead of being masked.
Regenerate them with ``UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_render.py``
and review the diff.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from pathlib import Path

import pytest
import yaml
from hier_config import Platform as HPlatform
from hier_config import WorkflowRemediation, get_hconfig
from typer.testing import CliRunner

from netwarden.cli.app import EXIT_OK, EXIT_USAGE, app
from netwarden.errors import RenderError
from netwarden.inventory import Inventory, load_inventory
from netwarden.inventory.generate import generate
from netwarden.inventory.models import InterfaceMode, Platform
from netwarden.ios import secrets as ios_secrets
from netwarden.render import (
    ios_clock,
    render_all,
    render_device,
    role_defaults,
    select_devices,
)

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
GOLDEN_DEVICES = {
    "core-switch": "jed-core-sw1",
    "hq-access-switch": "jed-acc-sw1",
    "field-access-switch": "fo001-acc-sw1",
}
TEST_VAULT = {
    "vault_ntp_auth_key": "test-ntp-key-0001",
    "vault_tacacs_key": "test-tacacs-key-0001",
    "vault_enable_secret": "test-enable-secret-0001",
    "vault_local_admin_secret": "test-admin-secret-0001",
    "vault_snmp_auth_pass": "test-snmp-auth-0001",
    "vault_snmp_priv_pass": "test-snmp-priv-0001",
}
ARABIC = re.compile(r"[\u0600-\u06FF]{3,}")


@pytest.fixture(scope="module")
def small_inventory(tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    """HQ + fo001, generated, with the fixed :data:`TEST_VAULT` instead of random secrets."""
    from ansible.parsing.vault import VaultLib, VaultSecret

    out = tmp_path_factory.mktemp("render") / "inventory"
    generate(out, sites=1)
    password = (out / ".vault-password").read_bytes().strip()
    vault = VaultLib([("default", VaultSecret(password))])
    (out / "group_vars" / "all" / "vault.yml").write_bytes(
        vault.encrypt(yaml.safe_dump(TEST_VAULT, sort_keys=True))
    )
    return load_inventory(out)


@pytest.fixture(scope="module")
def example(example_inventory: Path) -> Inventory:
    return load_inventory(example_inventory)


@pytest.fixture(scope="module")
def example_configs(example: Inventory) -> dict[str, str]:
    return render_all(example)


def _secrets(inv: Inventory) -> list[str]:
    p = inv.policy
    values = [p.ntp.auth_key, p.aaa.tacacs_key, p.enable_secret]
    values += [u.secret for u in p.local_users]
    for user in p.snmpv3.users:
        values += [user.auth_pass, user.priv_pass]
    return [v.get_secret_value() for v in values]


def _type7_decode(encoded: str) -> str:
    xlat = "dsfd;kfoA,.iyewrkldJKDHSUBsgvca69834ncxv9873254k;fg87"
    seed = int(encoded[:2])
    pairs = [int(encoded[i : i + 2], 16) for i in range(2, len(encoded), 2)]
    return "".join(chr(v ^ ord(xlat[(seed + i) % len(xlat)])) for i, v in enumerate(pairs))


# ---------------------------------------------------------------- golden files


@pytest.mark.parametrize("device", GOLDEN_DEVICES.values(), ids=GOLDEN_DEVICES.keys())
def test_golden(small_inventory: Inventory, device: str) -> None:
    rendered = render_device(small_inventory, small_inventory.devices[device])
    golden = GOLDEN / f"{device}.cfg"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(rendered, encoding="utf-8")
    assert golden.is_file(), f"{golden} is missing; run with UPDATE_GOLDEN=1 to create it"
    assert rendered == golden.read_text(encoding="utf-8"), (
        f"{device} differs from {golden}; if intended, regenerate with UPDATE_GOLDEN=1"
    )


def test_golden_uses_the_test_vault(small_inventory: Inventory) -> None:
    text = (GOLDEN / "jed-acc-sw1.cfg").read_text(encoding="utf-8")
    salt = ios_secrets.derive_salt("jed-acc-sw1", "enable")
    expected = ios_secrets.type9(TEST_VAULT["vault_enable_secret"], salt)
    assert f"enable secret {expected}\n" in text


# ------------------------------------------------------------ hier_config


def test_every_example_config_parses_and_round_trips(example_configs: dict[str, str]) -> None:
    assert len(example_configs) == 10  # the example's ios switches, nothing else
    minimal = get_hconfig(HPlatform.CISCO_IOS, "hostname Switch\ninterface Vlan1\n shutdown\n")
    for name, text in example_configs.items():
        intended = get_hconfig(HPlatform.CISCO_IOS, text)
        lines = [c.cisco_style_text() for c in intended.all_children_sorted()]
        assert f"hostname {name}" in lines
        assert len(lines) > 100, name
        # intended vs itself: nothing to do
        assert not list(WorkflowRemediation(intended, intended).remediation_config.children)
        # from a minimal running config: commands, and running + remediation == intended
        remediation = WorkflowRemediation(minimal, intended).remediation_config
        commands = remediation.dump_simple()
        assert f"hostname {name}" in commands
        assert "aaa new-model" in commands
        future = minimal.future(remediation)
        assert not list(WorkflowRemediation(future, intended).remediation_config.children), name
        # and hier_config can take us back
        rollback = WorkflowRemediation(minimal, intended).rollback_config
        assert "hostname Switch" in rollback.dump_simple()


def test_banner_is_one_hier_config_line(example_configs: dict[str, str]) -> None:
    intended = get_hconfig(HPlatform.CISCO_IOS, example_configs["gva-acc-sw1"])
    banners = [c.text for c in intended.children if c.text.startswith("banner ")]
    assert len(banners) == 2
    assert banners[0].startswith("banner login ^C\n")
    assert banners[0].endswith("\n^C")


# ------------------------------------------------------------ security content


def test_no_vault_secret_in_clear_text(example: Inventory, example_configs: dict[str, str]) -> None:
    secrets = _secrets(example)
    assert all(len(s) >= 8 for s in secrets)
    for name, text in example_configs.items():
        for secret in secrets:
            assert secret not in text, f"a vault secret appears in clear text in {name}"
            assert base64.b64encode(secret.encode()).decode() not in text


def test_secrets_are_the_vaults(small_inventory: Inventory) -> None:
    """The hashes and keys in the config are derived from the vault's values, not placeholders."""
    text = render_device(small_inventory, small_inventory.devices["fo001-acc-sw1"])
    m = re.search(r"^enable secret 9 \$9\$(?P<salt>[^$]{14})\$(?P<hash>\S+)$", text, re.M)
    assert m is not None
    raw = hashlib.scrypt(
        TEST_VAULT["vault_enable_secret"].encode(), salt=m["salt"].encode(), n=16384, r=1, p=1
    )
    assert ios_secrets.cisco_b64(raw[:32]) == m["hash"]
    m = re.search(r"^username netwarden privilege 15 secret 9 \$9\$", text, re.M)
    assert m is not None
    key7 = re.search(r"^ key 7 (\S+)$", text, re.M)
    assert key7 is not None
    assert _type7_decode(key7[1]) == TEST_VAULT["vault_tacacs_key"]
    ntp = re.search(r"^ntp authentication-key 10 hmac-sha2-256 (\S+) 7$", text, re.M)
    assert ntp is not None
    assert _type7_decode(ntp[1]) == TEST_VAULT["vault_ntp_auth_key"]
    engine = re.search(r"^snmp-server engineID local (\S+)$", text, re.M)
    assert engine is not None
    auth = ios_secrets.snmp_localized_key(
        TEST_VAULT["vault_snmp_auth_pass"], bytes.fromhex(engine[1]), "sha"
    )
    assert f"auth sha {ios_secrets.colon_hex(auth)} priv aes 128 " in text


def test_renders_are_reproducible_and_salts_per_device(small_inventory: Inventory) -> None:
    a1 = render_device(small_inventory, small_inventory.devices["fo001-acc-sw1"])
    a2 = render_device(small_inventory, small_inventory.devices["fo001-acc-sw1"])
    b = render_device(small_inventory, small_inventory.devices["fo001-acc-sw2"])
    assert a1 == a2

    def secret_line(text: str) -> str:
        return next(line for line in text.splitlines() if line.startswith("enable secret"))

    assert secret_line(a1) != secret_line(b)


def test_banners_in_three_languages(example: Inventory, example_configs: dict[str, str]) -> None:
    for name, text in example_configs.items():
        login = text.split("banner login ^C\n", 1)[1].split("\n^C\n", 1)[0]
        assert ARABIC.search(login), name
        assert example.policy.banners.ar in login
        assert "WARNING: This system is for authorised use only" in login
        assert "AVERTISSEMENT" in login
        assert "réservé" in login
        assert "^" not in login


def test_banner_with_delimiter_is_refused(example: Inventory) -> None:
    banners = example.policy.banners.model_copy(update={"en": "press ^C to leave"})
    inv = example.model_copy(
        update={"policy": example.policy.model_copy(update={"banners": banners})}
    )
    with pytest.raises(RenderError, match=r"policy\.banners\.en contains '\^'"):
        render_device(inv, inv.devices["gva-acc-sw1"])


def test_access_ports_follow_their_zone(
    example: Inventory, example_configs: dict[str, str]
) -> None:
    seen_guests = 0
    for name, text in example_configs.items():
        device = example.devices[name]
        site = example.site_of(device)
        parsed = get_hconfig(HPlatform.CISCO_IOS, text)
        for iface in device.interfaces:
            node = parsed.get_child(equals=f"interface {iface.name}")
            assert node is not None, (name, iface.name)
            children = {c.text for c in node.children}
            if iface.mode is InterfaceMode.ACCESS:
                assert iface.zone is not None
                vlan = site.zones[iface.zone].vlan
                assert f"switchport access vlan {vlan}" in children, (name, iface.name)
                assert {
                    "switchport mode access",
                    "switchport port-security",
                    "spanning-tree bpduguard enable",
                    "storm-control broadcast level 1.00",
                    "no cdp enable",
                } <= children
                assert ("shutdown" in children) is iface.shutdown
                seen_guests += iface.zone == "guests"
                if iface.zone == "guests":
                    assert vlan == site.zones["guests"].vlan != site.zones["staff"].vlan
            elif iface.mode is InterfaceMode.TRUNK:
                assert {
                    "switchport mode trunk",
                    "ip dhcp snooping trust",
                    "ip arp inspection trust",
                } <= children
                assert "no cdp enable" not in children
    assert seen_guests >= 8


def test_user_vlans_snooped_and_inspected(
    example: Inventory, example_configs: dict[str, str]
) -> None:
    site = example.sites["gva"]
    users = ",".join(str(site.zones[z].vlan) for z in ("staff", "guests", "voice"))
    text = example_configs["gva-acc-sw1"]
    assert f"\nip dhcp snooping vlan {users}\n" in text
    assert f"\nip arp inspection vlan {users}\n" in text
    assert "\nip dhcp snooping\n" in text


def test_management_plane(example: Inventory, example_configs: dict[str, str]) -> None:
    hq_mgmt = example.hq().zones["mgmt"].subnet
    aaa = example.resolve("jed-aaa1")
    for name, text in example_configs.items():
        site = example.site_of(example.devices[name])
        parsed = get_hconfig(HPlatform.CISCO_IOS, text)
        top = {c.text for c in parsed.children}
        assert {
            "aaa new-model",
            "aaa authentication login default group tacacs+ local",
            "ip ssh version 2",
            "service password-encryption",
            "no ip http server",
            "no ip http secure-server",
            "login on-failure log",
            "login on-success log",
            "ntp authenticate",
            "ntp trusted-key 10",
            "logging source-interface Vlan10",
            "service timestamps log datetime msec localtime show-timezone",
            f"ip default-gateway {site.zones['mgmt'].gateway}",
        } <= top, name
        assert not any("community" in line for line in top)
        assert not any(re.match(r"snmp-server group \S+ v3 (auth|noauth)\b", t) for t in top)
        acl = parsed.get_child(equals="ip access-list standard NW-MGMT-ACCESS")
        assert acl is not None
        assert [c.text for c in acl.children] == [
            f"10 permit {hq_mgmt.network_address} {hq_mgmt.hostmask}",
            "20 deny any log",
        ]
        tacacs = parsed.get_child(equals="tacacs server jed-aaa1")
        assert tacacs is not None
        assert tacacs.get_child(equals=f"address ipv4 {aaa}") is not None
        archive = parsed.get_child(equals="archive")
        assert archive is not None
        assert {c.text for c in archive.children} >= {"path flash:archive", "write-memory"}
        for vty in ("line vty 0 4", "line vty 5 15"):
            line = parsed.get_child(equals=vty)
            assert line is not None
            assert {c.text for c in line.children} >= {
                "transport input ssh",
                "access-class NW-MGMT-ACCESS in",
                "exec-timeout 10 0",
            }
        for ntp in ("jed-ntp1", "jed-ntp2"):
            assert f"ntp server {example.resolve(ntp)} key 10" in top


def test_clock_from_the_site(example_configs: dict[str, str]) -> None:
    assert "\nclock timezone JED 3 0\n" in example_configs["jed-acc-sw1"]
    assert "clock summer-time" not in example_configs["jed-acc-sw1"]
    assert "\nclock timezone EST -5 0\n" in example_configs["nyc-acc-sw1"]
    assert (
        "\nclock summer-time EDT recurring 2 Sun Mar 2:00 1 Sun Nov 2:00\n"
        in example_configs["nyc-acc-sw1"]
    )
    assert "\nclock timezone KBL 4 30\n" in example_configs["kbl-acc-sw1"]
    assert ios_clock("Europe/Brussels", "BRU")["zone"] == "CET"


def test_trunks_carry_only_what_the_peer_needs(example_configs: dict[str, str]) -> None:
    core = get_hconfig(HPlatform.CISCO_IOS, example_configs["jed-core-sw1"])
    to_fw = core.get_child(equals="interface TenGigabitEthernet1/0/1")
    to_acc = core.get_child(equals="interface TenGigabitEthernet1/0/2")
    assert to_fw is not None
    assert to_acc is not None
    assert to_fw.get_child(equals="switchport trunk allowed vlan 10,20,30,40,50,60,70")
    assert to_acc.get_child(equals="switchport trunk allowed vlan 10,20,30,40,50")


# ------------------------------------------------------------ selection, toggles


def test_select_devices(example: Inventory) -> None:
    assert [d.name for d in select_devices(example, "gva")] == ["gva-acc-sw1", "gva-acc-sw2"]
    assert [d.name for d in select_devices(example, "site_bru")] == ["bru-acc-sw1"]
    assert len(select_devices(example, "hq")) == 4
    assert len(select_devices(example, "field_offices")) == 6
    assert [d.name for d in select_devices(example, "*core*")] == ["jed-core-sw1", "jed-core-sw2"]
    assert select_devices(example, "jed-fw1") == []  # linux: not rendered here
    assert all(d.platform is Platform.IOS for d in select_devices(example, "switches"))
    assert len(select_devices(example, "kbl-acc-sw1,nyc-*")) == 3


def test_toggle_and_unknown_option(example: Inventory) -> None:
    device = example.devices["bru-acc-sw1"]
    assert role_defaults()["ios_baseline_snmp_enabled"] is True
    text = render_device(example, device, {"ios_baseline_snmp_enabled": False})
    assert "snmp-server" not in text
    with pytest.raises(RenderError, match="ios_baseline_snmp_enabeld"):
        render_device(example, device, {"ios_baseline_snmp_enabeld": False})


def test_non_ios_device_is_refused(example: Inventory) -> None:
    with pytest.raises(RenderError, match="jed-fw1: platform 'linux'"):
        render_device(example, example.devices["jed-fw1"])


# ------------------------------------------------------------ CLI


def test_cli_render_writes_the_same_configs(
    example_inventory: Path, example_configs: dict[str, str], tmp_path: Path
) -> None:
    runner = CliRunner()
    out = tmp_path / "configs"
    result = runner.invoke(
        app, ["render", "-i", str(example_inventory), "--out", str(out), "--limit", "jed", "--json"]
    )
    assert result.exit_code == EXIT_OK, result.output
    report = json.loads(result.stdout)
    names = [r["device"] for r in report["configs"]]
    assert names == ["jed-acc-sw1", "jed-acc-sw2", "jed-core-sw1", "jed-core-sw2", "jed-fw1"]
    assert (out / "jed-fw1.nft").is_file()
    for name in names[:-1]:
        assert (out / f"{name}.cfg").read_text(encoding="utf-8") == example_configs[name]
    bad = runner.invoke(
        app, ["render", "-i", str(example_inventory), "--out", str(out), "-l", "x*"]
    )
    assert bad.exit_code == EXIT_USAGE
    assert "--limit 'x*': 'x*' matches no device, site or group" in bad.output


# --- the render-time guard (issue 10.1): values that slipped past the models are refused ---

INJECTED = "username evil privilege 15 secret 0 Pwn3d"


def _with_device(inv: Inventory, device_name: str, **update: object) -> Inventory:
    """``inv`` with one device changed WITHOUT validation (model_copy), as if the models let it through."""
    device = inv.devices[device_name].model_copy(update=update)
    return inv.model_copy(update={"devices": {**inv.devices, device_name: device}})


@pytest.mark.parametrize(
    ("update", "variable"),
    [
        ({"model": f"C9200L\n{INJECTED}\n!"}, "ios_baseline_device.model"),
        ({"role": f"access\u2028{INJECTED}"}, "ios_baseline_device.role"),
        ({"model": "C9200L\x1b[2J"}, "ios_baseline_device.model"),
        ({"name": "gva-acc-sw1^C"}, "ios_baseline_device.hostname"),
    ],
    ids=["line-feed", "line-separator", "escape", "banner-delimiter-in-hostname"],
)
def test_render_refuses_unvalidated_control_characters(
    example: Inventory, update: dict[str, object], variable: str
) -> None:
    inv = _with_device(example, "gva-acc-sw1", **update)
    with pytest.raises(
        RenderError, match=rf"^gva-acc-sw1\S*: template variable {re.escape(variable)} "
    ):
        render_device(inv, inv.devices["gva-acc-sw1"])


def test_render_refuses_an_unvalidated_interface_description(example: Inventory) -> None:
    device = example.devices["gva-acc-sw1"]
    ifaces = list(device.interfaces)
    ifaces[0] = ifaces[0].model_copy(update={"description": f"desk\n{INJECTED}"})
    inv = _with_device(example, "gva-acc-sw1", interfaces=tuple(ifaces))
    with pytest.raises(
        RenderError,
        match=r"gva-acc-sw1: template variable ios_baseline_device\.interfaces\.access\[0\]\.description contains a line feed",
    ):
        render_device(inv, inv.devices["gva-acc-sw1"])


def test_render_refuses_an_unvalidated_city_in_the_motd_banner(example: Inventory) -> None:
    site = example.sites["gva"].model_copy(update={"city": "Geneva ^ x"})
    inv = example.model_copy(update={"sites": {**example.sites, "gva": site}})
    with pytest.raises(RenderError, match=r"ios_baseline_device\.site\.city contains '\^'"):
        render_device(inv, inv.devices["gva-acc-sw1"])


def test_multiline_banner_still_renders(example: Inventory) -> None:
    banners = example.policy.banners.model_copy(update={"en": "WARNING:\nauthorised use only"})
    inv = example.model_copy(
        update={"policy": example.policy.model_copy(update={"banners": banners})}
    )
    text = render_device(inv, inv.devices["gva-acc-sw1"])
    assert "\nWARNING:\nauthorised use only\n" in text


def test_role_options_are_checked(example: Inventory) -> None:
    with pytest.raises(
        RenderError, match=r"gva-acc-sw1: template variable ios_baseline_archive_path contains"
    ):
        render_device(
            example,
            example.devices["gva-acc-sw1"],
            {"ios_baseline_archive_path": f"flash:archive\n{INJECTED}"},
        )


def test_finalize_refuses_what_the_variable_check_missed(
    example: Inventory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Second layer: with the variable check switched off, Jinja's finalize hook still refuses."""
    import netwarden.render as render_mod

    monkeypatch.setattr(render_mod, "check_template_vars", lambda *_a, **_k: None)
    inv = _with_device(example, "gva-acc-sw1", model=f"C9200L\n{INJECTED}")
    with pytest.raises(
        RenderError,
        match=r"^gva-acc-sw1: ios_baseline\.j2:8: an expression would print a value that contains a line feed",
    ):
        render_device(inv, inv.devices["gva-acc-sw1"])


def test_render_refuses_an_unvalidated_overlong_value(example: Inventory) -> None:
    """A one-line value longer than a device command can carry (IOS: 240 characters of
    free text) is refused at render time too, naming device and variable."""
    inv = _with_device(example, "gva-acc-sw1", model="C" * 241)
    with pytest.raises(
        RenderError,
        match=r"^gva-acc-sw1: template variable ios_baseline_device\.model is 241 characters long",
    ):
        render_device(inv, inv.devices["gva-acc-sw1"])


def test_a_switch_wan_port_renders_as_a_routed_port(example: Inventory) -> None:
    """A switch port in mode ``wan`` (the site's WAN link, which the exporter's WAN-down alert
    watches) is a routed port; without an address it is refused like one (decision 98)."""
    from ipaddress import IPv4Interface

    device = example.devices["gva-acc-sw1"]
    port = device.interfaces[0].model_copy(
        update={"name": "GigabitEthernet1/0/48", "mode": InterfaceMode.WAN, "zone": None,
                "description": "WAN uplink", "address": IPv4Interface("192.0.2.10/30")}
    )  # fmt: skip
    inv = _with_device(example, "gva-acc-sw1", interfaces=[*device.interfaces, port])
    config = render_device(inv, inv.devices["gva-acc-sw1"])
    block = config.split("interface GigabitEthernet1/0/48\n", 1)[1].split("!\n", 1)[0]
    assert block.splitlines() == [
        " description WAN uplink",
        " no switchport",
        " ip address 192.0.2.10 255.255.255.252",
        " no ip redirects",
        " no ip proxy-arp",
    ]
    bare = _with_device(
        example, "gva-acc-sw1",
        interfaces=[*device.interfaces, port.model_copy(update={"address": None})],
    )  # fmt: skip
    with pytest.raises(
        RenderError, match=r"gva-acc-sw1: wan interface GigabitEthernet1/0/48 has no address"
    ):
        render_device(bare, bare.devices["gva-acc-sw1"])
