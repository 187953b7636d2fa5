"""Read the inventory through Ansible's own InventoryManager and VariableManager.

There is no second YAML parser: Ansible reads the files (vault included) and
tags every value with its origin (file, line), which is how a finding names the
place to fix. This module turns Ansible's variables into the typed models of
``models.py``; ``checks.py`` then validates the whole network.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from netwarden.errors import InventoryError, InventoryInvalidError, VaultError
from netwarden.inventory.models import (
    FUNCTION_GROUPS,
    SITE_GROUP_PREFIX,
    Compliance,
    Device,
    FlowPolicy,
    Inventory,
    Org,
    Partner,
    Policy,
    Service,
    Site,
    Source,
    Zone,
)
from netwarden.inventory.origins import (
    NESTED_SOURCES,
    attach_sources,
    display_path,
    error_origin,
    is_scalar,
    key_path,
    origin_at,
    origin_of,
    plain,
)
from netwarden.inventory.problems import Problem
from netwarden.inventory.vault import data_loader, is_vault_error, vault_hint
from netwarden.inventory.yamlguard import inventory_yaml_files, scan_yaml_file

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

ORG_KEYS = ("org", "policy", "zones", "services", "flow_policy", "compliance")
DEVICE_KEYS = frozenset({"platform", "model", "role", "mgmt_address", "provides", "interfaces"})
# Variables Ansible itself sets on every host.
MAGIC_HOST_VARS = frozenset(
    {
        "inventory_file",
        "inventory_dir",
        "inventory_hostname",
        "inventory_hostname_short",
        "group_names",
    }
)
# Host variables that are Ansible's or other tools' business, not ours.
FOREIGN_PREFIXES = ("ansible_", "netwarden_")


@dataclass
class _Context:
    """Ansible objects for one read of one inventory."""

    path: Path
    vault_password_file: Path | None = None
    problems: list[Problem] = field(default_factory=list)
    failed_sites: set[str] = field(default_factory=set)
    reported: set[tuple[str, int]] = field(default_factory=set)

    def problem(self, src: Source, key: str, message: str) -> None:
        self.problems.append(Problem(file=src.file, line=src.line, key=key, message=message))


def _quoted(value: object, most: int = 80) -> str:
    """``repr(value)``, cut to ``most`` characters with the full length said (a huge value
    must not flood the terminal).

    Examples:
        >>> _quoted("C9200")
        "'C9200'"
        >>> _quoted("A" * 1000, most=10)
        "'AAAAAAAA... (1002 characters)"
    """
    text = repr(value)
    return text if len(text) <= most else f"{text[: most - 1]}... ({len(text)} characters)"


def _validation_problems(
    ctx: _Context, exc: ValidationError, raw: object, prefix: str, fallback: Source
) -> None:
    for err in exc.errors(include_url=False):
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        src = origin_at(raw, loc)
        if not src.file:
            src = fallback
        value = err.get("input")
        shown = f" (got {_quoted(value)})" if err["type"] != "missing" and is_scalar(value) else ""
        ctx.problem(src, key_path(prefix, loc), f"{err['msg']}{shown}")


def _build(
    ctx: _Context, model: type[M], raw: object, prefix: str, extra: Mapping[str, Any] | None = None
) -> M | None:
    """Validate ``raw`` into ``model``; on failure record one problem per error, return None."""
    located = raw.raw if isinstance(raw, _Located) else raw
    src = origin_of(located)
    data: object = raw
    if isinstance(raw, Mapping):
        data = {**plain(raw), **(extra or {})}
        if "src" in model.model_fields:
            data["src"] = src
        for nested in NESTED_SOURCES.get(model.__name__, ()):
            attach_sources(data, located, nested)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        _validation_problems(ctx, exc, located, prefix, src)
        return None


def _open_ansible(path: Path, loader: Any) -> tuple[Any, Any]:
    """InventoryManager and VariableManager for ``path``."""
    from ansible.errors import AnsibleError  # noqa: PLC0415
    from ansible.inventory.manager import InventoryManager  # noqa: PLC0415
    from ansible.vars.manager import VariableManager  # noqa: PLC0415

    try:
        inventory = InventoryManager(loader=loader, sources=[str(path)])
    except AnsibleError as exc:
        raise InventoryError(
            f"{display_path(path)}: Ansible could not read the inventory: {exc}"
        ) from exc
    return inventory, VariableManager(loader=loader, inventory=inventory)


def _scan_yaml(ctx: _Context, loader: Any) -> bool:
    """Scan every YAML file Ansible would read (``yamlguard``); False if one must not be read.

    Duplicate keys are problems (both lines named); a file too large, an alias
    bomb, a recursive alias or absurd nesting is a problem that stops the read
    before Ansible (or anything else) expands it.
    """
    from ansible.errors import AnsibleError  # noqa: PLC0415

    def read(file: Path) -> str:
        return str(loader.get_text_file_contents(str(file)))  # decrypts a vaulted file

    readable = True
    for file in inventory_yaml_files(ctx.path):
        try:
            findings = scan_yaml_file(file, read)
        except (OSError, AnsibleError) as exc:
            # Unreadable or undecryptable: Ansible's own read reports it, with its message.
            logger.debug("not scanned: %s: %s", file, exc)
            continue
        for finding in findings:
            ctx.problem(
                Source(file=display_path(file), line=finding.line),
                finding.key or "(file)",
                finding.message,
            )
            readable = readable and not finding.fatal
    return readable


def _unparsed_sources(ctx: _Context, loader: Any, inventory: Any) -> None:
    """Report inventory files Ansible skipped (it only warns), with the parser's own message."""
    from ansible.errors import AnsibleError  # noqa: PLC0415
    from ansible.inventory.manager import IGNORED  # noqa: PLC0415

    root = ctx.path
    candidates = (
        [p for p in sorted(root.iterdir()) if p.is_file() and not IGNORED.search(p.name.encode())]
        if root.is_dir()
        else [root]
    )
    processed = {str(Path(p).resolve()) for p in inventory._inventory.processed_sources if p}
    for cand in candidates:
        if str(cand.resolve()) in processed:
            continue
        reason = "not a valid Ansible inventory source"
        try:
            loader.load_from_file(str(cand))
        except AnsibleError as exc:
            reason = str(exc.message).splitlines()[0]
        ctx.problem(
            Source(file=display_path(cand)),
            "(file)",
            f"Ansible could not parse this inventory file: {reason}",
        )


