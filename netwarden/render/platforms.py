"""Renderers by device platform: the registry ``netwarden render`` dispatches through.

A renderer is registered once (``register_renderer``) by the module that
implements it; the core asks :func:`renderer_for` and never tests platforms
itself. Registered: ``ios`` (the IOS templates, :mod:`netwarden.render`) and
``nftables`` (site firewalls, ``platform: linux`` + ``model: nftables``,
:mod:`netwarden.render.nftables`). Linux servers have no renderer yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from netwarden.errors import RenderError
from netwarden.inventory.models import Device, Inventory


class Renderer(Protocol):
    """Turns one inventory device into its intended configuration text.

    ``name`` names the renderer in messages; ``suffix`` is the file suffix of its
    output (``.cfg``, ``.nft``); :meth:`handles` says whether a device is its.
    ``options`` of :meth:`render` are its Ansible role's variables (``ios_baseline_*``,
    ``nftables_firewall_*``) when the role renders; None: the role's defaults.
    """

    name: str
    suffix: str

    def handles(self, device: Device) -> bool: ...

    def render(
        self, inv: Inventory, device: Device, options: Mapping[str, object] | None = None
    ) -> str: ...


_RENDERERS: dict[str, Renderer] = {}


def register_renderer(renderer: Renderer) -> None:
    """Add ``renderer`` (a second one of the same name replaces the first)."""
    _RENDERERS[renderer.name] = renderer


def renderers() -> list[Renderer]:
    return list(_RENDERERS.values())


def renderer_for(device: Device) -> Renderer | None:
    """The registered renderer of ``device`` (None: its platform is not rendered)."""
    return next((r for r in _RENDERERS.values() if r.handles(device)), None)


def render_config(
    inv: Inventory, device: Device, options: Mapping[str, object] | None = None
) -> str:
    """The intended configuration of ``device`` by its platform's renderer (``options``: role variables).

    Raises:
        RenderError: no renderer handles the device's platform, or rendering failed.
    """
    renderer = renderer_for(device)
    if renderer is None:
        raise RenderError(
            f"{device.name}: no renderer for a {device.platform.value} {device.function.value}"
            f" (rendered: {', '.join(_RENDERERS) or 'none'})"
        )
    return renderer.render(inv, device, options)
