"""Who may log in, at which privilege, to run what: the TACACS+ server's users file.

The file (JSON, ``0600``) holds the shared key and each user's password as a salted
PBKDF2-SHA256 hash (never the password), privilege level (0-15) and the commands
authorization passes, as shell-style patterns over ``cmd`` and its arguments joined
by spaces (``"show *"``; ``"*"`` is every command).

Examples:
    >>> user = TacacsUser.with_password("ops", "s3cret", privilege=1, commands=("show *",))
    >>> user.check_password("s3cret"), user.check_password("S3cret")
    (True, False)
    >>> user.permits("show", ("running-config", "<cr>")), user.permits("reload", ())
    (True, False)
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import hmac
import json
import secrets
from pathlib import Path

from pydantic import Field, SecretStr

from netwarden.basemodel import FrozenModel

HASH_NAME = "pbkdf2-sha256"
ITERATIONS = 60_000
_NAME = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """``pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>``."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    b64 = base64.b64encode
    return f"{HASH_NAME}${iterations}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a :func:`hash_password` string (constant-time compare)."""
    try:
        name, rounds, salt, digest = stored.split("$")
        if name != HASH_NAME or not 1_000 <= int(rounds) <= 10_000_000:
            return False
        expected = base64.b64decode(digest, validate=True)
        got = hashlib.pbkdf2_hmac(
            "sha256", password.encode(), base64.b64decode(salt, validate=True), int(rounds)
        )
    except ValueError:
        return False
    return hmac.compare_digest(got, expected)


class TacacsUser(FrozenModel):
    name: str = Field(pattern=_NAME)
    password_hash: str = Field(repr=False)
    privilege: int = Field(ge=0, le=15)
    commands: tuple[str, ...] = ()

    @classmethod
    def with_password(
        cls, name: str, password: str, *, privilege: int, commands: tuple[str, ...]
    ) -> TacacsUser:
        return cls(name=name, password_hash=hash_password(password), privilege=privilege,
                   commands=commands)  # fmt: skip

    def check_password(self, password: str) -> bool:
        return bool(password) and verify_password(password, self.password_hash)

    def permits(self, cmd: str, args: tuple[str, ...]) -> bool:
        """Whether ``cmd`` with ``args`` (``<cr>`` ignored) matches one of the patterns."""
        words = [cmd, *(a for a in args if a and a != "<cr>")]
        line = " ".join(words).strip()
        return any(fnmatch.fnmatchcase(line, pattern) for pattern in self.commands)


class TacacsSecrets(FrozenModel):
    """The users file: the shared key and the users (the server's only secrets)."""

    key: SecretStr = Field(min_length=1)
    users: tuple[TacacsUser, ...] = ()

    def user(self, name: str) -> TacacsUser | None:
        return next((u for u in self.users if u.name == name), None)

    def dump(self) -> str:
        """The file's text (the key in clear: write it ``0600``)."""
        data = {
            "key": self.key.get_secret_value(),
            "users": [u.model_dump(mode="json") for u in self.users],
        }
        return json.dumps(data, indent=1) + "\n"

    @classmethod
    def load(cls, path: Path) -> TacacsSecrets:
        """Read a users file.

        Raises:
            ValueError: the file is not a users file (the message names it).
        """
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: not a TACACS+ users file: {exc}") from exc