def _template(ctx: _Context, templar: Any, value: Any, raw_key: str) -> Any:
    """Render ``{{ }}`` references (vault secrets) inside ``value``; undefined ones are problems."""
    from ansible.errors import AnsibleError, AnsibleUndefinedVariable  # noqa: PLC0415

    if isinstance(value, Mapping):
        return {k: _template(ctx, templar, v, f"{raw_key}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_template(ctx, templar, v, f"{raw_key}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        try:
            return templar.template(value)
        except AnsibleUndefinedVariable as exc:
            src = origin_of(value)
            if src.file and (src.file, src.line) in ctx.reported:
                return None  # a group variable: reported once, not once per host
            ctx.reported.add((src.file, src.line))
            name = str(exc.message).split("'")[1] if "'" in str(exc.message) else str(exc.message)
            ctx.problem(
                origin_of(value),
                raw_key,
                f"missing secret or variable: {name} is not defined "
                "(expected in group_vars/all/vault.yml, encrypted with ansible-vault)",
            )
        except AnsibleError as exc:
            ctx.problem(
                origin_of(value), raw_key, f"cannot render: {str(exc.message).splitlines()[0]}"
            )
        return None
    return value


def _host_level_keys(loader: Any, inventory: Any, host: Any) -> dict[str, Any]:
    """Variables set on the host itself (host_vars file or inline), not inherited from groups."""
    from ansible.vars.plugins import get_vars_from_inventory_sources  # noqa: PLC0415

    own = {k: v for k, v in host.get_vars().items() if k not in MAGIC_HOST_VARS}
    # Stage "task": the same vars plugins (host_group_vars) VariableManager runs on demand.
    own.update(get_vars_from_inventory_sources(loader, inventory._sources, [host], "task"))
    return own


def _read_hosts(
    ctx: _Context, loader: Any, inventory: Any, variables: Any
) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, list[str]]]:
    """Merged variables per host, host-level variables per host, and group names per host."""
    from ansible.errors import AnsibleError  # noqa: PLC0415

    merged: dict[str, Any] = {}
    own: dict[str, dict[str, Any]] = {}
    groups: dict[str, list[str]] = {}
    for host in inventory.get_hosts():
        try:
            merged[host.name] = variables.get_vars(host=host, include_hostvars=False)
        except AnsibleError as exc:
            if is_vault_error(exc):
                raise VaultError(
                    f"{display_path(ctx.path)}: cannot open the vault: {exc.message} "
                    f"({vault_hint(ctx.path, ctx.vault_password_file)})"
                ) from exc
            src = error_origin(exc) or Source(file=display_path(ctx.path))
            ctx.problem(
                src, host.name, f"Ansible could not read this host's variables: {exc.message}"
            )
            continue
        own[host.name] = _host_level_keys(loader, inventory, host)
        groups[host.name] = [g.name for g in host.get_groups() if g.name != "all"]
    return merged, own, groups


