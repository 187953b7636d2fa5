"""netwarden's five dashboards, defined once (issue 17).

Every query reads what our exporters export (device exporter, access exporter, the
auditor, node_exporter), the recording rules of ``dashboards/rules/`` or Prometheus's
own ``up`` and ``ALERTS``; the dashboard linter (``tests/unit/dashboards``) holds every
panel to that, and to a unit, a description and ``$__rate_interval`` for every range.
Queries filter on ``site=~"$site"`` where the series carry a site; the central
exporters' own metrics (exporter, access exporter) carry none and are not filtered.
"""

from __future__ import annotations

from netwarden.dashboards.model import (
    BAD_WHEN_ANY,
    OK_WHEN_HIGH,
    Dashboard,
    Kind,
    Panel,
    Query,
    Row,
    Step,
)

S = 'site=~"$site"'
"""The site filter of every query whose series have a site label."""
RI = "[$__rate_interval]"
"""The range of every rate and increase: Grafana's, at least four scrape intervals."""

FLEET_UID = "netwarden-fleet"
SITE_UID = "netwarden-site"
SECURITY_UID = "netwarden-security"
COMPLIANCE_UID = "netwarden-compliance"
PIPELINE_UID = "netwarden-pipeline"

BACKUP_AGE = (Step(None, "green"), Step(86400, "orange"), Step(2 * 86400, "red"))
"""Backups: a day old is late, two days old alerts (NetwardenBackupTooOld)."""
SCORE = (Step(None, "red"), Step(0.8, "orange"), Step(0.95, "green"))
"""Compliance scores: below 80 % red, below 95 % orange."""
UP_DOWN = (Step(None, "red"), Step(1, "green"))
"""States where 1 is up and 0 is down (devices, links, targets)."""


