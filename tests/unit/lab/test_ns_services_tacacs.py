"""The TACACS+ service writer and the lab's TACACS+ logins, without root."""

from __future__ import annotations

import json
import stat
import sys
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from netwarden.lab.ns import aaa
from netwarden.lab.ns.services import ServiceContext, registry
from netwarden.lab.ns.services.tacacs import CONFIG_FILE, USERS_FILE, write_users
from netwarden.lab.ns.switches import lab_credentials
from netwarden.lab.tacplus.policy import TacacsSecrets

ADDRESSES = (IPv4Address("10.10.10.101"), IPv4Address("10.10.20.10"))


def _ctx(root: Path, *, local_syslog: bool = True) -> ServiceContext:
    return ServiceContext("jed-aaa1", ADDRESSES, ("tacacs",), local_syslog=local_syslog, root=root)


def test_lab_logins_are_the_switch_login_and_a_read_only_user(tmp_path: Path) -> None:
    logins = aaa.lab_logins(tmp_path)
    admin, readonly = logins
    switch = lab_credentials(tmp_path)
    assert (admin.username, admin.password, admin.privilege) == (
        switch.username, switch.password, 15)  # fmt: skip
    assert (readonly.username, readonly.privilege) == ("netwarden-ro", 1)
    assert readonly.password not in repr(readonly)
    stored = tmp_path / "tacacs" / "readonly.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert aaa.lab_logins(tmp_path) == logins  # made once per lab directory
    assert aaa.vault_vars(logins) == {
        "vault_lab_tacacs_netwarden_password": switch.password,
        "vault_lab_tacacs_netwarden_ro_password": readonly.password,
    }
    secrets = aaa.server_secrets("the-key", logins)
    assert secrets.key.get_secret_value() == "the-key"
    ro = secrets.user("netwarden-ro")
    assert ro is not None
    assert ro.check_password(readonly.password)
    assert ro.permits("show", ("version",))
    assert not ro.permits("configure", ("terminal",))
    assert readonly.password not in secrets.dump()


def test_writer_needs_the_users_file_then_serves_port_49_everywhere(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    with pytest.raises(ValueError, match="tacacs needs its users file"):
        registry()["tacacs"].writer(ctx)
    write_users(ctx, aaa.server_secrets("k", aaa.lab_logins(tmp_path / "lab")))
    users = ctx.path(USERS_FILE)
    assert stat.S_IMODE(users.stat().st_mode) == 0o600
    assert TacacsSecrets.load(users).key.get_secret_value() == "k"
    daemon = registry()["tacacs"].writer(ctx)
    assert daemon.argv == (sys.executable, "-m", "netwarden.lab.tacplus", CONFIG_FILE, "--syslog")
    assert daemon.check == (sys.executable, "-m", "netwarden.lab.tacplus", CONFIG_FILE, "--check")
    assert [(x.proto, x.port, x.address) for x in daemon.listens] == [
        ("tcp", 49, a) for a in ADDRESSES
    ]
    config = json.loads(ctx.path(CONFIG_FILE).read_text())
    assert config["listen"] == [["10.10.10.101", 49], ["10.10.20.10", 49]]
    assert config["users_file"] == USERS_FILE
    assert "--syslog" not in registry()["tacacs"].writer(_ctx(tmp_path, local_syslog=False)).argv