def read_inventory(
    path: str | os.PathLike[str], vault_password_file: Path | None = None
) -> tuple[Inventory | None, list[Problem]]:
    """Read and validate the inventory at ``path``; return the model (if buildable) and every problem.

    Raises:
        InventoryError: the path does not exist or the vault cannot be opened.
    """
    from ansible.template import Templar  # noqa: PLC0415

    from netwarden.inventory.checks import check_inventory  # noqa: PLC0415

    root = Path(path)
    if not root.exists():
        raise InventoryError(f"inventory {display_path(root)} does not exist")
    ctx = _Context(path=root, vault_password_file=vault_password_file)
    loader = data_loader(root, vault_password_file)
    if not _scan_yaml(ctx, loader):
        return None, ctx.problems
    inventory, variables = _open_ansible(root, loader)
    _unparsed_sources(ctx, loader, inventory)
    merged, own, groups = _read_hosts(ctx, loader, inventory, variables)
    if not merged:
        ctx.problem(Source(file=display_path(root)), "all", "the inventory defines no hosts")
        return None, ctx.problems

    first = next(iter(merged.values()))
    org_raw = {k: first.get(k) for k in ORG_KEYS}
    for key in ORG_KEYS:
        if org_raw[key] is None:
            ctx.problem(
                Source(file=display_path(root / "group_vars" / "all")),
                key,
                f"missing: group_vars/all must define {key!r}",
            )
    templar = Templar(loader=loader, variables=first)
    policy_raw = _template(ctx, templar, org_raw["policy"], "policy") if org_raw["policy"] else None

    org = _build(ctx, Org, org_raw["org"], "org") if org_raw["org"] else None
    policy = (
        _build(ctx, Policy, _retag(policy_raw, org_raw["policy"]), "policy") if policy_raw else None
    )
    zones = _build_named(ctx, Zone, org_raw["zones"], "zones")
    services = _build_services(ctx, org_raw["services"])
    flow_policy = (
        _build(ctx, FlowPolicy, org_raw["flow_policy"], "flow_policy")
        if org_raw["flow_policy"]
        else None
    )
    compliance = (
        _build(ctx, Compliance, org_raw["compliance"], "compliance")
        if org_raw["compliance"]
        else None
    )

    # Optional (group_vars/all/partners.yml): member states joined over a VPN.
    partners = _build_named(ctx, Partner, first.get("partners"), "partners")
    sites = _build_sites(ctx, merged, groups)
    devices = _build_devices(
        ctx, lambda hv: Templar(loader=loader, variables=hv), merged, own, groups
    )

    if org is None or policy is None or flow_policy is None or compliance is None:
        return None, ctx.problems
    inv = Inventory(
        path=display_path(root),
        org=org,
        policy=policy,
        zones=zones,
        services=services,
        flow_policy=flow_policy,
        compliance=compliance,
        sites=sites,
        devices=devices,
        partners=partners,
    )
    # A site whose definition failed validation is already reported; its devices
    # need not each say that the site is missing.
    broken = {g.removeprefix(SITE_GROUP_PREFIX) for g in ctx.failed_sites}
    ctx.problems.extend(
        p for p in check_inventory(inv) if not (p.key in devices and devices[p.key].site in broken)
    )
    return inv, ctx.problems


