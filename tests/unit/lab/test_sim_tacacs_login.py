"""The simulator's ``aaa authentication login default group tacacs+ local`` against the lab's
TACACS+ server, both on 127.0.0.1 (rootless; nothing leaves loopback).

The server is :mod:`netwarden.lab.tacplus` in a thread of the test; the device is a
:class:`SimDevice` whose ``aaa_network`` is set as an own-address fleet sets it.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest

from netwarden.ios import secrets as ios_secrets
from netwarden.lab.sim.config import ConfigTree
from netwarden.lab.sim.device import SimDevice
from netwarden.lab.sim.fleet import SimFleet
from netwarden.lab.sim.specs import DeviceSpec, InterfaceSpec
from netwarden.lab.sim.tacacsauth import login_methods
from netwarden.lab.tacplus.policy import TacacsSecrets, TacacsUser
from netwarden.lab.tacplus.server import ServerOptions, TacacsServer

KEY = "sim-tacacs-key"
SPEC_PW = "spec-password"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TacacsServer]:
    users = TacacsSecrets(
        key=KEY,  # type: ignore[arg-type]
        users=(
            TacacsUser.with_password("netwarden", SPEC_PW, privilege=15, commands=("*",)),
            TacacsUser.with_password("netwarden-ro", "ro-pw", privilege=1, commands=()),
        ),
    )
    options = ServerOptions(
        listen=(("127.0.0.1", 0),),
        accounting_log=tmp_path_factory.mktemp("tac") / "acct.jsonl",
    )
    tacacs = TacacsServer(users, options)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(tacacs.serve(stop, ready.set))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield tacacs
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


def _config(port: int, key: str = KEY, *, aaa: bool = True) -> str:
    lines = [
        "hostname s1",
        *(["aaa new-model"] if aaa else []),
        "aaa authentication login default group tacacs+ local",
        "tacacs server hq",
        " address ipv4 127.0.0.1",
        f" port {port}",
        f" key 7 {ios_secrets.type7(key, 5)}",
        "username localonly privilege 15 secret 0 local-pw",
    ]
    return "\n".join(lines) + "\n"


def _device(config: str, *, network: bool = True) -> SimDevice:
    spec = DeviceSpec(name="s1", hostname="s1", interfaces=(InterfaceSpec("GigabitEthernet1/0/1"),),
                      username="netwarden", password=SPEC_PW, initial_config=config)  # fmt: skip
    device = SimDevice(spec)
    device.aaa_network = network
    return device


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_method_list_and_servers_are_read_from_the_config() -> None:
    methods = login_methods(ConfigTree.build(_config(4949), frozenset()))
    assert methods is not None
    (hq,) = methods.servers
    assert (hq.name, hq.address, hq.port, hq.key) == ("hq", "127.0.0.1", 4949, KEY)
    assert methods.local_fallback
    assert login_methods(ConfigTree.build(_config(49, aaa=False), frozenset())) is None


def test_the_server_decides_when_it_answers(server: TacacsServer) -> None:
    device = _device(_config(server.bound[0][1]))
    assert device.check_password("netwarden-ro", "ro-pw", "10.0.0.9", 22)  # only on the server
    assert not device.check_password("netwarden-ro", "wrong", "10.0.0.9", 22)
    assert device.check_password("netwarden", SPEC_PW, "10.0.0.9", 22)
    # a FAIL is final, as on IOS: the local user is not tried
    assert not device.check_password("localonly", "local-pw", "10.0.0.9", 22)
    logs = [entry.message for entry in device.log]
    assert any("Login Success [user: netwarden-ro]" in m for m in logs)
    assert any("Login failed [user: localonly]" in m for m in logs)


def test_local_decides_when_no_server_answers(server: TacacsServer) -> None:
    for config in (_config(_closed_port()), _config(server.bound[0][1], key="another-key")):
        device = _device(config)
        assert device.check_password("localonly", "local-pw", "10.0.0.9", 22)
        assert not device.check_password("netwarden-ro", "ro-pw", "10.0.0.9", 22)


def test_only_an_own_address_fleet_asks_the_network(server: TacacsServer) -> None:
    device = _device(_config(server.bound[0][1]), network=False)
    assert not device.check_password("netwarden-ro", "ro-pw", "10.0.0.9", 22)
    assert device.check_password("localonly", "local-pw", "10.0.0.9", 22)
    spec = device.spec
    assert not SimFleet([spec]).device("s1").aaa_network
    assert SimFleet([spec], own_addresses=True).device("s1").aaa_network
