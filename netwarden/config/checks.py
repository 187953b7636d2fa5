"""Post-checks after a commit: a small list of named functions, each on a NEW session.

A change is confirmed only if every check passes. The first check is the new
session itself (if the change cut management access, no new session opens);
the others read the device through that session. Add a check by appending a
:class:`PostCheck` to :data:`POST_CHECKS` (or pass your own tuple to apply).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from netwarden.config.models import CheckOutcome
from netwarden.config.plan import remediation
from netwarden.devices import DeviceSession, SessionOptions, session_for
from netwarden.errors import NetwardenError
from netwarden.inventory.models import Device, InterfaceMode

logger = logging.getLogger(__name__)

MGMT_ZONE = "mgmt"
NEW_SESSION_CHECK = "new_ssh_session"


@dataclass(frozen=True)
class CheckContext:
    """What a check sees: the device, its intended config and a fresh session to it."""

    device: Device
    intended: str
    session: DeviceSession


@dataclass(frozen=True)
class PostCheck:
    name: str
    run: Callable[[CheckContext], CheckOutcome]


def mgmt_interface(device: Device) -> str | None:
    """The management interface: the SVI (or routed port) in the management zone."""
    for iface in device.interfaces:
        if iface.zone == MGMT_ZONE and iface.mode in (InterfaceMode.SVI, InterfaceMode.ROUTED):
            return iface.name
    return None


def check_hostname(ctx: CheckContext) -> CheckOutcome:
    """The device reports the hostname of the inventory."""
    got = ctx.session.get_facts().hostname
    ok = got == ctx.device.name
    return CheckOutcome(
        name="hostname",
        passed=ok,
        detail=f"hostname {got!r}" + ("" if ok else f", expected {ctx.device.name!r}"),
    )


def check_mgmt_interface_up(ctx: CheckContext) -> CheckOutcome:
    """The management interface exists, is enabled and is up."""
    name = mgmt_interface(ctx.device)
    if name is None:
        return CheckOutcome(
            name="mgmt_interface_up",
            passed=False,
            detail=f"the inventory gives {ctx.device.name} no interface in zone {MGMT_ZONE!r}",
        )
    state = ctx.session.get_interfaces().get(name)
    if state is None:
        return CheckOutcome(
            name="mgmt_interface_up", passed=False, detail=f"{name} is not reported by the device"
        )
    ok = state.is_enabled and state.is_up
    return CheckOutcome(
        name="mgmt_interface_up",
        passed=ok,
        detail=f"{name} enabled={state.is_enabled} up={state.is_up}",
    )


def check_config_matches_intended(ctx: CheckContext) -> CheckOutcome:
    """Running now needs no remediation to be the intended config."""
    left = remediation(ctx.session.get_config("running"), ctx.intended, ctx.device.platform)
    if not left:
        return CheckOutcome(
            name="config_matches_intended", passed=True, detail="no remediation left"
        )
    shown = "; ".join(left[:5]) + (" ..." if len(left) > 5 else "")
    return CheckOutcome(
        name="config_matches_intended",
        passed=False,
        detail=f"{len(left)} command(s) still needed: {shown}",
    )


POST_CHECKS: tuple[PostCheck, ...] = (
    PostCheck("hostname", check_hostname),
    PostCheck("mgmt_interface_up", check_mgmt_interface_up),
    PostCheck("config_matches_intended", check_config_matches_intended),
)


def run_post_checks(
    device: Device,
    intended: str,
    options: SessionOptions,
    checks: Sequence[PostCheck] = POST_CHECKS,
) -> tuple[CheckOutcome, ...]:
    """Open a new session, then run every check on it (a failing check does not stop the others)."""
    session = session_for(device, options)
    try:
        session.open()
    except NetwardenError as exc:
        return (CheckOutcome(name=NEW_SESSION_CHECK, passed=False, detail=str(exc)),)
    outcomes = [CheckOutcome(name=NEW_SESSION_CHECK, passed=True, detail="a new session opened")]
    try:
        ctx = CheckContext(device=device, intended=intended, session=session)
        for check in checks:
            try:
                outcomes.append(check.run(ctx))
            except NetwardenError as exc:
                outcomes.append(CheckOutcome(name=check.name, passed=False, detail=str(exc)))
    finally:
        session.close()
    return tuple(outcomes)
