"""The whole lab with its running parts: sshd everywhere, simulated switches, the partner VPN.

``netwarden lab up`` for the example inventory (switches included), then, from inside
the lab (the management server jed-mon1, the partner): every server's, sensor's and
firewall's sshd answers on each of its addresses with the key ``known_hosts.txt``
lists and lets the automation user in with the lab's key; every simulated switch
answers SSH on its management address inside its site with its listed key; the
partner reaches HQ's partners zone over the tunnel; jed-aaa1's TACACS+ server
answers the PyPI tacacs_plus client with the lab's vaulted logins and the inventory's
key (and refuses another key); jed-web1's https verifies with the lab CA's file.
Root only; skipped while the parts (netwarden.lab.ns.servers, switches, vpn: issue
14's second half) are absent.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import ssl
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from netwarden.inventory import Inventory, load_inventory
from netwarden.lab.ns.nsproc import ns_connect
from tests.lab.nslab import REPO, cli, force_cleanup, in_ns, lab_prefix, ping

PARTS = ("servers", "switches", "vpn")
MISSING = [p for p in PARTS if importlib.util.find_spec(f"netwarden.lab.ns.{p}") is None]

pytestmark = [
    pytest.mark.lab,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
    pytest.mark.skipif(
        bool(MISSING), reason=f"lab parts not there yet: netwarden.lab.ns.{', '.join(MISSING)}"
    ),
    pytest.mark.skipif(shutil.which("ssh-keyscan") is None, reason="needs openssh-client"),
]


@pytest.fixture(scope="module")
def full_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = tmp_path_factory.mktemp("fulllab")
    path, log = base / "lab", base / "cli.log"
    try:
        code = cli("lab", "up", "-i", str(REPO / "inventory"), "--out", str(path), log=log)
        assert code == 0, log.read_text()
        yield path
    finally:
        if path.exists():
            cli("lab", "down", str(path), log=log)
        force_cleanup(lab_prefix(path))


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_inventory(REPO / "inventory")


def _known(lab: Path) -> dict[str, set[str]]:
    """Address -> the keys (``type base64``) known_hosts.txt lists for it (port 22)."""
    keys: dict[str, set[str]] = {}
    for line in (lab / "known_hosts.txt").read_text().splitlines():
        fields = line.split()
        if len(fields) < 3 or line.startswith("#"):
            continue
        for host in fields[0].split(","):
            keys.setdefault(host, set()).add(f"{fields[1]} {fields[2]}")
    return keys


def _scan(netns: str, address: str) -> set[str]:
    done = in_ns(netns, "ssh-keyscan", "-T", "5", address, timeout=30)
    return {" ".join(line.split()[1:3]) for line in done.stdout.splitlines() if line.strip()}


def test_every_linux_host_answers_ssh_with_its_listed_key(
    full_lab: Path, inventory: Inventory
) -> None:
    known = _known(full_lab)
    mon = f"{lab_prefix(full_lab)}-jed-jed-mon1"
    key = full_lab / ".lab" / "ssh" / "id_ed25519"
    for dev in inventory.devices.values():
        if dev.platform.value != "linux":
            continue
        for _, address in dev.addresses():
            seen = _scan(mon, str(address))
            assert seen, f"{dev.name} {address}: no SSH answer"
            assert seen & known.get(str(address), set()), f"{dev.name} {address}: key not listed"
        login = in_ns(
            mon, "ssh", "-i", str(key), "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={full_lab / 'known_hosts.txt'}",
            "-o", "StrictHostKeyChecking=yes", f"netwarden@{dev.mgmt_address}", "hostname",
        )  # fmt: skip
        assert login.returncode == 0, f"{dev.name}: {login.stderr}"
        assert login.stdout.strip() == dev.name


def test_every_switch_answers_ssh_inside_its_site(full_lab: Path, inventory: Inventory) -> None:
    known = _known(full_lab)
    prefix = lab_prefix(full_lab)
    for dev in inventory.devices.values():
        if dev.platform.value != "ios":
            continue
        fabric = f"{prefix}-{dev.site}-fab"
        seen = _scan(fabric, str(dev.mgmt_address))
        assert seen & known.get(str(dev.mgmt_address), set()), dev.name
        # and from the management server, across the firewalls and the WAN
        assert _scan(f"{prefix}-jed-jed-mon1", str(dev.mgmt_address)) == seen


def test_the_partner_reaches_hq_over_the_tunnel(full_lab: Path, inventory: Inventory) -> None:
    prefix = lab_prefix(full_lab)
    (name, partner), *_ = inventory.partners.items()
    netns = f"{prefix}-partner-{name}"
    gateway = str(inventory.sites[partner.site].zones["partners"].gateway)
    route = in_ns(netns, "ip", "route", "get", gateway).stdout.split()
    device = route[route.index("dev") + 1]
    (link,) = json.loads(in_ns(netns, "ip", "-j", "-d", "link", "show", "dev", device).stdout)
    assert link["linkinfo"]["info_kind"] == "tun", link  # the OpenVPN tunnel, not the WAN
    assert ping(netns, gateway)


def _lab_vault(lab: Path) -> dict[str, str]:
    """The lab's generated secrets (``group_vars/all/zz_lab_vault.yml``), decrypted."""
    from ansible.parsing.vault import VaultLib, VaultSecret

    vault = VaultLib([("default", VaultSecret((lab / ".vault-password").read_bytes().strip()))])
    plain = vault.decrypt((lab / "group_vars/all/zz_lab_vault.yml").read_bytes())
    data: dict[str, str] = yaml.safe_load(plain)
    return data