def _fleet() -> Dashboard:
    devices = Row(
        "Devices",
        (
            Panel(
                "Devices up by site",
                "Share of each site's devices whose health probe succeeds "
                "(recording rule site:netwarden_up:ratio). 0 % means the whole site is "
                "unreachable: look at its WAN links first.",
                "percentunit",
                (Query(f"site:netwarden_up:ratio{{{S}}}", "{{site}}", instant=True),),
                Kind.BARGAUGE,
                OK_WHEN_HIGH,
                width=8,
                min=0,
                max=1,
            ),
            Panel(
                "Devices down by site",
                "Devices whose health probe fails, per site (netwarden_up == 0). "
                "Alert: NetwardenDeviceDown after 2 minutes.",
                "none",
                (
                    Query(
                        f'sum by (site) (1 - netwarden_up{{job="netwarden_health", {S}}})',
                        "{{site}}",
                        instant=True,
                    ),
                ),
                Kind.STAT,
                BAD_WHEN_ANY,
                width=8,
            ),
            Panel(
                "Devices probed by site",
                "Devices Prometheus probes per site (recording rule site:netwarden_up:count): "
                "a drop means targets disappeared from the inventory or the file SD.",
                "none",
                (Query(f"site:netwarden_up:count{{{S}}}", "{{site}}", instant=True),),
                Kind.STAT,
                width=8,
            ),
        ),
    )
    wan = Row(
        "WAN links",
        (
            Panel(
                "WAN links by site",
                "Worst WAN link state of each site over time (1 up, 0 down; recording rule "
                "site:netwarden_wan_oper_status:min over the inventory's mode: wan "
                "interfaces). Alert: NetwardenWanLinkDown.",
                "none",
                (Query(f"site:netwarden_wan_oper_status:min{{{S}}}", "{{site}}"),),
                Kind.STATE_TIMELINE,
                UP_DOWN,
            ),
            Panel(
                "WAN link state",
                "Every WAN link now: 1 up, 0 down (instance_interface:"
                "netwarden_interface_oper_status:wan).",
                "none",
                (
                    Query(
                        f"instance_interface:netwarden_interface_oper_status:wan{{{S}}}",
                        "{{site}} {{instance}} {{interface}}",
                        instant=True,
                    ),
                ),
                Kind.TABLE,
                UP_DOWN,
            ),
        ),
    )
    interfaces = Row(
        "Interfaces",
        (
            Panel(
                "Interface errors (top 10)",
                "Receive plus transmit errors per second of the ten worst interfaces "
                "(recording rule instance_interface:netwarden_interface_errors:rate5m). "
                "Alert above 0.1/s for 10 minutes: NetwardenInterfaceErrors.",
                "pps",
                (
                    Query(
                        f"topk(10, instance_interface:netwarden_interface_errors:rate5m{{{S}}})",
                        "{{instance}} {{interface}}",
                    ),
                ),
                thresholds=(Step(None, "green"), Step(0.1, "red")),
            ),
            Panel(
                "Interface discards (top 10)",
                "Received plus sent packets discarded per second, the ten worst interfaces: "
                "congestion or policing where errors are zero.",
                "pps",
                (
                    Query(
                        "topk(10, sum by (instance, interface) ("
                        f"rate(netwarden_interface_receive_discards_total{{{S}}}{RI})"
                        f" + rate(netwarden_interface_transmit_discards_total{{{S}}}{RI})))",
                        "{{instance}} {{interface}}",
                    ),
                ),
            ),
        ),
    )
    config = Row(
        "Configuration",
        (
            Panel(
                "Devices drifted from intended",
                "Devices whose running config differs from the intended one, per site "
                '(netwarden_config_drift{against="intended"}). Alert: NetwardenConfigDrift.',
                "none",
                (
                    Query(
                        "sum by (site) (netwarden_config_drift"
                        f'{{job="netwarden_config", against="intended", {S}}})',
                        "{{site}}",
                        instant=True,
                    ),
                ),
                Kind.STAT,
                BAD_WHEN_ANY,
            ),
            Panel(
                "Oldest config backup by site",
                "Age of the oldest device backup of each site. Alert above two days: "
                "NetwardenBackupTooOld.",
                "s",
                (
                    Query(
                        "max by (site) (netwarden_config_backup_age_seconds"
                        f'{{job="netwarden_config", {S}}})',
                        "{{site}}",
                        instant=True,
                    ),
                ),
                Kind.BARGAUGE,
                BACKUP_AGE,
            ),
        ),
    )
    return Dashboard(
        FLEET_UID,
        "netwarden / Fleet overview",
        "Every site at a glance: devices up, WAN links, interface errors, config drift "
        "and backup age.",
        (devices, wan, interfaces, config),
    )