def load_inventory(
    path: str | os.PathLike[str], vault_password_file: Path | None = None
) -> Inventory:
    """Read, validate and return the inventory; raise :class:`InventoryInvalidError` on any problem."""
    inv, problems = read_inventory(path, vault_password_file)
    if problems or inv is None:
        raise InventoryInvalidError(list(problems))
    return inv


def _retag(rendered: Any, raw: Any) -> Any:
    """Rendered values lose Ansible's origin tags; keep the raw tree for locating errors."""
    return _Located(rendered, raw) if isinstance(rendered, Mapping) else rendered


class _Located(dict[str, Any]):
    """A rendered mapping that remembers the raw (tagged) mapping it came from."""

    def __init__(self, rendered: Mapping[str, Any], raw: Any) -> None:
        super().__init__(rendered)
        self.raw = raw


def _build_named(ctx: _Context, model: type[M], raw: Any, prefix: str) -> dict[str, M]:
    out: dict[str, M] = {}
    if not isinstance(raw, Mapping):
        if raw is not None:
            ctx.problem(
                origin_of(raw),
                prefix,
                f"must be a mapping of name to settings, got {type(raw).__name__}",
            )
        return out
    for name, body in raw.items():
        item = _build(
            ctx, model, body if body is not None else {}, f"{prefix}.{name}", {"name": str(name)}
        )
        if item is not None:
            out[str(name)] = item
    return out


def _build_services(ctx: _Context, raw: Any) -> dict[str, Service]:
    from netwarden.inventory.models import PortRange  # noqa: PLC0415

    out: dict[str, Service] = {}
    if not isinstance(raw, Mapping):
        return out
    for name, specs in raw.items():
        key = f"services.{name}"
        if not isinstance(specs, list) or not specs:
            ctx.problem(
                origin_of(specs) or origin_of(raw),
                key,
                "must be a non-empty list such as [tcp/443]",
            )
            continue
        ports = []
        for i, spec in enumerate(specs):
            try:
                ports.append(PortRange.parse(str(spec)))
            except ValueError as exc:
                ctx.problem(origin_of(spec), f"{key}[{i}]", str(exc))
        if len(ports) == len(specs):
            out[str(name)] = Service(name=str(name), ports=tuple(ports), src=origin_of(specs))
    return out


def _build_sites(
    ctx: _Context, merged: Mapping[str, Any], groups: Mapping[str, list[str]]
) -> dict[str, Site]:
    """One Site per ``site_*`` group, from the ``site`` variable its hosts inherit."""
    seen: dict[str, Site] = {}
    failed = ctx.failed_sites
    for host, names in groups.items():
        for group in names:
            if not group.startswith(SITE_GROUP_PREFIX) or group in seen or group in failed:
                continue
            raw = merged[host].get("site")
            expected = group.removeprefix(SITE_GROUP_PREFIX)
            if not isinstance(raw, Mapping):
                ctx.problem(
                    Source(file=display_path(ctx.path / "group_vars" / f"{group}.yml")),
                    "site",
                    f"group {group} has no 'site' mapping (expected group_vars/{group}.yml)",
                )
                failed.add(group)
                continue
            site = _build(ctx, Site, raw, "site")
            if site is None:
                failed.add(group)
                continue
            if site.name != expected:
                ctx.problem(
                    origin_at(raw, ["name"]),
                    "site.name",
                    f"site name {site.name!r} does not match its group {group} (expected {expected!r})",
                )
            seen[group] = site
    return {s.name: s for s in seen.values()}


