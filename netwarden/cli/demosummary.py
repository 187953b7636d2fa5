"""``make demo``: the closing summary, where to look and the key numbers, read from what the
demo produced (never written in by hand).

The same numbers go to ``out/demo/summary.json`` so that an end-to-end test can assert them
(issue 19). Numbers that only a running service knows (devices up, alerts firing) are read
from Prometheus and Alertmanager while they run (:func:`live_numbers`); the rest from the
demo's files (:func:`build_summary`). A number that could not be read is ``null``, shown as
"-": the table never invents one.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.table import Table

SUMMARY_FILE = "summary.json"


def _get_json(url: str) -> Any:
    import urllib.request  # noqa: PLC0415

    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 (loopback)
        return json.load(answer)


def live_numbers(prometheus: str | None, alertmanager: str | None) -> dict[str, Any]:
    """Devices up (``netwarden_up`` of the health probes) and Alertmanager's active alerts by
    name, from the running services; None for what does not answer."""
    import urllib.parse  # noqa: PLC0415

    out: dict[str, Any] = {"devices_up": None, "devices_probed": None, "alerts_firing": None}
    if prometheus:
        query = 'netwarden_up{job="netwarden_health"}'
        try:
            found = _get_json(
                f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': query})}"
            )
            values = [float(r["value"][1]) for r in found["data"]["result"]]
            out["devices_probed"] = len(values)
            out["devices_up"] = sum(1 for v in values if v == 1)
        except (OSError, ValueError, KeyError, TypeError):
            pass
    if alertmanager:
        try:
            alerts = _get_json(f"{alertmanager}/api/v2/alerts?active=true")
            out["alerts_firing"] = dict(
                sorted(Counter(str(a["labels"]["alertname"]) for a in alerts).items())
            )
        except (OSError, ValueError, KeyError, TypeError):
            pass
    return out


def count_jsonl(path: Path, key: str) -> dict[str, int] | None:
    """How many JSON lines of ``path`` have each value of ``key``; None without the file.
    A line that is not a JSON object with ``key`` is counted under "?"."""
    return _tally(path, lambda record: str(record[key]))


def _tally(path: Path, label: Callable[[Any], str]) -> dict[str, int] | None:
    """How many non-blank JSON lines of ``path`` have each ``label``; None without the file.
    A line that is not JSON, or that ``label`` cannot read, is counted under "?"."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    counts: Counter[str] = Counter()
    for line in lines:
        if not line.strip():
            continue
        try:
            counts[label(json.loads(line))] += 1
        except (ValueError, KeyError, TypeError, AttributeError):
            counts["?"] += 1
    return dict(sorted(counts.items()))


