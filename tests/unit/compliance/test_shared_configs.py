"""The IOS pack on ../shared/data/configs/ios_campus: 13 real configs nobody wrote for us.

Skips when the folder is absent. Every finding must carry evidence that points
at the file and, where it cites a line, quotes that line. The asserted
findings below were verified by reading the configs (file:line in each case).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netwarden.compliance.engine import Engine
from netwarden.compliance.models import AuditRun, Result, Status
from netwarden.compliance.sources import FolderSource
from netwarden.ios.sanitize import redact_line

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def campus(shared_data: Path) -> Path:
    path = shared_data / "configs" / "ios_campus"
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(scope="module")
def run(campus: Path, engine: Engine) -> AuditRun:
    return engine.run(FolderSource(campus, platform="ios"))


def result(run: AuditRun, device: str, rule: str) -> Result:
    return next(r for r in run.results if r.device == device and r.rule == rule)


def lines_of(r: Result) -> set[int]:
    return {e.line for e in r.evidence}


def test_all_thirteen_configs_are_audited(run: AuditRun) -> None:
    assert len(run.devices) == 13
    assert not [r for r in run.results if r.status is Status.ERROR]


def test_every_finding_carries_evidence_that_quotes_its_file(run: AuditRun, campus: Path) -> None:
    texts = {p.name.split(".")[0]: p.read_text().splitlines() for p in campus.glob("*.cfg")}
    for r in run.results:
        if r.status is not Status.FAIL:
            continue
        assert r.evidence, f"{r.device} {r.rule}: no evidence"
        for e in r.evidence:
            assert Path(e.file).name.startswith(r.device)
            if e.line:
                assert e.text == redact_line(texts[r.device][e.line - 1].rstrip()), (r.rule, e)
            else:
                assert e.note, f"{r.device} {r.rule}: whole-file evidence without a note"


def test_aaa_new_model_off(run: AuditRun) -> None:
    # as1border1.cfg:14 "no aaa new-model"
    r = result(run, "as1border1", "ios-aaa-new-model")
    assert r.status is Status.FAIL
    assert lines_of(r) == {14}


def test_aaa_new_model_later_line_wins(run: AuditRun) -> None:
    # as2border1.cfg:17 "no aaa new-model", then :30 "aaa new-model": IOS applies the later one.
    r = result(run, "as2border1", "ios-aaa-new-model")
    assert r.status is Status.PASS
    assert lines_of(r) == {30, 17}


def test_exec_timeout_zero_on_console_and_aux(run: AuditRun) -> None:
    # as1border1.cfg:177 and :182 " exec-timeout 0 0" under line con 0 / line aux 0.
    r = result(run, "as1border1", "ios-exec-timeout")
    assert r.status is Status.FAIL
    assert lines_of(r) == {177, 182}


def test_vty_with_plain_login(run: AuditRun) -> None:
    # as1border1.cfg:186 "line vty 0 4", :187 " login": no AAA list, no transport input ssh.
    login = result(run, "as1border1", "ios-vty-login-authentication")
    assert login.status is Status.FAIL
    assert lines_of(login) == {186, 187}
    transport = result(run, "as1border1", "ios-vty-transport-ssh")
    assert transport.status is Status.FAIL
    assert lines_of(transport) == {186}


def test_ntp_server_count(run: AuditRun) -> None:
    # as2border2.cfg:13 is its only "ntp server"; as1border2.cfg:13-14 has two.
    one = result(run, "as2border2", "ios-ntp-two-servers")
    assert one.status is Status.FAIL
    assert lines_of(one) == {13}
    two = result(run, "as1border2", "ios-ntp-two-servers")
    assert two.status is Status.PASS
    assert lines_of(two) == {13, 14}


def test_bgp_neighbours_without_password(run: AuditRun) -> None:
    # as1border1.cfg:89 "neighbor 1.10.1.1 peer-group as1", :93 "neighbor 10.12.11.2 peer-group as2";
    # no "neighbor ... password" anywhere in router bgp 1 (lines 76-114).
    r = result(run, "as1border1", "ios-bgp-authentication")
    assert r.status is Status.FAIL
    assert {89, 91, 92, 93} <= lines_of(r)
    assert 79 not in lines_of(r)  # "neighbor as1 peer-group" declares a group, not a session


def test_ospf_without_authentication(run: AuditRun) -> None:
    # as1border1.cfg:70 "router ospf 1", :74 "network 1.0.0.0 0.255.255.255 area 1", no area authentication.
    r = result(run, "as1border1", "ios-ospf-authentication")
    assert r.status is Status.FAIL
    assert lines_of(r) == {70, 74}
    # as2dept1.cfg runs only BGP (router bgp 65001 at :80): OSPF does not apply.
    assert result(run, "as2dept1", "ios-ospf-authentication").status is Status.NOT_APPLICABLE


def test_proxy_arp_on_routed_interfaces_only(run: AuditRun) -> None:
    # as1border1.cfg:59 GigabitEthernet0/0 and :66 GigabitEthernet1/0 have addresses and no
    # "no ip proxy-arp"; Loopback0 (:51) is skipped, Ethernet0/0 (:54) has "no ip address".
    r = result(run, "as1border1", "ios-no-proxy-arp")
    assert r.status is Status.FAIL
    assert lines_of(r) == {59, 66}


def test_syslog_host_and_http_server(run: AuditRun) -> None:
    # as1core1.cfg:13 "logging host 1.1.1.1", :14 "logging host 2.2.2.2"; as1border1 has none.
    assert lines_of(result(run, "as1core1", "ios-logging-host")) == {13, 14}
    assert result(run, "as1border1", "ios-logging-host").status is Status.FAIL
    # as1border1.cfg:123 "no ip http server".
    assert result(run, "as1border1", "ios-no-http-server").status is Status.PASS


def test_no_snmp_means_snmp_rules_do_not_apply(run: AuditRun) -> None:
    # No "snmp-server" line in any of the 13 configs.
    snmp = [r for r in run.results if r.rule.startswith("ios-snmp")]
    assert snmp
    assert {r.status for r in snmp} == {Status.NOT_APPLICABLE}