def _build_devices(
    ctx: _Context,
    templar_for: Callable[[Mapping[str, Any]], Any],
    merged: Mapping[str, Any],
    own: Mapping[str, Mapping[str, Any]],
    groups: Mapping[str, list[str]],
) -> dict[str, Device]:
    out: dict[str, Device] = {}
    for host, hvars in merged.items():
        here = _host_source(ctx, own[host], hvars)
        site_groups = [g for g in groups[host] if g.startswith(SITE_GROUP_PREFIX)]
        functions = [FUNCTION_GROUPS[g] for g in groups[host] if g in FUNCTION_GROUPS]
        if len(site_groups) != 1:
            what = (
                "no site group"
                if not site_groups
                else f"several site groups ({', '.join(site_groups)})"
            )
            ctx.problem(
                here,
                host,
                f"host {host} is in {what}; every host belongs to exactly one site_* group",
            )
            continue
        if len(functions) != 1:
            what = (
                "no function group"
                if not functions
                else f"several function groups ({', '.join(functions)})"
            )
            ctx.problem(
                here,
                host,
                f"host {host} is in {what}; expected exactly one of {', '.join(FUNCTION_GROUPS)}",
            )
            continue
        for key in own[host]:
            if key not in DEVICE_KEYS and not key.startswith(FOREIGN_PREFIXES) and key != "site":
                ctx.problem(
                    origin_of(own[host][key]) if origin_of(own[host][key]).file else here,
                    f"{host}.{key}",
                    f"unknown host variable {key!r}; expected one of {', '.join(sorted(DEVICE_KEYS))}",
                )
        raw = {k: hvars[k] for k in DEVICE_KEYS if k in hvars}
        data = {**plain(raw), "name": host, "site": site_groups[0].removeprefix(SITE_GROUP_PREFIX)}
        data["function"] = functions[0]
        data["src"] = here
        data["key_src"] = {k: origin_of(v) for k, v in raw.items() if origin_of(v).file}
        data["connection"] = _connection(ctx, templar_for(hvars), hvars, host)
        try:
            out[host] = Device.model_validate(_with_sources(data, raw))
        except ValidationError as exc:
            _validation_problems(ctx, exc, raw, host, here)
    return out


# Ansible's connection variables (and their older aliases), in order of preference.
CONNECTION_VARS = {
    "host": ("ansible_host", "ansible_ssh_host"),
    "port": ("ansible_port", "ansible_ssh_port"),
    "username": ("ansible_user", "ansible_ssh_user"),
    "password": ("ansible_password", "ansible_ssh_pass"),
    "enable_secret": ("ansible_become_password", "ansible_become_pass", "ansible_enable_password"),
    "key_file": ("ansible_ssh_private_key_file", "ansible_private_key_file"),
}


def _connection(ctx: _Context, templar: Any, hvars: Mapping[str, Any], host: str) -> dict[str, Any]:
    """The device's connection settings; vault references rendered, undefined ones reported."""
    out: dict[str, Any] = {}
    for field_name, names in CONNECTION_VARS.items():
        for name in names:
            if hvars.get(name) is not None:
                value = _template(ctx, templar, hvars[name], f"{host}.{name}")
                if value is not None:
                    out[field_name] = plain(value)
                break
    out.setdefault("host", plain(hvars.get("mgmt_address", "")))
    if hvars.get("netwarden_lab_absent") is True:
        out["lab_absent"] = True
    return out


def _host_source(ctx: _Context, own: Mapping[str, Any], merged: Mapping[str, Any]) -> Source:
    """The host_vars file that defines the host (or the inventory file listing it)."""
    for value in own.values():
        src = origin_of(value)
        if src.file:
            return Source(file=src.file)
    inv_file = merged.get("inventory_file")
    return Source(file=display_path(inv_file)) if inv_file else Source(file=display_path(ctx.path))


def _with_sources(data: dict[str, Any], raw: Mapping[str, Any]) -> dict[str, Any]:
    """Attach each interface's origin so later checks can point at its line."""
    for nested in NESTED_SOURCES["Device"]:
        attach_sources(data, raw, nested)
    return data
