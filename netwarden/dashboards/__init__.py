"""Dashboards as code: one panel model (:mod:`.model`), the dashboards (:mod:`.catalog`),
Grafana provisioning JSON (:mod:`.grafana`) and the dashboard linter (:mod:`.lint`).

A workflow-layer package beside config, compliance and lab: it imports nothing of
netwarden below it and only the CLI imports it (docs/architecture.md).
"""
