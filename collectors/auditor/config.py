"""Detector configuration: thresholds, per-site overrides and allowlists with expiry.

Read from the inventory variable ``auditor`` (``inventory/group_vars/all/auditor.yml``)
through Ansible's own ``DataLoader`` (no second YAML parser). Layout::

    auditor:
      detectors:                 # organisation-wide settings, one mapping per detector
        port_scan: {threshold: 10, window_seconds: 300}
      sites:                     # per-site overrides, same keys as `detectors`
        nyc:
          rogue_dhcp: {servers: [10.11.20.10]}
      allowlist:                 # suppress matching events until `expires`
        - detectors: [beaconing]
          src: 10.10.10.60/32
          reason: Prometheus on jed-mon1 scrapes on a fixed interval
          approver: secops
          expires: 2026-12-31

Each detector validates its own mapping with its ``Settings`` model (unknown keys
are errors that name the file and key); a site's mapping overrides the
organisation's key by key.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from pathlib import Path
from typing import Any, TypeVar

from pydantic import Field, ValidationError, field_validator

from netwarden.basemodel import FrozenModel
from netwarden.errors import NetwardenError

logger = logging.getLogger(__name__)

CONFIG_RELPATH = Path("group_vars") / "all" / "auditor.yml"
CONFIG_VARIABLE = "auditor"

S = TypeVar("S", bound="DetectorSettings")


class AuditorConfigError(NetwardenError):
    """The auditor configuration is invalid (names the file and the key)."""


class DetectorSettings(FrozenModel):
    """Base of every detector's settings: each detector adds its thresholds."""

    enabled: bool = True


def _address_or_mac(value: str) -> str:
    text = str(value).strip().lower()
    if _is_mac(text):
        return text
    try:
        return str(ip_network(text, strict=False))
    except ValueError:
        raise ValueError(
            f"{value!r} is neither an IP address/network nor a MAC address (aa:bb:cc:dd:ee:ff)"
        ) from None


def _is_mac(text: str) -> bool:
    parts = text.split(":")
    return len(parts) == 6 and all(
        len(p) == 2 and all(c in "0123456789abcdef" for c in p) for p in parts
    )


class AllowEntry(FrozenModel):
    """Suppress events of ``detectors`` whose ``src``/``dst`` match, at ``sites``, until ``expires``.

    ``src``/``dst`` are an IP address, a network or a MAC address; omitted means any.
    An expired entry no longer suppresses anything (and is reported once in the log).
    """

    detectors: tuple[str, ...] = ("*",)
    src: str | None = None
    dst: str | None = None
    sites: tuple[str, ...] = ()
    reason: str = Field(min_length=10)
    approver: str = Field(min_length=1)
    expires: date

    @field_validator("src", "dst")
    @classmethod
    def _normalise(cls, value: str | None) -> str | None:
        return None if value is None else _address_or_mac(value)

    def matches(self, detector: str, site: str, src: str, dst: str, today: date) -> bool:
        if today > self.expires:
            return False
        if "*" not in self.detectors and detector not in self.detectors:
            return False
        if self.sites and site not in self.sites:
            return False
        return _match(self.src, src) and _match(self.dst, dst)


def _match(pattern: str | None, value: str) -> bool:
    if pattern is None:
        return True
    if not value:
        return False
    value = value.lower()
    if _is_mac(pattern):
        return pattern == value
    try:
        addr = ip_address(value)
    except ValueError:
        return False
    net = ip_network(pattern)
    return isinstance(net, IPv4Network | IPv6Network) and addr in net


class AuditorConfig(FrozenModel):
    """The ``auditor`` inventory variable, validated (per-detector keys are checked later)."""

    detectors: dict[str, dict[str, Any]] = Field(default_factory=dict)
    sites: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)
    allowlist: tuple[AllowEntry, ...] = ()
    incident_idle_seconds: float = Field(default=3600.0, gt=0)
    reemit_seconds: float = Field(default=300.0, gt=0)
    source: str = Field(default="", exclude=True)

    def settings_for(self, name: str, model: type[S], site: str | None) -> S:
        """``model`` validated from the organisation's mapping, overridden by the site's."""
        data: dict[str, Any] = dict(self.detectors.get(name) or {})
        if site is not None:
            data.update(self.sites.get(site, {}).get(name) or {})
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            where = self.source or "auditor configuration"
            problems = "; ".join(
                f"auditor.detectors.{name}.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
                for err in exc.errors(include_url=False)
            )
            raise AuditorConfigError(f"{where}: {problems}") from exc

    def check_names(self, known: set[str]) -> None:
        """Every detector named in the configuration exists (typos are errors, not no-ops)."""
        where = self.source or "auditor configuration"
        named = set(self.detectors)
        for site_map in self.sites.values():
            named |= set(site_map)
        for entry in self.allowlist:
            named |= {d for d in entry.detectors if d != "*"}
        unknown = sorted(named - known)
        if unknown:
            raise AuditorConfigError(
                f"{where}: unknown detector(s) {', '.join(unknown)}; expected one of {', '.join(sorted(known))}"
            )

    def allowlisted(self, detector: str, site: str, src: str, dst: str, today: date) -> bool:
        return any(e.matches(detector, site, src, dst, today) for e in self.allowlist)

    def expired_entries(self, today: date) -> list[AllowEntry]:
        return [e for e in self.allowlist if today > e.expires]


