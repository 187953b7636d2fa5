"""Configuration lines that carry credentials, stored the way IOS stores them.

Two IOS behaviours that clients rely on (Ansible's ``ios_user`` compares what it
reads back with what it sent):

- ``username NAME ...`` lines of one user are *merged*: ``username a privilege 15``
  then ``username a secret x`` leave one line, ``username a privilege 15 secret 9
  $9$...``. A later value of an attribute replaces the earlier one; a password and
  a secret exclude each other (IOS refuses the second with its ``ERROR:``).
- a secret given in clear (``secret x``, ``secret 0 x``, ``algorithm-type scrypt
  secret x``, the same for ``enable secret``) is stored hashed, type 9 (scrypt),
  as current IOS-XE images do; a password in clear is shown ``password 0 x``, or
  ``password 7 ...`` under ``service password-encryption``.

Examples:
    >>> merge_username("username a privilege 15", ["username", "a", "view", "ops"])
    'username a privilege 15 view ops'
    >>> merge_username(None, ["username", "a", "password", "x"])
    'username a password 0 x'
    >>> try:
    ...     merge_username("username a secret 5 $1$ab$cd", ["username", "a", "password", "x"])
    ... except CredentialError as exc:
    ...     print(exc)
    ERROR: Can not have both a user password and a user secret.
    Please choose one or the other.
    >>> enable_secret_line(["enable", "secret", "5", "$1$ab$cd"])
    'enable secret 5 $1$ab$cd'
"""

from __future__ import annotations

import logging

from netwarden.lab.sim import passwords

logger = logging.getLogger(__name__)

# IOS's own error message, not a password:
BOTH_PASSWORD_AND_SECRET = (
    "ERROR: Can not have both a user password and a user secret.\nPlease choose one or the other."  # noqa: S105
)
_ONE_VALUE = ("privilege", "view", "access-class", "callback-dialstring", "callback-line")
_FLAGS = ("nohangup", "noescape", "one-time", "callback-rotary", "dnis")
_HASHED_SECRET_TYPES = ("5", "8", "9")


class CredentialError(ValueError):
    """A credential line IOS refuses; the message is the device's own."""


def _clear_secret(value: str) -> str:
    """The type 9 hash IOS stores for a secret typed in clear."""
    return passwords.type9(value)


def _credential(words: list[str], encrypt: bool) -> tuple[str, str, int] | None:  # noqa: PLR0911 - one return per IOS form
    """``(kind, stored form, words used)`` for the credential at the start of ``words``.

    ``kind`` is ``secret``, ``password`` or ``nopassword``; None when a value is missing.
    """
    if words[:3] == ["algorithm-type", "scrypt", "secret"] and len(words) > 3:
        return "secret", "secret " + _clear_secret(words[3]), 4
    keyword = words[0]
    if keyword == "nopassword":
        return "nopassword", "nopassword", 1
    rest = words[1:]
    if not rest or keyword not in ("secret", "password"):
        return None
    typed = rest[0] in (*_HASHED_SECRET_TYPES, "0", "7") and len(rest) > 1
    value = rest[1] if typed else rest[0]
    used = 3 if typed else 2
    if keyword == "secret":
        if typed and rest[0] in _HASHED_SECRET_TYPES:
            return "secret", f"secret {rest[0]} {value}", used
        return "secret", "secret " + _clear_secret(value), used
    if typed and rest[0] == "7":
        return "password", f"password 7 {value}", used
    if encrypt:
        return "password", "password 7 " + passwords.type7_encode(value), used
    return "password", f"password 0 {value}", used


def _parse(
    words: list[str], encrypt: bool
) -> tuple[dict[str, str], tuple[str, str, int] | None, list[str]]:
    """Attributes (keyword -> text), the credential, and words not understood."""
    attributes: dict[str, str] = {}
    credential: tuple[str, str, int] | None = None
    leftover: list[str] = []
    index = 2
    while index < len(words):
        word = words[index]
        found = _credential(words[index:], encrypt)
        if found is not None:
            credential = found
            index += found[2]
        elif word in _ONE_VALUE and index + 1 < len(words):
            attributes[word] = f"{word} {words[index + 1]}"
            index += 2
        elif word in _FLAGS:
            attributes[word] = word
            index += 1
        elif word == "autocommand":
            attributes[word] = " ".join(words[index:])
            break
        else:
            leftover.append(word)
            index += 1
    return attributes, credential, leftover


def merge_username(
    existing: str | None, words: list[str], *, encrypt_passwords: bool = False
) -> str:
    """The one ``username`` line IOS keeps after ``words`` is typed over ``existing``.

    Raises:
        CredentialError: a password for a user with a secret, or the other way round.
    """
    old_attrs, old_cred, old_rest = _parse(existing.split(), False) if existing else ({}, None, [])
    new_attrs, new_cred, new_rest = _parse(words, encrypt_passwords)
    if (
        new_cred is not None
        and old_cred is not None
        and {new_cred[0], old_cred[0]} == {"secret", "password"}
    ):
        raise CredentialError(BOTH_PASSWORD_AND_SECRET)
    attrs = {**old_attrs, **new_attrs}
    parts = [f"username {words[1]}"]
    parts += [attrs[key] for key in (*_ONE_VALUE, *_FLAGS) if key in attrs]
    parts += old_rest + [w for w in new_rest if w not in old_rest]
    credential = new_cred or old_cred
    if credential is not None:
        parts.append(credential[1])
    if "autocommand" in attrs:
        parts.append(attrs["autocommand"])
    return " ".join(parts)


def enable_secret_line(words: list[str]) -> str:
    """``enable secret ...`` as stored: a secret typed in clear becomes ``enable secret 9 ...``."""
    rest = words[2:]
    if words[:2] == ["enable", "algorithm-type"] and rest[:2] == ["scrypt", "secret"]:
        rest = rest[2:]
        return "enable secret " + _clear_secret(rest[0]) if rest else " ".join(words)
    if not rest:
        return " ".join(words)
    if rest[0] == "level" and len(rest) > 2:
        return "enable secret level " + rest[1] + " " + _secret_value(rest[2:])
    return "enable secret " + _secret_value(rest)


def _secret_value(rest: list[str]) -> str:
    if rest[0] in _HASHED_SECRET_TYPES and len(rest) > 1:
        return f"{rest[0]} {rest[1]}"
    return _clear_secret(rest[1] if rest[0] == "0" and len(rest) > 1 else rest[0])
