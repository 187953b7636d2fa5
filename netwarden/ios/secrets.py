"""Secrets in the form IOS keeps them in its running config, computed reproducibly.

An intended config must be byte-for-byte reproducible (golden files, ``plan``
showing no diff on a second run), so every salt and seed here is derived from
the device name and the purpose of the secret, never drawn at random:

- ``type9``: ``secret 9 $9$<salt>$<hash>``, scrypt (N=16384, r=1, p=1, 32 bytes)
  over a 14-character salt, encoded in Cisco's base64 alphabet
  (``./0-9A-Za-z``). Checked against hashcat's published ``$9$`` example.
- ``type8``: ``secret 8 $8$<salt>$<hash>``, PBKDF2-HMAC-SHA256 (20,000 rounds,
  32 bytes), same salt and alphabet; checked against hashcat's ``$8$`` example.
  The renderer writes type 9; the simulator checks a type 8 secret a user gives.
- ``type7``: the reversible ``key 7 ...`` encoding IOS shows for TACACS+ and NTP
  keys under ``service password-encryption``. It hides a key from a glance, not
  from an attacker; the vault stays the place where keys are protected.
- ``snmp_localized_key``: RFC 3414 (A.2) password-to-key and key localisation,
  for ``snmp-server user ... v3 encrypted auth ... priv ...``, so the SNMPv3
  passphrases never appear in the config.

Examples:
    >>> type9("hashcat", salt="2MJBozw/9R3UsU")
    '9 $9$2MJBozw/9R3UsU$2lFhcKvpghcyw8deP25GOfyZaagyUOGBymkryvOdfo6'
    >>> type8("hashcat", salt="TnGX/fE4KGHOVU")
    '8 $8$TnGX/fE4KGHOVU$pEhnEvxrvaynpi8j4f.EMHr6M.FzU8xnZnBr/tJdFWk'
    >>> derive_salt("jed-acc-sw1", "enable") == derive_salt("jed-acc-sw1", "enable")
    True
    >>> type7("cisco", seed=2)
    '02050D480809'
    >>> snmp_localized_key("maplesyrup", bytes.fromhex("000000000000000000000002"), "sha").hex()
    '6695febc9288e36282235fc7151f128497b38f3f'
"""

from __future__ import annotations

import base64
import hashlib
import string
from functools import lru_cache

_STD_B64 = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"
CISCO_B64 = "./" + string.digits + string.ascii_uppercase + string.ascii_lowercase
_TO_CISCO = str.maketrans(_STD_B64, CISCO_B64)
_TYPE7_XLAT = "dsfd;kfoA,.iyewrkldJKDHSUBsgvca69834ncxv9873254k;fg87"
SALT_LENGTH = 14

# RFC 3414 key localisation: hash algorithm per IOS auth keyword.
SNMP_AUTH_HASHES = {"sha": "sha1", "sha256": "sha256", "sha384": "sha384", "sha512": "sha512"}
# Privacy key length (bytes) per AES variant.
SNMP_PRIV_KEY_BYTES = {"aes128": 16, "aes192": 24, "aes256": 32}


def cisco_b64(raw: bytes) -> str:
    """Base64 without padding, in Cisco's alphabet (types 8 and 9)."""
    return base64.b64encode(raw).decode("ascii").rstrip("=").translate(_TO_CISCO)


def derive_salt(device: str, purpose: str) -> str:
    """A 14-character salt from the device name and what the hash is for (reproducible)."""
    digest = hashlib.sha256(f"netwarden:{device}:{purpose}".encode()).digest()
    return cisco_b64(digest)[:SALT_LENGTH]


def _check_salt(kind: int, salt: str) -> None:
    if len(salt) != SALT_LENGTH or any(c not in CISCO_B64 for c in salt):
        raise ValueError(
            f"type {kind} salt {salt!r} must be {SALT_LENGTH} characters of ./0-9A-Za-z"
        )


@lru_cache(maxsize=1024)
def _scrypt(password: str, salt: str) -> str:
    raw = hashlib.scrypt(password.encode(), salt=salt.encode(), n=16384, r=1, p=1, dklen=32)
    return cisco_b64(raw)


def type9(password: str, salt: str) -> str:
    """``9 $9$<salt>$<hash>``: what follows ``secret`` in the running config."""
    _check_salt(9, salt)
    return f"9 $9${salt}${_scrypt(password, salt)}"


def type8(password: str, salt: str) -> str:
    """``8 $8$<salt>$<hash>`` (PBKDF2-HMAC-SHA256, 20,000 rounds): what follows ``secret``.

    Examples:
        >>> type8("x", salt="short")
        Traceback (most recent call last):
        ...
        ValueError: type 8 salt 'short' must be 14 characters of ./0-9A-Za-z
    """
    _check_salt(8, salt)
    raw = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 20000, 32)
    return f"8 $8${salt}${cisco_b64(raw)}"


def derive_seed(device: str, purpose: str) -> int:
    """A type 7 seed (0-15) from the device name and the key's purpose (reproducible)."""
    return hashlib.sha256(f"netwarden:{device}:{purpose}".encode()).digest()[0] % 16


def type7(password: str, seed: int) -> str:
    """The reversible type 7 encoding of ``password`` (without the leading ``7``)."""
    out = f"{seed:02d}"
    for index, char in enumerate(password):
        out += f"{ord(char) ^ ord(_TYPE7_XLAT[(seed + index) % len(_TYPE7_XLAT)]):02X}"
    return out


def type7_decode(encoded: str) -> str | None:
    """The clear text of a type 7 string (``SS`` seed 00-15, then hex pairs); None if it is not one.

    Examples:
        >>> type7_decode("02050D480809")
        'cisco'
        >>> type7_decode("16050D"), type7_decode("0205X"), type7_decode("020")
        (None, None, None)
    """
    if len(encoded) < 4 or len(encoded) % 2 or not encoded[:2].isdigit():
        return None
    seed = int(encoded[:2])
    if seed > 15:
        return None
    try:
        pairs = bytes.fromhex(encoded[2:])
    except ValueError:
        return None
    return "".join(
        chr(v ^ ord(_TYPE7_XLAT[(seed + i) % len(_TYPE7_XLAT)])) for i, v in enumerate(pairs)
    )


def snmp_engine_id(device: str) -> str:
    """A local SNMP engine ID (24 hex digits): Cisco enterprise 9, format 5, 7 octets from the name.

    The localised SNMPv3 keys depend on it, so it is fixed in the config rather
    than left to the device's MAC address.
    """
    tail = hashlib.sha256(f"netwarden:{device}:snmp-engine".encode()).hexdigest()[:14]
    return f"8000000905{tail}".upper()


@lru_cache(maxsize=256)
def snmp_localized_key(passphrase: str, engine_id: bytes, auth: str) -> bytes:
    """RFC 3414 A.2: expand the passphrase to 1 MiB, hash it, localise it with the engine ID."""
    algo = SNMP_AUTH_HASHES[auth]
    data = passphrase.encode()
    if not data:
        raise ValueError("an SNMPv3 passphrase must not be empty")
    repeated = (data * (1048576 // len(data) + 1))[:1048576]
    ku = hashlib.new(algo, repeated).digest()
    return hashlib.new(algo, ku + engine_id + ku).digest()


def colon_hex(raw: bytes) -> str:
    """``b'\\x0a\\xff'`` -> ``0A:FF`` (how IOS writes an ``encrypted`` SNMPv3 key)."""
    return ":".join(f"{b:02X}" for b in raw)
