"""Plan: what applying the intended config would change, without changing anything.

Per device: read running, load the intended config as a replace candidate, take
the device's own diff, compute the remediation in the platform's dialect
(:mod:`netwarden.config.dialects`; IOS: hier_config's exact commands), and
discard the candidate. Running stays as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

from netwarden.config.dialects import dialect_for
from netwarden.config.models import DevicePlan, PlanReport
from netwarden.config.playbook_route import PlaybookOptions, plan_by_playbook, playbook_for
from netwarden.devices import DeviceSession, SessionOptions, session_for
from netwarden.devices.runner import DEFAULT_CONCURRENCY, run_each
from netwarden.errors import NetwardenError
from netwarden.inventory.models import Device, Platform

logger = logging.getLogger(__name__)


def remediation(running: str, intended: str, platform: Platform = Platform.IOS) -> tuple[str, ...]:
    """What turns ``running`` into ``intended`` in the platform's dialect (IOS: hier_config's commands).

    Examples:
        >>> remediation("hostname a\\nntp server 10.0.0.1\\n", "hostname a\\nntp server 10.0.0.2\\n")
        ('no ntp server 10.0.0.1', 'ntp server 10.0.0.2')
        >>> remediation("version 15.2\\nhostname a\\nsnmp-server user u g v3\\n", "hostname a\\n")
        ()
    """
    return dialect_for(platform).remediation(running, intended)


def plan_session(
    session: DeviceSession, intended: str, platform: Platform, *, discard: bool = True
) -> tuple[DevicePlan, str]:
    """Plan on an open session; return the plan and the running config it was made from.

    With ``discard=False`` the candidate stays loaded (apply commits it next).
    """
    running = session.get_config("running")
    session.load_replace_candidate(intended)
    diff = session.compare()
    if discard:
        session.discard()
    plan = DevicePlan(
        device=session.name,
        device_diff=dialect_for(platform).device_diff(diff),
        commands=remediation(running, intended, platform),
    )
    logger.debug("%s: planned (%d commands)", session.name, len(plan.commands))
    return plan, running


def plan_device(device: Device, intended: str, options: SessionOptions) -> DevicePlan:
    """Plan one device; a failure is reported in ``DevicePlan.error``, never raised."""
    try:
        session = session_for(device, options)
        session.open()
    except NetwardenError as exc:
        return DevicePlan(device=device.name, error=str(exc))
    try:
        return plan_session(session, intended, device.platform)[0]
    except NetwardenError as exc:
        return DevicePlan(device=device.name, error=str(exc))
    finally:
        session.close()


def plan_fleet(
    inventory: str,
    devices: Sequence[Device],
    configs: Mapping[str, str],
    options: SessionOptions,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_done: Callable[[DevicePlan], None] | None = None,
    playbooks: PlaybookOptions | None = None,
) -> PlanReport:
    """Plan every device (``configs``: intended config by device name) on a bounded pool.

    A device a playbook converges (:mod:`netwarden.config.playbook_route`: servers)
    is planned by its playbook in check mode (``playbooks`` says how to run it) and
    needs no entry in ``configs``.
    """

    def one(device: Device) -> DevicePlan:
        playbook = playbook_for(device)
        if playbook is None:
            return plan_device(device, configs[device.name], options)
        if playbooks is None:
            return DevicePlan(device=device.name, error=f"{playbook}: no playbook options given")
        return plan_by_playbook(device, playbook, playbooks)

    plans = run_each(
        devices,
        one,
        lambda d, exc: DevicePlan(device=d.name, error=f"{d.name}: internal error: {exc!r}"),
        concurrency=concurrency,
        on_done=on_done,
    )
    return PlanReport(inventory=inventory, plans=tuple(plans))