def _site() -> Dashboard:
    devices = Row(
        "Devices",
        (
            Panel(
                "Device reachability",
                "1 while the device's health probe succeeds, 0 when it fails (netwarden_up).",
                "none",
                (Query(f'netwarden_up{{job="netwarden_health", {S}}}', "{{instance}}"),),
                Kind.STATE_TIMELINE,
                UP_DOWN,
                width=24,
            ),
            Panel(
                "CPU usage",
                "CPU usage of each device (netwarden_device_cpu_usage_ratio).",
                "percentunit",
                (Query(f"netwarden_device_cpu_usage_ratio{{{S}}}", "{{instance}}"),),
                thresholds=(Step(None, "green"), Step(0.8, "orange"), Step(0.95, "red")),
                width=8,
                min=0,
                max=1,
            ),
            Panel(
                "Memory used",
                "Share of memory in use on each device (used / (used + available)).",
                "percentunit",
                (
                    Query(
                        f"netwarden_device_memory_used_bytes{{{S}}} / "
                        f"(netwarden_device_memory_used_bytes{{{S}}}"
                        f" + netwarden_device_memory_available_bytes{{{S}}})",
                        "{{instance}}",
                    ),
                ),
                thresholds=(Step(None, "green"), Step(0.85, "orange"), Step(0.95, "red")),
                width=8,
                min=0,
                max=1,
            ),
            Panel(
                "Uptime",
                "Time since each device booted: under an hour means it restarted recently.",
                "s",
                (Query(f"netwarden_device_uptime_seconds{{{S}}}", "{{instance}}", instant=True),),
                Kind.STAT,
                (Step(None, "orange"), Step(3600, "green")),
                width=8,
            ),
        ),
    )
    interfaces = Row(
        "Interfaces",
        (
            Panel(
                "Interface traffic in",
                "Bits per second received on each interface.",
                "bps",
                (
                    Query(
                        f"8 * rate(netwarden_interface_receive_bytes_total{{{S}}}{RI})",
                        "{{instance}} {{interface}}",
                    ),
                ),
            ),
            Panel(
                "Interface traffic out",
                "Bits per second sent on each interface.",
                "bps",
                (
                    Query(
                        f"8 * rate(netwarden_interface_transmit_bytes_total{{{S}}}{RI})",
                        "{{instance}} {{interface}}",
                    ),
                ),
            ),
            Panel(
                "Interface errors",
                "Receive plus transmit errors per second "
                "(instance_interface:netwarden_interface_errors:rate5m); alert above 0.1/s.",
                "pps",
                (
                    Query(
                        f"instance_interface:netwarden_interface_errors:rate5m{{{S}}}",
                        "{{instance}} {{interface}}",
                    ),
                ),
                thresholds=(Step(None, "green"), Step(0.1, "red")),
            ),
            Panel(
                "WAN links",
                "The site's WAN links over time: 1 up, 0 down.",
                "none",
                (
                    Query(
                        f"instance_interface:netwarden_interface_oper_status:wan{{{S}}}",
                        "{{instance}} {{interface}}",
                    ),
                ),
                Kind.STATE_TIMELINE,
                UP_DOWN,
            ),
        ),
    )
    config = Row(
        "Configuration and compliance",
        (
            Panel(
                "Config drift (changed lines)",
                "Lines (+/-) between each device's running config and the intended one or "
                "its last backup (netwarden_config_drift_lines).",
                "none",
                (
                    Query(
                        f'netwarden_config_drift_lines{{job="netwarden_config", {S}}}',
                        "{{instance}} vs {{against}}",
                    ),
                ),
                thresholds=BAD_WHEN_ANY,
                width=8,
            ),
            Panel(
                "Backup age",
                "Age of each device's last config backup; alert above two days.",
                "s",
                (
                    Query(
                        f'netwarden_config_backup_age_seconds{{job="netwarden_config", {S}}}',
                        "{{instance}}",
                        instant=True,
                    ),
                ),
                Kind.BARGAUGE,
                BACKUP_AGE,
                width=8,
            ),
            Panel(
                "Compliance score",
                "The site's compliance score per framework (share of assessed results "
                "that pass or are waived).",
                "percentunit",
                (
                    Query(
                        f'netwarden_compliance_score_ratio{{job="netwarden_compliance", {S}}}',
                        "{{framework}}",
                    ),
                ),
                thresholds=SCORE,
                width=8,
                min=0,
                max=1,
            ),
        ),
    )
    access = Row(
        "Access",
        (
            Panel(
                "Logins by outcome and user class",
                "Login attempts per second at the site's devices (syslog, access exporter).",
                "eps",
                (
                    Query(
                        "sum by (outcome, user_class) (rate(netwarden_access_events_total"
                        f'{{event=~"login|ssh_userauth|invalid_user", {S}}}{RI}))',
                        "{{outcome}} {{user_class}}",
                    ),
                ),
            ),
            Panel(
                "Firewall rule matches",
                "Packets per second matching each named firewall rule counter of the "
                "site's firewalls.",
                "pps",
                (
                    Query(
                        f"sum by (instance, rule) (rate(netwarden_firewall_rule_packets_total"
                        f"{{{S}}}{RI}))",
                        "{{instance}} {{rule}}",
                    ),
                ),
            ),
        ),
    )
    return Dashboard(
        SITE_UID,
        "netwarden / Site detail",
        "One site's devices, interfaces, WAN links, configuration, compliance and access.",
        (devices, interfaces, config, access),
        site_all=False,
    )