def _tacacs(netns: str, address: str, key: str) -> Any:
    """The PyPI tacacs_plus client, its connection made from inside ``netns``."""
    client_module = pytest.importorskip("tacacs_plus.client", reason="needs tacacs-plus (PyPI)")
    client = client_module.TACACSClient(address, 49, key, timeout=5)
    client._sock = ns_connect(netns, address, 49, 5.0)
    return client


def test_tacacs_on_jed_aaa1_with_the_lab_credentials(full_lab: Path, inventory: Inventory) -> None:
    mon = f"{lab_prefix(full_lab)}-jed-jed-mon1"  # HQ's management zone
    server = str(inventory.devices["jed-aaa1"].service_address())
    key = load_inventory(full_lab).policy.aaa.tacacs_key.get_secret_value()
    assert key == inventory.policy.aaa.tacacs_key.get_secret_value()  # what switches render
    secrets = _lab_vault(full_lab)
    admin_pw = secrets["vault_lab_tacacs_netwarden_password"]
    assert admin_pw == secrets["vault_lab_jed_switch_password"]  # the switches' own login
    ro_pw = secrets["vault_lab_tacacs_netwarden_ro_password"]
    assert _tacacs(mon, server, key).authenticate("netwarden", admin_pw).valid
    assert _tacacs(mon, server, key).authenticate("netwarden", ro_pw).invalid
    assert _tacacs(mon, server, key).authenticate("netwarden-ro", ro_pw).valid
    show = [b"service=shell", b"cmd=show", b"cmd-arg=running-config"]
    reload_ = [b"service=shell", b"cmd=reload"]
    assert _tacacs(mon, server, key).authorize("netwarden-ro", arguments=show).valid
    assert _tacacs(mon, server, key).authorize("netwarden-ro", arguments=reload_).invalid
    assert _tacacs(mon, server, key).authorize("netwarden", arguments=reload_, priv_lvl=15).valid
    try:
        wrong = _tacacs(mon, server, key + "x").authenticate("netwarden", admin_pw).valid
    except (ValueError, OSError, struct.error):
        wrong = False
    assert not wrong


