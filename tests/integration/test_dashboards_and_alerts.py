"""The dashboards and the alerts against one live monitoring lab (issue 17): every panel
query of every dashboard evaluated by a real Prometheus (which panels return data, and why
the others do not), the offline snapshot of it, and the rules' alerts firing in that
Prometheus and routed, inhibited and notified by a real Alertmanager.

The stack (:mod:`tests.integration.monitoring_stack`, one module-scoped fixture): the
simulated switches of ``nyc``, ``kbl`` and ``gva``, the device and access exporters,
node_exporter, the traffic auditor reading the demo attack trace, Prometheus with the
repository's rules (``for:`` shortened, the access exporter's history backfilled) and
Alertmanager with the repository's routes and inhibitions. Panels are read for site
``nyc``; ``kbl`` and ``gva`` are cut off (``kbl``: its one switch hangs; ``gva``: its WAN
port is shut down and its other switch hangs), which takes no ``nyc`` panel's data.

A few panels cannot have data in this lab: :data:`NO_DATA_HERE` says which and why; every
other panel must return data. The offline snapshot: ``netwarden dashboards snapshot`` of
this Prometheus writes every dashboard's page, every panel with data here shows it, and
headless Chromium (when installed) loads each page without a console message and with
something drawn in every chart. ``NETWARDEN_SCREENSHOTS=DIR`` keeps the PNGs
(``docs/screenshots/`` holds the committed ones). Bounded polls; no assertion on time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from netwarden.dashboards import catalog, chromium
from tests.integration.dashboard_stack import (
    ALERTMANAGER,
    NO_DATA_HERE,
    NODE_EXPORTER,
    Alertmanager,
    panel_queries,
)
from tests.integration.exporter_stack import (
    PROMETHEUS,
    PROMTOOL,
    SCRAPE_INTERVAL,
    netwarden,
    poll,
)
from tests.integration.labfleet import netmiko_args
from tests.integration.monitoring_stack import (
    CUT,
    CUT_SWITCH,
    FAILED_LOGINS,
    POLL,
    SITE,
    SWITCH,
    WAN_HUNG,
    WAN_PORT,
    WAN_SITE,
    WAN_SWITCH,
    Stack,
    monitoring_stack,
)
from tests.integration.rsyslog_hq import RSYSLOGD

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not Path(PROMETHEUS).is_file()
        or not Path(NODE_EXPORTER).is_file()
        or PROMTOOL is None
        or ALERTMANAGER is None
        or not Path(RSYSLOGD).is_file(),
        reason="prometheus, promtool, node_exporter, alertmanager or rsyslogd not installed "
        "(Debian packages prometheus, prometheus-node-exporter, prometheus-alertmanager, "
        "rsyslog)",
    ),
]

RATE_INTERVAL = f"{4 * SCRAPE_INTERVAL + SCRAPE_INTERVAL:g}s"
"""What Grafana makes of ``$__rate_interval`` here: four scrape intervals and one more."""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with monitoring_stack(tmp_path_factory.mktemp("monitoring")) as started:
        yield started


# ---------------------------------------------------------------- every panel has data
def _panels() -> list[tuple[str, str, str, str]]:
    """(dashboard uid, panel title, refId, query with Grafana's variables filled in)."""
    return panel_queries(SITE, RATE_INTERVAL)


def _empty_panels(stack: Stack) -> dict[tuple[str, str, str], str]:
    """The panel queries without data, once only :data:`NO_DATA_HERE` panels are empty
    (or when :data:`POLL` runs out): {(uid, title, refId): query}."""
    panels = _panels()
    empty: dict[tuple[str, str, str], str] = {}

    def pending() -> bool:
        empty.clear()
        for uid, title, ref, expr in panels:
            if not stack.prometheus.query(expr):
                empty[(uid, title, ref)] = expr
        # done when only the panels that cannot have data here are empty
        return all(title in NO_DATA_HERE for _, title, _ in empty)

    poll(pending, timeout=POLL, every=SCRAPE_INTERVAL)
    return empty


def test_every_panel_returns_data(stack: Stack) -> None:
    empty = _empty_panels(stack)
    report = "\n".join(
        f"  {uid}: {title} {ref}: {NO_DATA_HERE.get(title, 'UNEXPLAINED')}\n    {expr}"
        for (uid, title, ref), expr in sorted(empty.items())
    )
    print(f"\npanel queries without data:\n{report}")  # noqa: T201 (the lab report, -s)
    unexplained = {k: v for k, v in empty.items() if k[1] not in NO_DATA_HERE}
    assert unexplained == {}, report
    # and the list stays true: each panel it names is empty for the reason it gives
    assert {title for _, title, _ in empty} == set(NO_DATA_HERE), report


def test_the_auditor_incident_alert_fires(stack: Stack) -> None:
    """The alert timeline has something to show: the attack trace's incidents alert."""
    firing = 'ALERTS{alertname="NetwardenAuditorIncident", alertstate="firing"}'
    assert poll(lambda: stack.prometheus.query(firing), timeout=POLL)


# ---------------------------------------------------------------- offline snapshots

SCREENSHOTS_ENV = "NETWARDEN_SCREENSHOTS"
"""Set to a folder (``docs/screenshots``) to keep the snapshot PNGs this test makes."""


class _Page(HTMLParser):
    """Each panel's ``data-state`` and each chart's drawn marks, as a browser parsed them."""

    def __init__(self) -> None:
        super().__init__()
        self.states: dict[str, str] = {}
        self.charts: list[int] = []
        self._in_chart = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "section" and found.get("class") == "panel":
            self.states[str(found.get("data-title"))] = str(found.get("data-state"))
        elif tag == "svg" and found.get("class") == "chart":
            self._in_chart = True
            self.charts.append(0)
        elif self._in_chart and (
            (tag == "polyline" and len((found.get("points") or "").split()) >= 2)
            or (tag == "rect" and found.get("class") in ("bar", "band"))
        ):
            self.charts[-1] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._in_chart = False


def _parse(text: str) -> _Page:
    parsed = _Page()
    parsed.feed(text)
    return parsed


def _missing(out: Path) -> list[str]:
    """The panels of the snapshot in ``out`` without data that should have it."""
    missing = []
    for dash in catalog.dashboards():
        parsed = _parse((out / f"{dash.uid}.html").read_text(encoding="utf-8"))
        missing += [
            f"{dash.uid}: {title}: {state}"
            for title, state in parsed.states.items()
            if state != "data" and title not in NO_DATA_HERE
        ]
    return missing


@pytest.fixture(scope="module")
def pages(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``netwarden dashboards snapshot`` of the lab's Prometheus (PNGs when Chromium is
    installed), once the panels have their data. Like the panel test, it polls: on a
    loaded machine a scrape can time out, and a rate needs two samples in its window,
    so a snapshot is taken again (bounded) while a panel that has data here shows none."""
    _empty_panels(stack)
    png = ["--png"] if chromium.find() else []
    taken: list[Path] = []

    def take() -> bool:
        out = tmp_path_factory.mktemp("snapshot")
        done = netwarden(
            "dashboards", "snapshot", "--prometheus", stack.prometheus.url, "--out", str(out),
            "--range", "2m", *png,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        taken.append(out)
        return not _missing(out)

    poll(take, timeout=POLL, every=SCRAPE_INTERVAL)
    out = taken[-1]
    keep = os.environ.get(SCREENSHOTS_ENV)
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for made in out.glob("*.png"):
            shutil.copy(made, Path(keep) / made.name)
    return out


def test_snapshot_pages_show_every_panel_with_data(pages: Path) -> None:
    """Every dashboard has its page; every panel the lab has data for shows it."""
    uids = [dash.uid for dash in catalog.dashboards()]
    assert sorted(p.name for p in pages.glob("*.html")) == sorted(
        ["index.html", *(f"{uid}.html" for uid in uids)]
    )
    for dash in catalog.dashboards():
        parsed = _parse((pages / f"{dash.uid}.html").read_text(encoding="utf-8"))
        assert set(parsed.states) == {p.title for p in dash.panels()}, dash.uid
        assert all(parsed.charts), f"{dash.uid}: a chart with nothing drawn"
    missing = _missing(pages)
    assert missing == [], "\n".join(missing)


def test_snapshot_pages_in_chromium(pages: Path) -> None:
    """Headless Chromium loads each page: no console message (a Content-Security-Policy
    violation would be one), every chart has something drawn, and the PNG was made."""
    binary = chromium.find()
    if binary is None:
        pytest.skip("chromium not installed (Debian package chromium)")
    for dash in catalog.dashboards():
        path = pages / f"{dash.uid}.html"
        done = chromium.dump_dom(binary, path)
        assert done.returncode == 0, done.stderr
        console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
        assert console == [], console
        parsed = _parse(done.stdout)
        assert parsed.states, f"{dash.uid}: Chromium's DOM has no panels"
        assert parsed.charts, f"{dash.uid}: no chart"
        assert all(parsed.charts), f"{dash.uid}: a chart with nothing drawn {parsed.charts}"
        png = path.with_suffix(".png")
        assert png.is_file(), dash.uid
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", dash.uid


# ---------------------------------------------------------------- reading Alertmanager
def _matches(labels: dict[str, str], want: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in want.items())


def _find(am: Alertmanager, want: dict[str, str]) -> list[dict[str, Any]]:
    """The alerts matching ``want`` once Alertmanager has processed them all (an alert just
    received is ``unprocessed`` until the inhibitor and silencer have seen it)."""
    found = [a for a in am.alerts() if _matches(a["labels"], want)]
    return [] if any(a["status"]["state"] == "unprocessed" for a in found) else found


def _until(what: Callable[[], Any], message: Callable[[], str]) -> Any:
    found = poll(what, timeout=POLL, every=1.0)
    assert found, message()
    return found


def _receivers(alert: dict[str, Any]) -> list[str]:
    return sorted(r["name"] for r in alert["receivers"])


PORT_SCAN = {"alertname": "NetwardenAuditorIncident", "detector": "port_scan", "site": SITE}
LOGIN_FAILURES = {
    "alertname": "NetwardenLoginFailuresRepeated",
    "site": SITE,
    "device": SWITCH,
    "source_zone": "unknown",  # 127.0.0.1: in no zone of the policy
}
LOGIN_AFTER_FAILURES = {**LOGIN_FAILURES, "alertname": "NetwardenLoginAfterFailures"}
SECURITY = [
    # the auditor rates the trace's port scan medium: severity warning, a ticket
    pytest.param(PORT_SCAN, "security-ticket", id="port-scan"),
    # warning: a ticket
    pytest.param(LOGIN_FAILURES, "security-ticket", id="login-failures"),
    # critical (a guessed password is possible): the pager
    pytest.param(LOGIN_AFTER_FAILURES, "security-pager", id="login-after-failures"),
]
"""The security alerts the attack raises, and the receiver alertmanager.yml routes each to."""


@pytest.mark.parametrize(("want", "receiver"), SECURITY)
def test_security_alerts_reach_alertmanager_routed_to_the_security_team(
    stack: Stack, want: dict[str, str], receiver: str
) -> None:
    am = stack.alertmanager
    alerts = _until(
        lambda: _find(am, want),
        lambda: f"{want} not in Alertmanager: {[a['labels'] for a in am.alerts()]}",
    )
    (alert,) = alerts
    assert _receivers(alert) == [receiver], alert
    assert alert["status"] == {"state": "active", "inhibitedBy": [], "silencedBy": []}
    assert alert["annotations"]["dashboard_url"] == f"/d/netwarden-security?var-site={SITE}"
    # the routing tree grouped it as alertmanager.yml says: by alertname, site, detector
    (group,) = [g for g in am.groups() if any(_matches(a["labels"], want) for a in g["alerts"])]
    assert group["receiver"]["name"] == receiver
    assert group["labels"] == {k: want[k] for k in ("alertname", "site", "detector") if k in want}
    if want is LOGIN_FAILURES:
        # the count the alert says: the threshold (5) or more, up to the failures made (the
        # alert may fire at a scrape between the fifth and the sixth)
        summary = alert["annotations"]["summary"]
        said = re.fullmatch(rf"(\d+) failed logins on {SWITCH} from unknown in 5 minutes", summary)
        assert said, summary
        assert 5 <= int(said.group(1)) <= FAILED_LOGINS
        # and each failed SSH login counted once, none of the good ones
        recorded = (
            "site_device_source_zone:netwarden_access_login_failures:increase5m"
            f'{{device="{SWITCH}", source_zone="unknown"}}'
        )
        assert _until(
            lambda: stack.prometheus.query(f"{recorded} == {FAILED_LOGINS}"),
            lambda: str(stack.prometheus.query(recorded)),
        )


@pytest.mark.parametrize(("want", "receiver"), SECURITY)
def test_the_security_webhook_is_notified_with_the_dashboard(
    stack: Stack, want: dict[str, str], receiver: str
) -> None:
    """The notification body: what fired, where, and which dashboard to open."""
    hook = stack.webhook
    found = _until(
        lambda: [a for a in hook.alerts(receiver) if _matches(a["labels"], want)],
        lambda: f"{want} not delivered to {receiver}: {hook.received}",
    )
    for alert in found:
        assert alert["status"] == "firing"
        assert alert["labels"]["alertname"] == want["alertname"]
        assert alert["labels"]["site"] == SITE
        assert alert["annotations"]["dashboard_url"] == f"/d/netwarden-security?var-site={SITE}"
        assert alert["annotations"]["runbook_url"].startswith("docs/runbooks.md#")
    # nor did it go anywhere else (the site's on-call receivers, the other security one)
    with hook.lock:
        elsewhere = [
            name
            for name, body in hook.received
            if name != receiver and any(_matches(a["labels"], want) for a in body["alerts"])
        ]
    assert elsewhere == []


def test_a_cut_off_site_inhibits_its_device_alerts_and_no_other_sites(stack: Stack) -> None:
    am = stack.alertmanager
    unreachable = {"alertname": "NetwardenSiteUnreachable", "site": CUT}
    cut_device = {"alertname": "NetwardenDeviceDown", "site": CUT, "instance": CUT_SWITCH}
    # nyc's firewall: the simulator runs none, so it is down while nyc's switches answer
    other_device = {"alertname": "NetwardenDeviceDown", "site": SITE, "instance": f"{SITE}-fw1"}

    def settled() -> dict[str, dict[str, Any]] | None:
        alerts = am.alerts()
        found = {
            name: [a for a in alerts if _matches(a["labels"], want)]
            for name, want in (
                ("unreachable", unreachable),
                ("cut", cut_device),
                ("other", other_device),
            )
        }
        if not all(len(v) == 1 for v in found.values()):
            return None
        if found["cut"][0]["status"]["state"] != "suppressed":
            return None  # the inhibitor learns of the source alert asynchronously
        return {name: v[0] for name, v in found.items()}

    state = _until(
        settled,
        lambda: json.dumps(
            [(a["labels"], a["status"]) for a in am.alerts() if a["labels"].get("site") == CUT],
            indent=1,
        ),
    )
    source, cut, other = state["unreachable"], state["cut"], state["other"]
    assert source["status"]["state"] == "active"
    assert _receivers(source) == ["field-pager"]
    assert cut["status"]["inhibitedBy"] == [source["fingerprint"]]
    assert _receivers(cut) == ["field-pager"]
    assert other["status"]["state"] == "active"
    assert other["status"]["inhibitedBy"] == []
    # every device alert of the cut site is inhibited, not only its switch's
    for alert in _find(am, {"alertname": "NetwardenDeviceDown", "site": CUT}):
        assert alert["status"]["state"] == "suppressed", alert
        assert source["fingerprint"] in alert["status"]["inhibitedBy"], alert
    # the cut site's alert is notified to the field on-call; the other site's device too
    hook = stack.webhook
    _until(
        lambda: [a for a in hook.alerts("field-pager") if _matches(a["labels"], unreachable)],
        lambda: f"{unreachable} not delivered: {hook.received}",
    )
    delivered = [a for a in hook.alerts("field-pager") if _matches(a["labels"], unreachable)]
    assert delivered[0]["annotations"]["dashboard_url"] == f"/d/netwarden-fleet?var-site={CUT}"
    delivered = _until(
        lambda: [a for a in hook.alerts("field-pager") if _matches(a["labels"], other_device)],
        lambda: f"{other_device} not delivered: {hook.received}",
    )
    assert delivered[0]["annotations"]["dashboard_url"] == f"/d/netwarden-site?var-site={SITE}"


def _show(stack: Stack, name: str, command: str) -> str:
    """``command``'s output on the simulated device ``name``, over SSH (Netmiko)."""
    from netmiko import ConnectHandler

    conn = ConnectHandler(**netmiko_args(stack.lab.sim(name), stack.lab.credentials))
    try:
        return str(conn.send_command(command))
    finally:
        conn.disconnect()


def test_a_wan_link_down_inhibits_its_sites_device_alerts(stack: Stack) -> None:
    """gva's WAN port is down (the simulator's ``show interfaces`` says so, the exporter
    exports oper status 0) while one of its two switches still answers: NetwardenWanLinkDown
    fires from Prometheus, is paged, and is what inhibits the other switch's DeviceDown;
    the site is not unreachable, so no SiteUnreachable shares the credit."""
    am = stack.alertmanager
    wan = {"alertname": "NetwardenWanLinkDown", "site": WAN_SITE, "instance": WAN_SWITCH}
    hung = {"alertname": "NetwardenDeviceDown", "site": WAN_SITE, "instance": WAN_HUNG}
    shown = _show(stack, WAN_SWITCH, f"show interfaces {WAN_PORT}")
    assert f"{WAN_PORT} is administratively down, line protocol is down" in shown, shown
    port = f'instance="{WAN_SWITCH}", interface="{WAN_PORT}"'
    # the exporter describes the port as the lab's inventory does: mode wan
    assert stack.prometheus.query(f'netwarden_interface_info{{{port}, mode="wan"}}')
    oper = f"netwarden_interface_oper_status{{{port}}}"
    assert _until(
        lambda: stack.prometheus.query(f"{oper} == 0"),
        lambda: str(stack.prometheus.query(oper)),
    )

    def settled() -> dict[str, dict[str, Any]] | None:
        alerts = am.alerts()
        source = [a for a in alerts if _matches(a["labels"], wan)]
        target = [a for a in alerts if _matches(a["labels"], hung)]
        if len(source) != 1 or len(target) != 1:
            return None
        if target[0]["status"]["state"] != "suppressed":
            return None  # the inhibitor learns of the source alert asynchronously
        return {"wan": source[0], "hung": target[0]}

    state = _until(
        settled,
        lambda: json.dumps(
            [
                (a["labels"], a["status"])
                for a in am.alerts()
                if a["labels"].get("site") == WAN_SITE
            ],
            indent=1,
        ),
    )
    source, target = state["wan"], state["hung"]
    assert source["labels"]["interface"] == WAN_PORT
    assert source["status"] == {"state": "active", "inhibitedBy": [], "silencedBy": []}
    assert _receivers(source) == ["field-pager"]
    assert target["status"]["inhibitedBy"] == [source["fingerprint"]]
    assert _receivers(target) == ["field-pager"]
    # every device alert of the site is inhibited by it (its firewall and server too)
    for alert in _find(am, {"alertname": "NetwardenDeviceDown", "site": WAN_SITE}):
        assert alert["status"]["state"] == "suppressed", alert
        assert alert["status"]["inhibitedBy"] == [source["fingerprint"]], alert
    # one gva switch answers: the site is not unreachable, the inhibition is the WAN alert's
    ratio = stack.prometheus.query(f'site:netwarden_up:ratio{{site="{WAN_SITE}"}} > 0')
    assert ratio, "gva has no device answering"
    unreachable = f'ALERTS{{alertname="NetwardenSiteUnreachable", site="{WAN_SITE}"}}'
    assert stack.prometheus.query(unreachable) == []
    assert _find(am, {"alertname": "NetwardenSiteUnreachable", "site": WAN_SITE}) == []
    # the other sites' alerts are not the WAN alert's to inhibit
    for alert in am.alerts():
        if alert["labels"].get("site") != WAN_SITE:
            assert source["fingerprint"] not in alert["status"]["inhibitedBy"], alert
    kbl = _find(am, {"alertname": "NetwardenSiteUnreachable", "site": CUT})
    assert [a["status"]["state"] for a in kbl] == ["active"]
    nyc = _find(am, {"alertname": "NetwardenDeviceDown", "site": SITE, "instance": f"{SITE}-fw1"})
    assert [a["status"]["inhibitedBy"] for a in nyc] == [[]]