def _security() -> Dashboard:
    auditor = Row(
        "Traffic auditor",
        (
            Panel(
                "Auditor incidents by detector",
                "Incidents opened or raised in severity per detector, per interval "
                "(netwarden_auditor_events_total). Alert: NetwardenAuditorIncident.",
                "short",
                (
                    Query(
                        f"sum by (detector) (increase(netwarden_auditor_events_total{{{S}}}{RI}))",
                        "{{detector}}",
                    ),
                ),
                thresholds=BAD_WHEN_ANY,
            ),
            Panel(
                "Auditor incidents by site and severity",
                "Incidents per site and auditor severity, per interval.",
                "short",
                (
                    Query(
                        "sum by (site, severity) (increase(netwarden_auditor_events_total"
                        f"{{{S}}}{RI}))",
                        "{{site}} {{severity}}",
                    ),
                ),
                thresholds=BAD_WHEN_ANY,
            ),
            Panel(
                "Open incidents",
                "Incidents the auditor holds open now, per site.",
                "none",
                (
                    Query(
                        f"sum by (site) (netwarden_auditor_incidents_open{{{S}}})",
                        "{{site}}",
                        instant=True,
                    ),
                ),
                Kind.STAT,
                BAD_WHEN_ANY,
                width=24,
                height=5,
            ),
        ),
    )
    access = Row(
        "Access",
        (
            Panel(
                "Failed logins by site and user class",
                "Failed logins, SSH authentications and invalid users per second (syslog of "
                "the devices, access exporter). Alert: NetwardenLoginFailuresRepeated.",
                "eps",
                (
                    Query(
                        "sum by (site, user_class) (rate(netwarden_access_events_total"
                        f'{{event=~"login|ssh_userauth|invalid_user", outcome="failure", {S}}}'
                        f"{RI}))",
                        "{{site}} {{user_class}}",
                    ),
                ),
                thresholds=(Step(None, "green"), Step(0.02, "orange")),
            ),
            Panel(
                "Successful logins by site and user class",
                "Successful logins and SSH authentications per second. Alert on a success "
                "after failures from the same zone: NetwardenLoginAfterFailures.",
                "eps",
                (
                    Query(
                        "sum by (site, user_class) (rate(netwarden_access_events_total"
                        f'{{event=~"login|ssh_userauth", outcome="success", {S}}}{RI}))',
                        "{{site}} {{user_class}}",
                    ),
                ),
            ),
            Panel(
                "Login failures per source zone (5 min)",
                "Failures in the last five minutes per device and source zone (recording "
                "rule); the alert fires at 5. The access exporter's /events log has the "
                "addresses and users.",
                "short",
                (
                    Query(
                        "site_device_source_zone:netwarden_access_login_failures:increase5m"
                        f"{{{S}}}",
                        "{{site}} {{device}} from {{source_zone}}",
                    ),
                ),
                thresholds=(Step(None, "green"), Step(5, "red")),
            ),
            Panel(
                "Config changes by user class",
                "Configuration changes logged per interval, by site and user class; outside "
                "the change window they alert (NetwardenConfigChangeOutsideWindow).",
                "short",
                (
                    Query(
                        "sum by (site, user_class) (increase(netwarden_access_events_total"
                        f'{{event="config_change", {S}}}{RI}))',
                        "{{site}} {{user_class}}",
                    ),
                ),
            ),
        ),
    )
    firewall = Row(
        "Firewall",
        (
            Panel(
                "Denied flows per firewall rule",
                "Packets per second matching each firewall's named rule counters (one per "
                "flow policy rule id; the deny rules' counters are the denied flows). The "
                "exporter gives no action label: read the rule id against the flow policy.",
                "pps",
                (
                    Query(
                        "sum by (site, instance, rule) (rate("
                        f"netwarden_firewall_rule_packets_total{{{S}}}{RI}))",
                        "{{site}} {{instance}} {{rule}}",
                    ),
                ),
                width=24,
            ),
        ),
    )
    alerts = Row(
        "Alerts",
        (
            Panel(
                "Alert timeline",
                "Firing alerts over time, by alert name and site (Prometheus's ALERTS).",
                "none",
                (
                    Query(
                        f'max by (alertname, site) (ALERTS{{alertstate="firing", {S}}})',
                        "{{alertname}} {{site}}",
                    ),
                ),
                Kind.STATE_TIMELINE,
                (Step(None, "transparent"), Step(1, "red")),
                width=16,
            ),
            Panel(
                "Firing alerts by severity",
                "Alerts firing now, by severity.",
                "none",
                (
                    Query(
                        f'count by (severity) (ALERTS{{alertstate="firing", {S}}})',
                        "{{severity}}",
                        instant=True,
                    ),
                ),
                Kind.STAT,
                BAD_WHEN_ANY,
                width=8,
            ),
        ),
    )
    return Dashboard(
        SECURITY_UID,
        "netwarden / Security",
        "What the security team watches: the traffic auditor's incidents, logins and "
        "config changes at the devices, firewall rule counters and the alert timeline.",
        (auditor, access, firewall, alerts),
    )


