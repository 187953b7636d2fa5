"""The typed render context and the single copy of templates and defaults (issue 12)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from netwarden.inventory import Inventory, load_inventory
from netwarden.render import (
    DEVICE_VAR,
    ROLE_DEFAULTS,
    TEMPLATE_DIR,
    DeviceContext,
    device_context,
    template_vars,
)


@pytest.fixture(scope="module")
def example(example_inventory: Path) -> Inventory:
    return load_inventory(example_inventory)


@pytest.fixture(scope="module")
def context(example: Inventory) -> DeviceContext:
    return device_context(example, example.devices["gva-acc-sw1"])


def test_context_is_frozen_and_typed(context: DeviceContext) -> None:
    assert context.hostname == "gva-acc-sw1"
    assert context.interfaces.svi[0].zone == "mgmt"
    assert context.mgmt_interface == context.interfaces.svi[0].name
    with pytest.raises(ValidationError):
        context.hostname = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        DeviceContext.model_validate({**context.model_dump(), "surprise": 1})


def test_template_data_is_plain_json(context: DeviceContext) -> None:
    data = context.template_data()
    assert json.loads(json.dumps(data)) == data
    assert isinstance(data["vlans"], list)
    assert isinstance(data["interfaces"]["access"][0], dict)
    assert DeviceContext.model_validate(data) == context


def test_the_templates_see_the_template_data(example: Inventory, context: DeviceContext) -> None:
    """``netwarden render`` passes Jinja what the role's lookup hands Ansible."""
    variables = template_vars(example, example.devices["gva-acc-sw1"])
    assert variables[DEVICE_VAR] == context.template_data()


def test_repr_shows_no_secret(context: DeviceContext) -> None:
    shown = repr(context)
    secrets = [context.enable_secret, context.ntp.key]
    secrets += [u.secret for u in context.users]
    secrets += [t.key for t in context.tacacs]
    secrets += [k for u in context.snmp.users for k in (u.auth_key, u.priv_key)]
    assert all(s and s not in shown for s in secrets)


def test_one_copy_the_role_links_to_the_package(repo_root: Path) -> None:
    package = repo_root / "netwarden" / "render"
    assert package / "templates" == TEMPLATE_DIR
    assert package / "defaults.yml" == ROLE_DEFAULTS
    role = repo_root / "roles" / "ios_baseline"
    links = {role / "templates": TEMPLATE_DIR, role / "defaults" / "main.yml": ROLE_DEFAULTS}
    for link, target in links.items():
        assert link.is_symlink(), f"{link} should be a symlink to {target}"
        assert not link.readlink().is_absolute(), f"{link} should be a relative symlink"
        assert link.resolve() == target
    assert (TEMPLATE_DIR / "ios_baseline.j2").is_file()
