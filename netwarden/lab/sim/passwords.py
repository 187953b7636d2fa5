"""Cisco password hashes as IOS writes and checks them (types 0, 7, 8 and 9).

Type 9 (scrypt) is computed by :mod:`netwarden.ios_secrets`, the module that
renders intended configs, so the simulator and the renderer agree on every hash;
the simulator only draws its salts at random, as a device does.

Examples:
    >>> line = type9("s3cret", salt="abcdefghijklmn")
    >>> line.startswith("9 $9$abcdefghijklmn$")
    True
    >>> verify(line, "s3cret"), verify(line, "wrong")
    (True, False)
    >>> verify("7 " + type7_encode("lab"), "lab")
    True
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import string

from netwarden import ios_secrets

logger = logging.getLogger(__name__)

_STD = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"
_CISCO = "./" + string.digits + string.ascii_uppercase + string.ascii_lowercase
_TO_CISCO = str.maketrans(_STD, _CISCO)
_SALT_CHARS = _CISCO
_XLAT = "dsfd;kfoA,.iyewrkldJKDHSUBsgvca69834ncxv9873254k;fg87"


def _cisco_b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii").rstrip("=").translate(_TO_CISCO)


def _salt() -> str:
    return "".join(secrets.choice(_SALT_CHARS) for _ in range(14))


def _pbkdf2(password: str, salt: str) -> str:
    raw = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 20000, 32)
    return _cisco_b64(raw)


def type9(password: str, salt: str | None = None) -> str:
    """``9 $9$<salt>$<hash>``: what follows ``secret`` in the running config."""
    return ios_secrets.type9(password, salt or _salt())


def type7_encode(password: str, seed: int = 2) -> str:
    """The reversible type 7 encoding (``service password-encryption``)."""
    out = f"{seed:02d}"
    for index, char in enumerate(password):
        out += f"{ord(char) ^ ord(_XLAT[(seed + index) % len(_XLAT)]):02X}"
    return out


def _type7_decode(encoded: str) -> str:
    seed = int(encoded[:2])
    chars = []
    for index in range(2, len(encoded) - 1, 2):
        value = int(encoded[index : index + 2], 16)
        chars.append(chr(value ^ ord(_XLAT[(seed + index // 2 - 1) % len(_XLAT)])))
    return "".join(chars)


_CACHE: dict[tuple[str, str], bool] = {}
_CACHE_SIZE = 512


def _verify(stored: str, password: str) -> bool:
    parts = stored.split(None, 1)
    kind, value = (parts[0], parts[1]) if len(parts) == 2 and parts[0].isdigit() else ("0", stored)
    try:
        if kind == "0":
            return hmac.compare_digest(value, password)
        if kind == "7":
            return hmac.compare_digest(_type7_decode(value), password)
        if kind == "9":
            _empty, _marker, salt, _expected = value.split("$", 3)
            return hmac.compare_digest(ios_secrets.type9(password, salt), stored)
        if kind == "8":
            _empty, _marker, salt, expected = value.split("$", 3)
            return hmac.compare_digest(_pbkdf2(password, salt), expected)
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
