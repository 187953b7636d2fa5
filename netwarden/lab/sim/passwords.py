"""How the simulator hashes and checks its users' passwords (types 0, 7, 8 and 9).

Every hash and encoding is computed by :mod:`netwarden.ios.secrets`, the module
that renders intended configs, so the simulator and the renderer agree on every
hash. What is the simulator's own: it draws its salts at random, as a device
does, encodes type 7 with a fixed seed, and caches the outcome of each check
(a type 9 check costs an scrypt).

Examples:
    >>> line = type9("s3cret", salt="abcdefghijklmn")
    >>> line.startswith("9 $9$abcdefghijklmn$")
    True
    >>> verify(line, "s3cret"), verify(line, "wrong")
    (True, False)
    >>> verify("7 " + type7_encode("lab"), "lab")
    True
    >>> verify(ios_secrets.type8("lab", salt="TnGX/fE4KGHOVU"), "lab")
    True
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets

from netwarden.ios import secrets as ios_secrets

logger = logging.getLogger(__name__)


def _salt() -> str:
    return "".join(secrets.choice(ios_secrets.CISCO_B64) for _ in range(ios_secrets.SALT_LENGTH))


def type9(password: str, salt: str | None = None) -> str:
    """``9 $9$<salt>$<hash>``: what follows ``secret`` in the running config."""
    return ios_secrets.type9(password, salt or _salt())


def type7_encode(password: str, seed: int = 2) -> str:
    """The reversible type 7 encoding (``service password-encryption``)."""
    return ios_secrets.type7(password, seed)


def _type7_clear(encoded: str) -> str:
    clear = ios_secrets.type7_decode(encoded)
    if clear is None:
        raise ValueError("not a type 7 string")
    return clear


_CACHE: dict[tuple[str, str], bool] = {}
_CACHE_SIZE = 512


def _verify(stored: str, password: str) -> bool:
    parts = stored.split(None, 1)
    kind, value = (parts[0], parts[1]) if len(parts) == 2 and parts[0].isdigit() else ("0", stored)
    try:
        if kind == "0":
            return hmac.compare_digest(value, password)
        if kind == "7":
            return hmac.compare_digest(_type7_clear(value), password)
        if kind == "9":
            _empty, _marker, salt, _expected = value.split("$", 3)
            return hmac.compare_digest(ios_secrets.type9(password, salt), stored)
        if kind == "8":
            _empty, _marker, salt, expected = value.split("$", 3)
            computed = ios_secrets.type8(password, salt).rsplit("$", 1)[1]
            return hmac.compare_digest(computed, expected)
    except (ValueError, IndexError):
        logger.warning("malformed type %s password hash in the config", kind)
        return False
    logger.warning("password hash type %s is not supported by the simulator", kind)
    return False


def verify(stored: str, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (``"9 $9$..."``, ``"7 0822..."``, ``"0 x"``)."""
    key = (stored, hashlib.sha256(f"{stored}\0{password}".encode()).hexdigest())
    cached = _CACHE.get(key)
    if cached is None:
        cached = _verify(stored, password)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[key] = cached
    return cached