def test_https_on_jed_web1_verifies_with_the_lab_ca(full_lab: Path, inventory: Inventory) -> None:
    mon = f"{lab_prefix(full_lab)}-jed-jed-mon1"
    address = str(inventory.devices["jed-web1"].service_address())
    name = f"jed-web1.{inventory.org.domain.strip('.')}"
    ca = full_lab / ".lab" / "pki" / "ca.crt"
    context = ssl.create_default_context(cafile=str(ca))
    with (
        ns_connect(mon, address, 443, 5.0) as raw,
        context.wrap_socket(raw, server_hostname=name) as tls,
    ):
        tls.sendall(f"GET / HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200")
    assert b"<h1>jed-web1</h1>" in answer
    with ns_connect(mon, address, 443, 5.0) as raw, pytest.raises(ssl.SSLCertVerificationError):
        ssl.create_default_context().wrap_socket(raw, server_hostname=name)  # system CAs only
    if shutil.which("curl") is not None:
        url = f"https://{name}/"
        done = in_ns(mon, "curl", "-sS", "--max-time", "10", "--cacert", str(ca),
                     "--resolve", f"{name}:443:{address}", url)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "<h1>jed-web1</h1>" in done.stdout


def test_a_switch_asks_jed_aaa1_once_its_config_says_tacacs(
    full_lab: Path, inventory: Inventory
) -> None:
    """Last in the module: it changes a switch's running config (aaa new-model)."""
    netmiko = pytest.importorskip("netmiko")
    mon = f"{lab_prefix(full_lab)}-jed-jed-mon1"
    switch = sorted(n for n, d in inventory.devices.items()
                    if d.site == "jed" and d.platform.value == "ios")[0]  # fmt: skip
    address = str(inventory.devices[switch].mgmt_address)
    server = str(inventory.devices["jed-aaa1"].service_address())
    key = inventory.policy.aaa.tacacs_key.get_secret_value()
    secrets = _lab_vault(full_lab)
    admin_pw, ro_pw = (
        secrets[f"vault_lab_tacacs_{u}_password"] for u in ("netwarden", "netwarden_ro")
    )

    def connect(user: str, password: str) -> Any:
        return netmiko.ConnectHandler(
            device_type="cisco_ios", host=address, username=user, password=password,
            secret=secrets["vault_lab_jed_switch_enable"], sock=ns_connect(mon, address, 22, 10),
            ssh_strict=True, system_host_keys=False, alt_host_keys=True,
            alt_key_file=str(full_lab / "known_hosts.txt"), conn_timeout=10, auth_timeout=10,
            banner_timeout=10, read_timeout_override=20,
        )  # fmt: skip

    with pytest.raises(netmiko.NetmikoAuthenticationException):  # local users only: unknown
        connect("netwarden-ro", ro_pw)
    admin = connect("netwarden", admin_pw)
    try:
        admin.enable()
        admin.send_config_set([
            "aaa new-model", "aaa authentication login default group tacacs+ local",
            "tacacs server lab-aaa", f" address ipv4 {server}", f" key 0 {key}", "exit",
        ])  # fmt: skip
    finally:
        admin.disconnect()
    readonly = connect("netwarden-ro", ro_pw)  # known to the TACACS+ server only
    readonly.disconnect()
    with pytest.raises(netmiko.NetmikoAuthenticationException):
        connect("netwarden-ro", admin_pw)
    auth_log = full_lab / ".lab/nodes/jed-aaa1/upper/var/log/auth.log"
    text = ""
    for _ in range(100):  # bounded: rsyslog writes within moments
        text = auth_log.read_text() if auth_log.exists() else ""
        if "pap login of 'netwarden-ro' failed" in text:
            break
        time.sleep(0.1)
    assert f"tacplus: {address}: pap login of 'netwarden-ro' accepted" in text
    assert f"tacplus: {address}: pap login of 'netwarden-ro' failed" in text
