"""``ios-intended-drift`` and ``ios-running-equals-startup`` normalise configs as plan does.

Lines IOS never shows (``snmp-server user``) or writes by itself (``file prompt
quiet`` around NAPALM sessions, ``ntp clock-period``, ``version``) are no drift:
``netwarden config plan`` (``plan.remediation``) has nothing to change for them,
so the audit must not fail on them either.
"""

from __future__ import annotations

from netwarden.compliance.engine import Engine
from netwarden.compliance.models import Result, Status
from netwarden.compliance.sources import Artifact, Target
from netwarden.config.plan import remediation

RUNNING = """\
Building configuration...
!
version 15.2
hostname sw1
file prompt quiet
ntp clock-period 17179885
interface Vlan10
 ip address 10.10.10.21 255.255.255.0
ntp server 10.10.20.11
end
"""
INTENDED = """\
hostname sw1
interface Vlan10
 ip address 10.10.10.21 255.255.255.0
ntp server 10.10.20.11
snmp-server user nw-monitor NW-RO v3 auth sha s3cr3tauth priv aes 128 s3cr3tpriv
end
"""


def _result(engine: Engine, rule: str, running: str, **companions: str) -> Result:
    target = Target("sw1", "ios", Artifact("sw1.cfg", running))
    for role, text in companions.items():
        setattr(target, role, Artifact(f"sw1.{role}.cfg", text))
    return next(r for r in engine.audit(target) if r.rule == rule)


def test_rule_passes_when_plan_sees_no_change(engine: Engine) -> None:
    assert remediation(RUNNING, INTENDED) == ()
    got = _result(engine, "ios-intended-drift", RUNNING, intended=INTENDED)
    assert got.status is Status.PASS, (got.message, got.evidence)


def test_the_reported_case_passes(engine: Engine) -> None:
    running = "hostname sw1\nfile prompt quiet\nend\n"
    intended = "hostname sw1\nsnmp-server user nw-monitor NW-RO v3 auth sha x priv aes 128 y\nend\n"
    assert remediation(running, intended) == ()
    assert _result(engine, "ios-intended-drift", running, intended=intended).status is Status.PASS


def test_a_real_difference_still_fails_with_its_lines(engine: Engine) -> None:
    running = RUNNING.replace("ntp server 10.10.20.11", "ntp server 10.10.20.99")
    assert remediation(running, INTENDED) == ("no ntp server 10.10.20.99", "ntp server 10.10.20.11")
    got = _result(engine, "ios-intended-drift", running, intended=INTENDED)
    assert got.status is Status.FAIL
    found = {(e.file, e.line, e.text, e.note) for e in got.evidence}
    assert found == {
        ("sw1.cfg", 9, "ntp server 10.10.20.99", "not in the intended config"),
        ("sw1.intended.cfg", 4, "ntp server 10.10.20.11", "missing from running"),
    }


def test_a_real_difference_in_a_block_still_fails(engine: Engine) -> None:
    intended = INTENDED.replace(" ip address", " no ip proxy-arp\n ip address")
    got = _result(engine, "ios-intended-drift", RUNNING, intended=intended)
    assert got.status is Status.FAIL
    assert [(e.file, e.line, e.text) for e in got.evidence] == [
        ("sw1.intended.cfg", 3, " no ip proxy-arp")
    ]


def test_running_equals_startup_ignores_what_plan_ignores(engine: Engine) -> None:
    startup = RUNNING.replace("file prompt quiet\n", "").replace("ntp clock-period 17179885\n", "")
    startup = startup.replace("version 15.2\n", "snmp-server user a b v3\n")
    got = _result(engine, "ios-running-equals-startup", RUNNING, startup=startup)
    assert got.status is Status.PASS, (got.message, got.evidence)


def test_running_equals_startup_still_fails_on_a_real_difference(engine: Engine) -> None:
    startup = RUNNING.replace("ntp server 10.10.20.11", "ntp server 10.10.20.99")
    got = _result(engine, "ios-running-equals-startup", RUNNING, startup=startup)
    assert got.status is Status.FAIL
    assert {(e.file, e.line, e.text) for e in got.evidence} == {
        ("sw1.cfg", 9, "ntp server 10.10.20.11"),
        ("sw1.startup.cfg", 9, "ntp server 10.10.20.99"),
    }