def _plain(value: Any, source: str = "") -> Any:
    """Ansible's tagged containers as plain Python values (dates kept as dates).

    Bounded like the inventory's walk (``yamlguard.plain_data``): aliased data
    is not expanded past an inventory-sized value.

    Raises:
        AuditorConfigError: the value is larger or deeper than the limits.
    """
    from netwarden.inventory.yamlguard import YamlLimitError, plain_data  # noqa: PLC0415

    try:
        return plain_data(value, _plain_scalar)
    except YamlLimitError as exc:
        raise AuditorConfigError(f"{source or 'auditor configuration'}: {exc}") from None


def _plain_scalar(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return date(value.year, value.month, value.day)
    from netwarden.inventory.yamlguard import plain_scalar  # noqa: PLC0415

    return plain_scalar(value)


def load_auditor_config(inventory: Path | None) -> AuditorConfig:
    """The ``auditor`` variable of ``<inventory>/group_vars/all/auditor.yml`` (defaults if absent).

    Read with Ansible's ``DataLoader`` so vault-encrypted values and Ansible's YAML
    dialect behave as everywhere else, after the same scan as the inventory's
    (``netwarden.inventory.yamlguard``): duplicate keys, alias bombs, recursive
    aliases and oversized files are errors with file and line.

    Raises:
        AuditorConfigError: the file cannot be parsed or does not validate.
    """
    if inventory is None:
        return AuditorConfig()
    root = inventory if inventory.is_dir() else inventory.parent
    path = root / CONFIG_RELPATH
    if not path.is_file():
        return AuditorConfig()
    from ansible.errors import AnsibleError  # noqa: PLC0415  (heavy import, load lazily)
    from ansible.parsing.dataloader import DataLoader  # noqa: PLC0415

    # PyYAML too: a run from the inventory's snapshot (netwarden.inventory.snapshot) reads no YAML.
    from netwarden.inventory.yamlguard import scan_yaml_file  # noqa: PLC0415

    loader = DataLoader()
    file_name = loader.path_dwim(str(path))
    texts: list[str] = []  # the text the scan read (decrypted), parsed below: one read

    def read(file: Path) -> str:
        texts.append(loader.get_text_file_contents(str(file)))
        return str(texts[-1])

    try:
        findings = scan_yaml_file(path, read)
    except (OSError, AnsibleError) as exc:
        logger.debug("not scanned: %s: %s", path, exc)  # the read below reports it
        findings = []
    if findings:
        raise AuditorConfigError(
            "; ".join(f"{path}:{f.line}: {f.key or '(file)'}: {f.message}" for f in findings)
        )
    try:
        raw = loader.load(texts[0], file_name) if texts else loader.load_from_file(file_name)
    except AnsibleError as exc:
        raise AuditorConfigError(
            f"{path}: Ansible cannot parse it: {str(exc.message).splitlines()[0]}"
        ) from exc
    return parse_auditor_config(_plain(raw, str(path)), source=str(path))


class _ConfigSnapshot(FrozenModel):
    """The auditor settings and the file they came from (``source`` is not dumped)."""

    config: AuditorConfig
    source: str


def load_auditor_config_snapshot(
    inventory: Path | None, vault_password_file: Path | None = None
) -> AuditorConfig:
    """:func:`load_auditor_config`, from the inventory's snapshot while no input changed.

    The file is read with Ansible's loader, whose import alone costs ~0.4 s of start-up;
    the validated settings hold no secret (:mod:`netwarden.inventory.snapshot`).

    Raises:
        AuditorConfigError: as :func:`load_auditor_config`.
    """
    if inventory is None:
        return load_auditor_config(None)
    from netwarden.inventory.snapshot import read_snapshot, write_snapshot  # noqa: PLC0415

    kind = "auditor-config"
    cached = read_snapshot(inventory, vault_password_file, _ConfigSnapshot, kind)
    if cached is not None:
        return cached.config.model_copy(update={"source": cached.source})
    config = load_auditor_config(inventory)
    snapshot = _ConfigSnapshot(config=config, source=config.source)
    write_snapshot(inventory, vault_password_file, snapshot, kind)
    return config


def parse_auditor_config(raw: object, source: str = "") -> AuditorConfig:
    """Validate an already-loaded document ``{auditor: {...}}`` (or the inner mapping)."""
    if raw is None:
        return AuditorConfig(source=source)
    if not isinstance(raw, Mapping):
        raise AuditorConfigError(f"{source}: expected a mapping with key {CONFIG_VARIABLE!r}")
    body = raw.get(CONFIG_VARIABLE, raw) if CONFIG_VARIABLE in raw else raw
    try:
        return AuditorConfig.model_validate({**(body or {}), "source": source})
    except ValidationError as exc:
        problems = "; ".join(
            f"{CONFIG_VARIABLE}.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        raise AuditorConfigError(f"{source or 'auditor configuration'}: {problems}") from exc
