"""Machine-readable reports: JSON (the run itself), CSV (one row per result), SARIF 2.1.0.

CSV is opened by people, in spreadsheets and terminals: every cell goes through
:func:`netwarden.textsafe.csv_cell` (control characters escaped; a cell that
starts with ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading ``'``, the OWASP
rule, so a device named ``=HYPERLINK(...)`` is text, not a formula). JSON and
SARIF keep the values as they are (JSON escapes control characters itself).

SARIF: one ``result`` per failure or waived failure; waivers become
``suppressions`` (kind ``external``, status ``accepted``, with the approver
and justification), so code-scanning tools hide them without losing them.

Examples:
    >>> SARIF_LEVEL["critical"], SARIF_LEVEL["low"]
    ('error', 'note')
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from netwarden import __version__
from netwarden.compliance.models import AuditRun, Result, Status
from netwarden.textsafe import csv_cell

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVEL = {
    "critical": "error",
    "high": "error",
    "medium": "warning",
    "low": "note",
    "info": "note",
}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}
CSV_FIELDS = (
    "run_id",
    "device",
    "site",
    "rule",
    "title",
    "severity",
    "status",
    "message",
    "evidence",
    "waiver_approver",
    "waiver_expires",
    "expired_waiver",
    "cis",
    "nist_800_53_r5",
    "iso27001_2022",
)


def to_json(run: AuditRun) -> str:
    return run.model_dump_json(indent=1)


def to_csv(run: AuditRun) -> str:
    rules = {r.id: r for r in run.rules}
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for r in run.results:
        rule = rules.get(r.rule)
        refs = rule.references if rule else None
        row: dict[str, object] = {
            "run_id": run.meta.run_id,
            "device": r.device,
            "site": r.site,
            "rule": r.rule,
            "title": rule.title if rule else "",
            "severity": r.severity.value,
            "status": r.status.value,
            "message": r.message,
            "evidence": " | ".join(f"{e.where}: {e.text or e.note}" for e in r.evidence),
            "waiver_approver": r.waiver.approver if r.waiver else "",
            "waiver_expires": r.waiver.expires.isoformat() if r.waiver else "",
            "expired_waiver": r.expired_waiver.expires.isoformat() if r.expired_waiver else "",
            "cis": "; ".join(str(c) for c in refs.cis) if refs else "",
            "nist_800_53_r5": " ".join(refs.nist_800_53_r5) if refs else "",
            "iso27001_2022": " ".join(refs.iso27001_2022) if refs else "",
        }
        w.writerow({key: csv_cell(value) for key, value in row.items()})
    return buf.getvalue()


def _location(r: Result) -> list[dict[str, Any]]:
    out = []
    for e in r.evidence[:10]:
        loc: dict[str, Any] = {"artifactLocation": {"uri": Path(e.file).as_posix()}}
        if e.line:
            loc["region"] = {"startLine": e.line, "snippet": {"text": e.text}}
        out.append({"physicalLocation": loc, "message": {"text": e.note or e.text or "whole file"}})
    return out


def to_sarif(run: AuditRun) -> str:
    rules = list(run.rules)
    index = {r.id: i for i, r in enumerate(rules)}
    results = []
    for r in run.results:
        if r.status not in (Status.FAIL, Status.WAIVED, Status.ERROR):
            continue
        item: dict[str, Any] = {
            "ruleId": r.rule,
            "ruleIndex": index.get(r.rule, -1),
            "level": "error" if r.status is Status.ERROR else SARIF_LEVEL[r.severity.value],
            "message": {"text": f"{r.device}: {r.message or r.rule}"},
            "locations": _location(r)
            or [{"physicalLocation": {"artifactLocation": {"uri": r.device}}}],
            "properties": {"device": r.device, "site": r.site, "status": r.status.value},
        }
        if r.waiver is not None:
            item["suppressions"] = [
                {
                    "kind": "external",
                    "status": "accepted",
                    "justification": f"{r.waiver.justification} (approved by {r.waiver.approver}, expires {r.waiver.expires})",
                }
            ]
        results.append(item)
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "netwarden",
                        "version": __version__,
                        "informationUri": "https://example.int/netwarden/docs/compliance.md",
                        "rules": [
                            {
                                "id": rule.id,
                                "name": rule.id,
                                "shortDescription": {"text": rule.title},
                                "fullDescription": {"text": rule.rationale},
                                "help": {"text": f"Remediation:\n{rule.remediation}"},
                                "defaultConfiguration": {"level": SARIF_LEVEL[rule.severity.value]},
                                "properties": {
                                    "security-severity": SECURITY_SEVERITY[rule.severity.value],
                                    "tags": [
                                        "security",
                                        *(f"CIS {c.id}" for c in rule.references.cis),
                                        *(f"NIST {n}" for n in rule.references.nist_800_53_r5),
                                        *(f"ISO27001 {n}" for n in rule.references.iso27001_2022),
                                    ],
                                },
                            }
                            for rule in rules
                        ],
                    }
                },
                "automationDetails": {"id": f"netwarden-audit/{run.meta.run_id}"},
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "startTimeUtc": run.meta.started.isoformat(),
                        "endTimeUtc": run.meta.finished.isoformat(),
                    }
                ],
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=1)
