"""TLS and basic authentication for metrics endpoints: the exporter-toolkit web configuration.

Prometheus exporters read ``--web.config.file`` (the format of
https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md);
netwarden reads the same file with ``--web-config``, so one file serves
node_exporter and netwarden alike::

    tls_server_config:
      cert_file: metrics.crt          # relative paths: to the file's directory
      key_file: metrics.key
      client_auth_type: NoClientCert  # or VerifyClientCertIfGiven, RequireAndVerifyClientCert
      client_ca_file: clients-ca.crt  # needed to verify client certificates
      min_version: TLS12              # TLS10 .. TLS13
    basic_auth_users:
      prometheus: $2y$10$...          # bcrypt hash (htpasswd -nBC 10 prometheus)

Supported: the keys above and ``max_version``. Refused with a message naming the
key: anything else (``cipher_suites``, ``http_server_config`` ...), client auth types
Python's ``ssl`` cannot do (``RequestClientCert``, ``RequireAnyClientCert``: a
client certificate asked for but not verified), a password that is not a bcrypt hash.

A successful password check is cached (by user and SHA-256 of the password), as the
exporter toolkit does: bcrypt costs tens of milliseconds on purpose and Prometheus
sends the same credentials every scrape.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ssl
from pathlib import Path
from typing import Final, Literal

import bcrypt
import yaml
from pydantic import Field, SecretStr, ValidationError, field_validator

from netwarden.basemodel import FrozenModel
from netwarden.errors import NetwardenError

_TLS_VERSIONS: Final = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
_CLIENT_AUTH: Final = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
_BCRYPT_PREFIXES: Final = ("$2a$", "$2b$", "$2y$")


class WebConfigError(NetwardenError):
    """The web configuration file is invalid or names files that cannot be used."""


class TLSServerConfig(FrozenModel):
    """``tls_server_config``: the server certificate and what to ask of clients."""

    cert_file: Path
    key_file: Path
    client_auth_type: Literal[
        "NoClientCert", "VerifyClientCertIfGiven", "RequireAndVerifyClientCert"
    ] = "NoClientCert"
    client_ca_file: Path | None = None
    min_version: Literal["TLS10", "TLS11", "TLS12", "TLS13"] = "TLS12"
    max_version: Literal["TLS10", "TLS11", "TLS12", "TLS13"] | None = None


class WebConfig(FrozenModel):
    """A web configuration: TLS (None: plain HTTP) and basic-auth users (empty: none)."""

    tls_server_config: TLSServerConfig | None = None
    basic_auth_users: dict[str, SecretStr] = Field(default_factory=dict)

    @field_validator("basic_auth_users")
    @classmethod
    def _bcrypt_only(cls, users: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for user, hashed in users.items():
            if not hashed.get_secret_value().startswith(_BCRYPT_PREFIXES):
                raise ValueError(
                    f"the password of {user!r} is not a bcrypt hash ($2y$...; "
                    f"make one with: htpasswd -nBC 10 {user})"
                )
        return users

    def ssl_context(self) -> ssl.SSLContext | None:
        """The server's TLS context (None without ``tls_server_config``).

        Raises:
            WebConfigError: a certificate, key or CA file cannot be loaded.
        """
        tls = self.tls_server_config
        if tls is None:
            return None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = _TLS_VERSIONS[tls.min_version]
        if tls.max_version is not None:
            ctx.maximum_version = _TLS_VERSIONS[tls.max_version]
        try:
            ctx.load_cert_chain(tls.cert_file, tls.key_file)
        except (OSError, ssl.SSLError) as exc:
            raise WebConfigError(
                f"tls_server_config: cannot load cert_file {tls.cert_file} / key_file "
                f"{tls.key_file}: {exc}"
            ) from exc
        ctx.verify_mode = _CLIENT_AUTH[tls.client_auth_type]
        if tls.client_auth_type != "NoClientCert":
            if tls.client_ca_file is None:
                raise WebConfigError(
                    f"tls_server_config.client_auth_type {tls.client_auth_type} needs client_ca_file"
                )
            try:
                ctx.load_verify_locations(cafile=tls.client_ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise WebConfigError(
                    f"tls_server_config.client_ca_file {tls.client_ca_file}: {exc}"
                ) from exc
        return ctx

    def authorized(self, header: str | None) -> bool:
        """Whether an ``Authorization`` header value lets the request in.

        Examples:
            >>> WebConfig().authorized(None)
            True
        """
        if not self.basic_auth_users:
            return True
        if header is None:
            return False
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, sep, password = (
                base64.b64decode(token.strip(), validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            return False
        hashed = self.basic_auth_users.get(user)
        if not sep or hashed is None:
            return False
        return _check(user, password, hashed.get_secret_value())


_verified: dict[tuple[str, str], bytes] = {}


def _check(user: str, password: str, hashed: str) -> bool:
    """bcrypt check of ``password``, cached once it succeeded (see the module docstring)."""
    digest = hashlib.sha256(password.encode()).digest()
    cached = _verified.get((user, hashed))
    if cached is not None and hmac.compare_digest(cached, digest):
        return True
    try:
        ok = bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:  # a malformed hash: refuse (validated at load, so only if edited)
        return False
    if ok:
        _verified[(user, hashed)] = digest
    return ok


def load_web_config(path: Path) -> WebConfig:
    """Read a web configuration file; relative paths in it are relative to its directory.

    Raises:
        WebConfigError: unreadable file, bad YAML, unknown or invalid keys (named), or
            TLS files that cannot be loaded.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WebConfigError(f"--web-config {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise WebConfigError(f"--web-config {path}: not valid YAML: {exc}") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise WebConfigError(f"--web-config {path}: expected a mapping, got {type(raw).__name__}")
    try:
        config = WebConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise WebConfigError(f"{path}: {problems}") from exc
    tls = config.tls_server_config
    if tls is not None:
        base = path.parent

        def resolve(p: Path | None) -> Path | None:
            return None if p is None else (p if p.is_absolute() else base / p)

        tls = tls.model_copy(
            update={
                "cert_file": resolve(tls.cert_file),
                "key_file": resolve(tls.key_file),
                "client_ca_file": resolve(tls.client_ca_file),
            }
        )
        config = config.model_copy(update={"tls_server_config": tls})
    try:
        config.ssl_context()  # fail at start, naming the file, not at the first scrape
    except WebConfigError as exc:
        raise WebConfigError(f"{path}: {exc}") from exc
    return config
