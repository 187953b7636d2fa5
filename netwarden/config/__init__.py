"""Configuration workflows over device sessions: plan, apply, backup, drift.

The public entry points (the CLI and the Ansible modules call these):

- :func:`netwarden.config.plan.plan_fleet` / :func:`~netwarden.config.plan.plan_device`
- :func:`netwarden.config.apply.apply_fleet` / :func:`~netwarden.config.apply.apply_device`
- :func:`netwarden.config.backup.run_backup`
- :func:`netwarden.config.drift.drift_fleet` / :func:`~netwarden.config.drift.drift_device`
"""
