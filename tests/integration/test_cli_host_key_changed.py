"""A HOST KEY CHANGED refusal is printed whole: both fingerprints, at 80 and 100 columns and piped.

Issue 11 point 7: fingerprints were cut in the message. The real commands
against the simulated lab, a known_hosts file that records another device's key
for one switch (a replaced device, or a man in the middle).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from netwarden.devices.hostkeys import known_hosts_name
from tests.integration.labfleet import Lab, start_lab
from tests.unit.terminal import MODE_IDS, MODES, column_text, run, whole

pytestmark = pytest.mark.integration

VICTIM, OTHER = "nyc-acc-sw1", "nyc-acc-sw2"
FINGERPRINT = re.compile(r"SHA256:[A-Za-z0-9+/]{43}")


@pytest.fixture(scope="module")
def lab(example_inventory: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with start_lab(example_inventory, tmp_path_factory.mktemp("lab") / "inv") as lab:
        yield lab


@pytest.fixture
def forged(lab: Lab, tmp_path: Path) -> Path:
    """A copy of the lab's known_hosts in which VICTIM has OTHER's key."""
    lines = lab.known_hosts.read_text(encoding="utf-8").splitlines()
    tag = {
        n: known_hosts_name(lab.sim(n).spec.address, lab.sim(n).bound_port) for n in (VICTIM, OTHER)
    }
    other = next(ln for ln in lines if ln.startswith(tag[OTHER] + " "))
    kept = [ln for ln in lines if not ln.startswith(tag[VICTIM] + " ")]
    path = tmp_path / "known_hosts"
    path.write_text("\n".join([*kept, other.replace(tag[OTHER], tag[VICTIM], 1)]) + "\n")
    return path


@pytest.mark.parametrize(("columns", "tty"), MODES, ids=MODE_IDS)
def test_backup_prints_a_changed_host_key_whole(
    lab: Lab, forged: Path, tmp_path: Path, columns: int, tty: bool
) -> None:
    args = ["backup", "-i", str(lab.path), "--limit", VICTIM, "--known-hosts", str(forged)]
    args += ["--repo", str(tmp_path / "repo"), "--timeout", "10"]
    code, out, err = run(args, columns, tty=tty)
    text = out + err
    assert code == 1, text
    assert "Traceback" not in text
    assert "…" not in text
    detail = column_text(text, "detail")
    assert whole("HOST KEY CHANGED") in detail
    prints = FINGERPRINT.findall(detail)
    assert len(prints) == 2, detail  # the recorded key and the one offered, each whole
    assert prints[0] != prints[1]
    assert whole("--trust-on-first-use never accepts a changed key") in detail
    if not columns:  # no edge: the message is one line in the table
        (line,) = [ln for ln in out.splitlines() if "HOST KEY CHANGED" in ln and "│" in ln]
        assert all(p in line for p in prints)
    # and repeated whole below the table, one line per device, so it can be copied
    (below,) = [ln for ln in out.splitlines() if "HOST KEY CHANGED" in ln and "│" not in ln]
    assert all(p in below for p in prints), below