def _compliance() -> Dashboard:
    job = f'job="netwarden_compliance", {S}'
    score = Row(
        "Score",
        (
            Panel(
                "Compliance score per site and framework",
                "Share of assessed results that pass or are waived, per site and framework "
                "(netwarden_compliance_score_ratio).",
                "percentunit",
                (
                    Query(
                        f"netwarden_compliance_score_ratio{{{job}}}",
                        "{{site}} {{framework}}",
                        instant=True,
                    ),
                ),
                Kind.BARGAUGE,
                SCORE,
                min=0,
                max=1,
            ),
            Panel(
                "Failing results per site and framework",
                "Rules that fail now, per site and framework.",
                "none",
                (
                    Query(
                        f'netwarden_compliance_results{{status="fail", {job}}}',
                        "{{site}} {{framework}}",
                        instant=True,
                    ),
                ),
                Kind.BARGAUGE,
                BAD_WHEN_ANY,
            ),
            Panel(
                "Score trend",
                "The score per site and framework over time.",
                "percentunit",
                (Query(f"netwarden_compliance_score_ratio{{{job}}}", "{{site}} {{framework}}"),),
                thresholds=SCORE,
                min=0,
                max=1,
            ),
            Panel(
                "Score drop over a day",
                "How far each score fell below its maximum of the last day (recording rule); "
                "alert above 5 points: NetwardenComplianceScoreDrop.",
                "percentunit",
                (
                    Query(
                        f"site_framework:netwarden_compliance_score_ratio:drop1d{{{S}}}",
                        "{{site}} {{framework}}",
                    ),
                ),
                thresholds=(Step(None, "green"), Step(0.05, "red")),
            ),
        ),
    )
    results = Row(
        "Results",
        (
            Panel(
                "Results by status",
                "All frameworks' results by status (pass, fail, waived, error, not "
                "applicable) across the selected sites.",
                "none",
                (
                    Query(
                        f'sum by (status) (netwarden_compliance_results{{framework="all", {job}}})',
                        "{{status}}",
                        instant=True,
                    ),
                ),
                Kind.STAT,
            ),
            Panel(
                "Waived results",
                "Results waived per site and framework. Waiver expiry dates are not "
                "exported as a metric: `netwarden audit` lists the waivers that expire.",
                "none",
                (
                    Query(
                        f'netwarden_compliance_results{{status="waived", {job}}}',
                        "{{site}} {{framework}}",
                        instant=True,
                    ),
                ),
                Kind.BARGAUGE,
            ),
            Panel(
                "Report age",
                "Time since each site's compliance report was written; alert after 8 days "
                "(NetwardenComplianceReportStale).",
                "s",
                (
                    Query(
                        f"time() - netwarden_compliance_report_timestamp_seconds{{{job}}}",
                        "{{site}}",
                        instant=True,
                    ),
                ),
                Kind.STAT,
                (Step(None, "green"), Step(7 * 86400, "orange"), Step(8 * 86400, "red")),
                width=24,
                height=5,
            ),
        ),
    )
    return Dashboard(
        COMPLIANCE_UID,
        "netwarden / Compliance",
        "Compliance scores per site and framework, failing and waived results, the trend "
        "and the report's age.",
        (score, results),
    )


