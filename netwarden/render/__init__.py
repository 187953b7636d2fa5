"""Render the intended configuration of every ``ios`` device from the inventory.

The templates and the role defaults are this package's data
(``netwarden/render/templates``, ``netwarden/render/defaults.yml``), so an
installed wheel renders; the ``ios_baseline`` Ansible role uses the same single
copy (its ``templates`` directory and ``defaults/main.yml`` are relative
symlinks to them). ``netwarden render`` and the role's ``template`` task feed
the templates the same variables:

- the role defaults (the ``ios_baseline_<thing>_enabled`` toggles and
  settings), and
- ``ios_baseline_device``: the plain data of one device's
  :class:`~netwarden.render.context.DeviceContext`, built by
  :func:`device_context` from the validated inventory (the role gets it from its
  lookup plugin, which calls the same function).

Secrets leave their ``SecretStr`` only inside the context builder, already
hashed (type 9), encoded (type 7) or localised (SNMPv3 keys); nothing here logs
a secret or a context.

Every template variable is one line of printable text unless declared
multi-line (:data:`~netwarden.render.guard.MULTILINE_VARS`, the banners): a line
break in a value would become a device command. The inventory models refuse
such values with file and line; :func:`check_template_vars` refuses whatever
slips through (a model built without validation, a role variable set in
Ansible) with device and variable, on both routes (``device_context`` and the
role's lookup call it), and the Jinja environment's ``finalize`` hook refuses
any expression that would still print one, naming device, template and line.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import yaml

from netwarden.errors import RenderError
from netwarden.inventory.models import Device, Inventory, Platform
from netwarden.inventory.select import select
from netwarden.render.clock import REFERENCE_YEAR, ios_clock
from netwarden.render.context import (
    BANNER_DELIMITER,
    MGMT_ZONE,
    USER_ZONES,
    DeviceContext,
    build_context,
    vlan_list,
)
from netwarden.render.guard import (
    DEVICE_VAR,
    IN_BANNER_VARS,
    MULTILINE_VARS,
    MultiLine,
    UnsafeOutputError,
    check_template_vars,
    finalize,
)
from netwarden.render.platforms import (
    Renderer,
    register_renderer,
    render_config,
    renderer_for,
    renderers,
)

__all__ = [
    "BANNER_DELIMITER",
    "DEVICE_VAR",
    "ENTRY_TEMPLATE",
    "IN_BANNER_VARS",
    "JINJA_OPTIONS",
    "MGMT_ZONE",
    "MULTILINE_VARS",
    "REFERENCE_YEAR",
    "ROLE_DEFAULTS",
    "TEMPLATE_DIR",
    "USER_ZONES",
    "DeviceContext",
    "MultiLine",
    "Renderer",
    "UnsafeOutputError",
    "check_role_vars",
    "check_template_vars",
    "device_context",
    "environment",
    "fingerprint",
    "ios_clock",
    "render_all",
    "render_config",
    "render_device",
    "renderer_for",
    "renderers",
    "role_defaults",
    "select_devices",
    "template_vars",
    "vlan_list",
]

logger = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATE_DIR = PACKAGE_DIR / "templates"
"""The templates (package data); the role's ``templates`` directory links here."""
ROLE_DEFAULTS = PACKAGE_DIR / "defaults.yml"
"""The role defaults (package data); the role's ``defaults/main.yml`` links here."""
ENTRY_TEMPLATE = "ios_baseline.j2"
# Role defaults that are Ansible plumbing, not template input.
NON_TEMPLATE_DEFAULTS = frozenset({"ios_baseline_output_dir"})

# Jinja settings shared with the role's template task (trim_blocks, lstrip_blocks there too).
JINJA_OPTIONS: dict[str, Any] = {
    "trim_blocks": True,
    "lstrip_blocks": True,
    "keep_trailing_newline": True,
    "autoescape": False,
}


@functools.cache
def environment() -> jinja2.Environment:
    """The Jinja environment over the package's templates.

    StrictUndefined: a typo fails the render. ``finalize``: an expression that
    would print a line break or a control character fails it too.
    """
    return jinja2.Environment(  # noqa: S701  (configs, not HTML: escaping would corrupt them)
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=jinja2.StrictUndefined,
        finalize=finalize,
        **JINJA_OPTIONS,
    )