def compliance_numbers(report: Path) -> dict[str, Any] | None:
    """Score (passed or waived / assessed, unreadable devices left out, as the report and the
    exporter count it), failed results and devices of a ``report.json``; None without it."""
    from netwarden.compliance.history import overall  # noqa: PLC0415
    from netwarden.compliance.models import AuditRun  # noqa: PLC0415

    try:
        run = AuditRun.model_validate_json(report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    posture = overall(run.results, run.unread)
    return {
        "score": posture.score,
        "failed": posture.failed,
        "devices": len(run.devices),
        "report": str(report.with_suffix(".html")),
    }


def build_summary(
    workdir: Path,
    live: dict[str, Any],
    *,
    kept: bool,
    urls: dict[str, str],
    timeline: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Every number and place of the summary, from ``workdir``'s files and ``live``;
    ``timeline`` (:meth:`~netwarden.cli.demobase.Timeline.as_dict`): each step's and
    stage's seconds and the total (empty and None without it)."""
    times = timeline or {}
    evidence = workdir / "evidence"
    snapshots = workdir / "snapshots"
    notifications = count_jsonl(workdir / "notifications.jsonl", "receiver")
    return {
        "devices_up": live.get("devices_up"),
        "devices_probed": live.get("devices_probed"),
        "alerts_firing": live.get("alerts_firing"),
        "notifications": notifications,
        "compliance": compliance_numbers(workdir / "compliance" / "report.json"),
        "events": {
            "auditor_replay": count_jsonl(workdir / "auditor-events.jsonl", "detector"),
            "auditor_watch": count_jsonl(workdir / "auditor-watch-events.jsonl", "detector"),
            "access": _access_events(workdir / "access-events.jsonl"),
            "lab_sensors": live.get("lab_sensor_events"),
        },
        "live_attacks": live.get("live_attacks"),
        "where": {
            "compliance_report": str(workdir / "compliance" / "report.html"),
            "snapshots_dir": str(snapshots),
            "snapshots": sorted(str(p) for p in snapshots.glob("*.html")),
            "auditor_events": str(workdir / "auditor-events.jsonl"),
            "access_events": str(workdir / "access-events.jsonl"),
            "evidence": str(evidence),
            "evidence_pcaps": sum(1 for _ in evidence.rglob("*.pcap")) if evidence.is_dir() else 0,
            "backups": str(workdir / "backups"),
        },
        "kept": kept,
        "urls": dict(urls) if kept else {},
        "steps": list(times.get("steps", [])),
        "stages": list(times.get("stages", [])),
        "total_seconds": times.get("total_seconds"),
        "cpu_seconds": times.get("cpu_seconds"),
    }


def _access_events(path: Path) -> dict[str, int] | None:
    """Access events by ``event/outcome`` (e.g. ``ssh_userauth/failure``)."""
    return _tally(path, lambda record: f"{record.get('event', '?')}/{record.get('outcome', '?')}")


def _counts(counts: dict[str, int] | None) -> str:
    if counts is None:
        return "-"
    if not counts:
        return "0"
    return f"{sum(counts.values())}: " + ", ".join(f"{k} {v}" for k, v in counts.items())


def table(summary: dict[str, Any]) -> Table:
    """The summary as the demo prints it last."""
    t = Table(title="netwarden demo: where to look", show_lines=True)
    t.add_column("What")
    t.add_column("Numbers")
    t.add_column("Where")
    where = summary["where"]
    up, probed = summary["devices_up"], summary["devices_probed"]
    t.add_row("Devices up (netwarden_up, Prometheus)",
              "-" if up is None else f"{up} of {probed} probed", "")  # fmt: skip
    comp = summary["compliance"]
    score = "-" if comp is None or comp["score"] is None else f"{comp['score']:.1%}"
    failed = "" if comp is None else f", {comp['failed']} failed result(s)"
    t.add_row("Compliance score (live audit)", score + failed, where["compliance_report"])
    events = summary["events"]
    t.add_row("Auditor events, capture replayed", _counts(events["auditor_replay"]),
              where["auditor_events"])  # fmt: skip
    t.add_row("Auditor events, watched capture", _counts(events["auditor_watch"]), "")
    if events.get("lab_sensors") is not None:
        t.add_row("Namespace lab sensors' events", _counts(events["lab_sensors"]), "")
    attacks = summary.get("live_attacks")
    if attacks is not None:
        t.add_row("Live attacks detected (namespace lab)",
                  f"{attacks['detected']} of {attacks['run']}; "
                  + _counts(attacks["by_detector"]), attacks["events"])  # fmt: skip
    t.add_row("Access events (syslog)", _counts(events["access"]), where["access_events"])
    t.add_row("Evidence pcaps", str(where["evidence_pcaps"]), where["evidence"])
    t.add_row("Alerts firing (Alertmanager)", _counts(summary["alerts_firing"]),
              summary["urls"].get("alertmanager", ""))  # fmt: skip
    t.add_row("Notifications (demo webhook)", _counts(summary["notifications"]), "")
    t.add_row("Dashboard snapshots", str(len(where["snapshots"])), where["snapshots_dir"])
    if summary["urls"].get("prometheus"):
        t.add_row("Prometheus (kept running)", "", summary["urls"]["prometheus"])
    t.add_row("Config backups (git)", "", where["backups"])
    total = summary.get("total_seconds")
    if total is not None:
        slowest = sorted(summary.get("steps", []),
                         key=lambda s: -float(s["seconds"]))[:3]  # fmt: skip
        cpu = summary.get("cpu_seconds")
        t.add_row("Total time", _minutes(float(total))
                  + ("" if cpu is None else f" ({cpu:.0f} s of CPU)"),
                  "slowest steps: " + "; ".join(f"{s['title']} "
                                          f"{float(s['seconds']):.0f} s" for s in slowest))  # fmt: skip
    return t


def _minutes(seconds: float) -> str:
    """``4m 12s``."""
    return f"{int(seconds // 60)}m {int(seconds % 60):02d}s"


def write(summary: dict[str, Any], workdir: Path) -> Path:
    path = workdir / SUMMARY_FILE
    path.write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path