def _pipeline() -> Dashboard:
    targets = Row(
        "Targets",
        (
            Panel(
                "Scrape targets up by job",
                "Share of each job's targets Prometheus scrapes successfully (up). The "
                "central exporters have no site: this panel is not filtered by $site.",
                "percentunit",
                (Query("avg by (job) (up)", "{{job}}", instant=True),),
                Kind.BARGAUGE,
                OK_WHEN_HIGH,
                min=0,
                max=1,
            ),
            Panel(
                "Failing collectors",
                "Probes whose collector (one reading of a module) failed, by collector. "
                "Alert: NetwardenCollectorFailing.",
                "none",
                (
                    Query(
                        f"sum by (collector) (1 - netwarden_collector_success{{{S}}})",
                        "{{collector}}",
                    ),
                ),
                thresholds=BAD_WHEN_ANY,
            ),
            Panel(
                "Probe duration",
                "The slowest probe of each module's job (netwarden_scrape_duration_seconds): "
                "near the scrape timeout, probes start failing.",
                "s",
                (
                    Query(
                        f"max by (job) (netwarden_scrape_duration_seconds{{{S}}})",
                        "{{job}}",
                    ),
                ),
            ),
        ),
    )
    exporter = Row(
        "Device exporter",
        (
            Panel(
                "Probes by module and result",
                "Probes the device exporter answered per second.",
                "reqps",
                (
                    Query(
                        f"sum by (module, result) (rate(netwarden_exporter_probes_total{RI}))",
                        "{{module}} {{result}}",
                    ),
                ),
                width=8,
            ),
            Panel(
                "Requests rejected and probes in flight",
                "Requests the exporter refused per second (over its concurrency cap or "
                "malformed) and the probes running now.",
                "short",
                (
                    Query(
                        f"sum(rate(netwarden_exporter_requests_rejected_total{RI}))",
                        "rejected/s",
                    ),
                    Query("sum(netwarden_exporter_probes_in_flight)", "in flight"),
                ),
                thresholds=BAD_WHEN_ANY,
                width=8,
            ),
            Panel(
                "Device sessions",
                "Sessions opened and reused per second, and the idle sessions kept between probes.",
                "short",
                (
                    Query(
                        f"sum(rate(netwarden_exporter_sessions_opened_total{RI}))",
                        "opened/s",
                    ),
                    Query(
                        f"sum(rate(netwarden_exporter_sessions_reused_total{RI}))",
                        "reused/s",
                    ),
                    Query("sum(netwarden_exporter_sessions_idle)", "idle"),
                ),
                width=8,
            ),
        ),
    )
    inputs = Row(
        "Access exporter and auditor",
        (
            Panel(
                "Syslog messages",
                "Syslog messages the access exporter received and could not parse, "
                "per second. Alert when none arrive: NetwardenAccessNoSyslog.",
                "mps",
                (
                    Query(f"sum(rate(netwarden_access_syslog_messages_total{RI}))", "received"),
                    Query(f"sum(rate(netwarden_access_syslog_unparsed_total{RI}))", "unparsed"),
                ),
                width=8,
            ),
            Panel(
                "Auditor packets read",
                "Packets per second each site's auditor reads; zero means it sees no "
                "traffic (NetwardenAuditorNoTraffic).",
                "pps",
                (
                    Query(
                        f"sum by (site) (rate(netwarden_auditor_packets_total{{{S}}}{RI}))",
                        "{{site}}",
                    ),
                ),
                thresholds=(Step(None, "red"), Step(0.001, "green")),
                width=8,
            ),
            Panel(
                "Auditor errors",
                "Decode, input and detector errors per second of the auditors.",
                "eps",
                (
                    Query(
                        f"sum by (site) (rate(netwarden_auditor_decode_errors_total{{{S}}}{RI}))",
                        "decode {{site}}",
                    ),
                    # the input error series appear with the first error: 0 until then
                    Query(
                        f"sum by (site) (rate(netwarden_auditor_input_errors_total{{{S}}}{RI}))"
                        " or sum by (site) (0 * rate("
                        f"netwarden_auditor_packets_total{{{S}}}{RI}))",
                        "input {{site}}",
                    ),
                    Query(
                        f"sum by (site) (rate(netwarden_auditor_detector_errors_total{{{S}}}{RI}))",
                        "detector {{site}}",
                    ),
                ),
                thresholds=BAD_WHEN_ANY,
                width=8,
            ),
        ),
    )
    to_hq = Row(
        "Auditor events to HQ",
        (
            Panel(
                "Events waiting for HQ",
                "Event messages each site's auditor has not delivered to HQ's log server yet "
                "(queued or in its spool); they grow while HQ is unreachable and fall to zero "
                "on the replay. Alert: NetwardenAuditorHqUnreachable.",
                "short",
                (
                    Query(
                        f"sum by (site) (netwarden_auditor_events_pending{{{S}}})",
                        "{{site}}",
                    ),
                ),
                thresholds=(Step(None, "green"), Step(1000, "orange")),
                width=8,
            ),
            Panel(
                "Spool size",
                "Bytes in each auditor's spool of events for HQ; at its bound "
                "(--spool-max-bytes) the oldest events are dropped.",
                "bytes",
                (
                    Query(
                        f"sum by (site) (netwarden_auditor_spool_bytes{{{S}}})",
                        "{{site}}",
                    ),
                ),
                width=8,
            ),
            Panel(
                "Events to HQ delivered and dropped",
                "Event messages per second HQ's log server acknowledged, and those the "
                "bounded spool dropped, by reason. Alert: NetwardenAuditorEventsDropped.",
                "mps",
                (
                    Query(
                        "sum by (site) (rate(netwarden_auditor_events_delivered_total"
                        f"{{{S}}}{RI}))",
                        "delivered {{site}}",
                    ),
                    Query(
                        "sum by (site, reason) (rate(netwarden_auditor_events_dropped_total"
                        f"{{{S}}}{RI}))",
                        "dropped {{site}} {{reason}}",
                    ),
                ),
                width=8,
            ),
        ),
    )
    hosts = Row(
        "Monitoring hosts",
        (
            Panel(
                "Filesystem space available",
                "Free share of each monitoring host's filesystems (node_exporter). "
                "Alert: NetwardenFilesystemSpaceLow.",
                "percentunit",
                (
                    Query(
                        "min by (instance, mountpoint) ("
                        'node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|ramfs"}'
                        ' / node_filesystem_size_bytes{fstype!~"tmpfs|overlay|ramfs"})',
                        "{{instance}} {{mountpoint}}",
                    ),
                ),
                thresholds=(Step(None, "red"), Step(0.1, "orange"), Step(0.2, "green")),
                min=0,
                max=1,
            ),
            Panel(
                "CPU busy",
                "Share of CPU time each monitoring host spends outside idle (node_exporter).",
                "percentunit",
                (
                    Query(
                        f'1 - avg by (instance) (rate(node_cpu_seconds_total{{mode="idle"}}{RI}))',
                        "{{instance}}",
                    ),
                ),
                thresholds=(Step(None, "green"), Step(0.8, "orange"), Step(0.95, "red")),
                min=0,
                max=1,
            ),
        ),
    )
    return Dashboard(
        PIPELINE_UID,
        "netwarden / Exporter and pipeline health",
        "Is the monitoring itself healthy: scrape targets, the device exporter's probes "
        "and sessions, syslog input, the auditors, their events to HQ and the monitoring "
        "hosts.",
        (targets, exporter, inputs, to_hq, hosts),
    )


def dashboards() -> tuple[Dashboard, ...]:
    """The five dashboards, in the order of the dashboard links."""
    return (_fleet(), _site(), _security(), _compliance(), _pipeline())