@functools.cache
def role_defaults() -> dict[str, Any]:
    """The role's defaults (toggles and settings) that the templates read."""
    try:
        data = yaml.safe_load(ROLE_DEFAULTS.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RenderError(f"cannot read the role defaults {ROLE_DEFAULTS}: {exc}") from exc
    if not isinstance(data, dict):
        raise RenderError(f"{ROLE_DEFAULTS}: expected a mapping of ios_baseline_* variables")
    return {k: v for k, v in data.items() if k not in NON_TEMPLATE_DEFAULTS}


def device_context(inv: Inventory, device: Device) -> DeviceContext:
    """The render context of one ios device, checked by the render-time guard.

    The one builder every route uses: ``netwarden render`` (through
    :func:`template_vars`), the role's lookup plugin (which hands Ansible
    :meth:`DeviceContext.template_data`) and the tests.

    Raises:
        RenderError: the context cannot be built (see
            :func:`~netwarden.render.context.build_context`), or one of its
            values is not one printable line (:func:`check_template_vars`).
    """
    context = build_context(inv, device)
    check_template_vars(device.name, {DEVICE_VAR: context.template_data()})
    return context


def check_role_vars(device: str, variables: Mapping[str, Any]) -> None:
    """:func:`check_template_vars` on the ``ios_baseline_*`` template options among ``variables``.

    For the role's route, where Ansible supplies the options (role defaults,
    inventory or play variables) and renders without this module's environment.
    """
    check_template_vars(device, {k: v for k, v in variables.items() if k in role_defaults()})


def template_vars(
    inv: Inventory, device: Device, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Everything the templates see: role defaults (optionally overridden) plus the device."""
    unknown = sorted(k for k in overrides or {} if k not in role_defaults())
    if unknown:
        raise RenderError(
            f"unknown ios_baseline option(s) {', '.join(unknown)}; see {ROLE_DEFAULTS}"
        )
    role_vars = {**role_defaults(), **(overrides or {})}
    check_template_vars(device.name, role_vars)
    return {**role_vars, DEVICE_VAR: device_context(inv, device).template_data()}


def render_device(
    inv: Inventory, device: Device, overrides: Mapping[str, Any] | None = None
) -> str:
    """The full intended running config of one ios device, in ``show running-config`` form."""
    variables = _declare_multiline(template_vars(inv, device, overrides))
    try:
        return environment().get_template(ENTRY_TEMPLATE).render(variables)
    except UnsafeOutputError as exc:
        raise RenderError(
            f"{device.name}: {_template_line(exc)}: an expression would print a value that "
            f"{exc.problem}; refusing to render it (got {exc.value[:80]!r})"
        ) from None
    except jinja2.TemplateError as exc:
        where = (
            f"{exc.filename}:{exc.lineno}" if isinstance(exc, jinja2.TemplateSyntaxError) else ""
        )
        raise RenderError(
            f"{device.name}: template {where or ENTRY_TEMPLATE} failed: {exc.message or exc}"
        ) from exc


def _declare_multiline(variables: dict[str, Any]) -> dict[str, Any]:
    """Mark the values of :data:`MULTILINE_VARS` so ``finalize`` lets their line feeds through."""
    device = dict(variables[DEVICE_VAR])
    device["banners"] = {k: MultiLine(v) for k, v in device["banners"].items()}
    return {**variables, DEVICE_VAR: device}


def _template_line(exc: BaseException) -> str:
    """``template:line`` of the innermost template frame of ``exc`` (Jinja rewrites tracebacks)."""
    where = ENTRY_TEMPLATE
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            try:
                shown = Path(filename).resolve().relative_to(TEMPLATE_DIR)
            except ValueError:
                shown = Path(filename)
            where = f"{shown}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


def select_devices(inv: Inventory, limit: str | None = None) -> list[Device]:
    """ios devices matching ``limit`` (the grammar of :mod:`netwarden.inventory.select`).

    Device-name globs, site names (or globs), the inventory's groups (``site_<name>``,
    ``hq``, ``field_offices``, ``switches`` ...) and functions (``switch`` ...),
    comma-separated. ``None`` selects every ios device.
    """
    return [d for d in select(inv, limit) if d.platform is Platform.IOS]


def render_all(inv: Inventory, limit: str | None = None) -> dict[str, str]:
    """Intended configs of the selected ios devices, by device name (non-ios devices are skipped)."""
    configs = {d.name: render_device(inv, d) for d in select_devices(inv, limit)}
    logger.debug("rendered %d intended config(s)", len(configs))
    return configs


class IosRenderer:
    """IOS switches: the ``ios_baseline`` templates (:func:`render_device`)."""

    name = "ios"
    suffix = ".cfg"

    def handles(self, device: Device) -> bool:
        return device.platform is Platform.IOS

    def render(
        self, inv: Inventory, device: Device, options: Mapping[str, object] | None = None
    ) -> str:
        return render_device(inv, device, options)


register_renderer(IosRenderer())
importlib.import_module("netwarden.render.nftables")  # registers the nftables renderer


def fingerprint(config: str) -> str:
    """The sha256 of a rendered config (hex), to compare renders without showing them."""
    return hashlib.sha256(config.encode()).hexdigest()
