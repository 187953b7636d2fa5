"""A simulated switch on its own address (lab mode) sends syslog from that address.

In a network namespace of its own (``unshare --net``: gone with the process, nothing
to clean up) the switch holds ``nyc-acc-sw1``'s management address and the access
exporter's receiver another address; the switch's config names the receiver as
``logging host`` (no ``origin-id``: the sender's address alone names the device).
A failed login must be counted for ``nyc-acc-sw1``/``nyc`` from that address.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (a network namespace)"),
    pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare (util-linux) missing"),
]

_SCRIPT = r"""
import dataclasses, json, subprocess, sys, time
for args in (["link", "set", "lo", "up"], ["addr", "add", "10.11.10.21/32", "dev", "lo"],
             ["addr", "add", "10.11.10.50/32", "dev", "lo"]):
    subprocess.run(["ip", *args], check=True)
from collectors.access.ledger import AccessLedger
from collectors.access.receiver import SyslogReceiver
from netwarden.inventory import load_inventory
from netwarden.lab.sim.device import SimDevice
from netwarden.lab.sim.specs import synthetic_spec

ledger = AccessLedger(load_inventory(sys.argv[1]))
receiver = SyslogReceiver(ledger, "10.11.10.50", 5514)
receiver.start()
spec = dataclasses.replace(synthetic_spec(1, password="pw-a", enable_secret="pw-b"),
                           address="10.11.10.21")
device = SimDevice(spec)
device.aaa_network = True  # what SimFleet(own_addresses=True) sets
assert device.merge("logging host 10.11.10.50 transport udp port 5514\n") == []
assert not device.check_password("bob", "not-the-password", "10.11.30.9", 22)
deadline = time.monotonic() + 10
while not ledger.events and time.monotonic() < deadline:
    time.sleep(0.05)
receiver.close()
print(json.dumps([[*k, v] for k, v in ledger.events.items()] + [list(ledger.recent)]))
"""


def test_own_address_switch_is_named_by_its_address(example_inventory: Path) -> None:
    done = subprocess.run(
        ["unshare", "--net", sys.executable, "-c", _SCRIPT, str(example_inventory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    *events, recent = json.loads(done.stdout.strip().splitlines()[-1])
    assert events == [["nyc-acc-sw1", "nyc", "login", "failure", "other", "nyc/staff", 1]]
    assert recent[0]["sender"] == "10.11.10.21"
