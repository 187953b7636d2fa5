"""Every secret of a namespace lab, and the forms a leak of one could take in some output.

Used by the lab tests that check that an output (``site.yml --check --diff``) shows no
secret. The list is read from the lab directory itself, so a secret the lab adds later
is searched for without changing the tests:

- every string in a vault-encrypted file of the lab inventory (the example vault,
  re-encrypted for the lab: the NTP, TACACS+, enable, local user and SNMPv3 secrets;
  the lab's own vault: the switches' generated logins, the TACACS+ users' passwords)
  and every inline ``!vault`` value;
- the vault password itself (``.vault-password``);
- every string of a JSON file the lab wrote whose key names a password, secret or
  key (the switches' ``credentials.json``, the TACACS+ read-only login, ...);
- key material: each body line of every PEM private key and OpenVPN static key under
  the lab directory (the automation key, the VPN and TLS keys, the servers' host keys
  in their overlay layers).

:func:`leak_forms` gives, for one secret, what to search for: the secret in clear, IOS
type 7 with every salt 0-15, base64 in its three alignments (standard and Cisco's
alphabet), and hex. Key material lines are searched in clear only (they are base64 or
hex already).
"""

from __future__ import annotations

import base64
import json
import os
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import VaultLib, VaultSecret
from ansible.parsing.yaml.objects import AnsibleVaultEncryptedUnicode
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

MAX_FILES = 200_000  # bound on the lab directory walk (servers' overlay layers included)
MAX_FILE_BYTES = 256 * 1024
MIN_SECRET = 8  # shorter strings would match by chance; asserted, never silently dropped
_SECRET_KEY = re.compile(r"pass|secret|key|token|community", re.I)
_PUBLIC = re.compile(r"pub|path|file|dir", re.I)  # automation_pubkey, key_file: not secrets
_TYPE7_XLAT = "dsfd;kfoA,.iyewrkldJKDHSUBsgvca69834ncxv9873254k;fg87"  # IOS's published table
_PEM = re.compile(
    rb"-----BEGIN ([A-Z0-9 ]*PRIVATE KEY|OpenVPN Static key V1)-----\r?\n(.*?)-----END ", re.S
)
_STD_B64 = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"
_CISCO_B64 = "./" + string.digits + string.ascii_uppercase + string.ascii_lowercase
_TO_CISCO = str.maketrans(_STD_B64, _CISCO_B64)


@dataclass(frozen=True)
class LabSecret:
    """One secret and where it was found (the value never appears in a repr)."""

    origin: str
    value: str
    material: bool = False  # key material: searched in clear only

    def __repr__(self) -> str:
        return f"LabSecret({self.origin!r}, <{len(self.value)} chars>)"


def _strings(data: Any) -> Iterator[str]:
    if isinstance(data, str):
        yield str(data)
    elif isinstance(data, dict):
        for value in data.values():
            yield from _strings(value)
    elif isinstance(data, (list, tuple)):
        for value in data:
            yield from _strings(value)


def _named_secrets(data: Any) -> Iterator[str]:
    """Strings under a key that names a password, secret or key (JSON documents)."""
    if isinstance(data, dict):
        for key, value in data.items():
            if (
                isinstance(value, str)
                and _SECRET_KEY.search(str(key))
                and not _PUBLIC.search(str(key))
            ):
                yield value
            else:
                yield from _named_secrets(value)
    elif isinstance(data, list):
        for value in data:
            yield from _named_secrets(value)


def _inline_vaulted(data: Any) -> Iterator[str]:
    if isinstance(data, AnsibleVaultEncryptedUnicode):
        yield str(data)
    elif isinstance(data, dict):
        for value in data.values():
            yield from _inline_vaulted(value)
    elif isinstance(data, list):
        for value in data:
            yield from _inline_vaulted(value)


def _files(root: Path) -> Iterator[Path]:
    seen = 0
    for top, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            seen += 1
            if seen > MAX_FILES:
                raise AssertionError(f"{root}: more than {MAX_FILES} files, walk stopped")
            path = Path(top, name)
            if path.is_file() and not path.is_symlink():
                yield path


def _in_file(
    path: Path, rel: str, raw: bytes, vault: VaultLib, loader: DataLoader
) -> list[LabSecret]:
    """The secrets one file of the lab directory holds (module docstring)."""
    found = [
        LabSecret(f"{rel} ({match[1].decode()})", line, material=True)
        for match in _PEM.finditer(raw)
        for line in (body.strip() for body in match[2].decode("ascii", "replace").splitlines())
        if len(line) >= MIN_SECRET and ":" not in line  # not a PEM header
    ]
    if rel.startswith(".lab/") and path.suffix == ".json":
        try:
            document = json.loads(raw)
        except ValueError:
            return found
        found += [LabSecret(rel, s) for s in _named_secrets(document) if s]
    elif not rel.startswith(".") and path.suffix in (".yml", ".yaml"):
        if raw.startswith(b"$ANSIBLE_VAULT"):
            plain = vault.decrypt(raw).decode("utf-8")
            found += [LabSecret(rel, s) for s in _strings(yaml.safe_load(plain)) if s]
        elif b"!vault" in raw:
            data = loader.load_from_file(str(path))
            found += [LabSecret(rel, s) for s in _inline_vaulted(data)]
    return found


def _format_constants() -> set[str]:
    """Body lines every OpenSSH private key of a type shares (magic, cipher "none", key
    type): found in fresh keys of the lab's types, they are not key material."""
    keys = (ed25519.Ed25519PrivateKey.generate(), ec.generate_private_key(ec.SECP256R1()))
    lines: set[str] = set()
    for key in keys:
        text = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        body = "".join(text.decode().splitlines()[1:-1])
        lines |= {body[:64], body[:70]}  # the first line as cryptography and ssh-keygen wrap it
    return lines


def lab_secrets(lab: Path) -> list[LabSecret]:
    """Every secret of the lab in ``lab`` (module docstring), one entry per value."""
    password = (lab / ".vault-password").read_bytes().strip()
    vault = VaultLib([("default", VaultSecret(password))])
    loader = DataLoader()
    loader.set_vault_secrets([("default", VaultSecret(password))])
    found: list[LabSecret] = [LabSecret(".vault-password", password.decode())]
    for path in _files(lab):
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                continue
            raw = path.read_bytes()
        except OSError:
            continue
        found += _in_file(path, str(path.relative_to(lab)), raw, vault, loader)
    constants = _format_constants()
    unique: dict[str, LabSecret] = {}
    for secret in (
        s for s in found if s.value not in constants
    ):  # one entry per value, naming every place it was found
        seen = unique.get(secret.value)
        if seen is None:
            unique[secret.value] = secret
        elif secret.origin not in seen.origin:
            unique[secret.value] = LabSecret(
                f"{seen.origin}, {secret.origin}", seen.value, seen.material
            )
    return list(unique.values())


def type7(secret: str, salt: int) -> str:
    """IOS type 7 of ``secret`` with ``salt`` (0-15), written here rather than taken from
    netwarden (the code under test) or netutils (which refuses more than 25 characters).

    Examples:
        >>> type7("cisco", 2)
        '02050D480809'
        >>> from netutils.password import encrypt_cisco_type7
        >>> all(type7("s3cr3t-Lab", s) == encrypt_cisco_type7("s3cr3t-Lab", s) for s in range(16))
        True
    """
    body = "".join(
        f"{ord(c) ^ ord(_TYPE7_XLAT[(salt + i) % len(_TYPE7_XLAT)]):02X}"
        for i, c in enumerate(secret)
    )
    return f"{salt:02d}{body}"


def _b64_alignments(raw: bytes) -> list[str]:
    """The part of base64 that depends only on ``raw``, at each of the three offsets."""
    out = []
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + raw).decode("ascii").rstrip("=")
        skip = (pad * 8 + 5) // 6 if pad else 0  # characters mixing pad bits
        tail = (len(b"\0" * pad + raw) * 8) % 6  # a last character holding partial bits
        body = encoded[skip : len(encoded) - (1 if tail else 0)]
        if len(body) >= MIN_SECRET:
            out.append(body)
    return out


def leak_forms(secret: LabSecret) -> dict[str, str]:
    """What a leak of ``secret`` could look like: {form name: needle}.

    Hex and type 7 needles are lower case: search them in the lowered text.
    """
    if secret.material:
        return {"clear": secret.value}
    raw = secret.value.encode("utf-8")
    forms = {"clear": secret.value}
    for salt in range(16):
        forms[f"type7 salt {salt}"] = type7(secret.value, salt)[2:].lower()  # without the salt
    for i, body in enumerate(_b64_alignments(raw)):
        forms[f"base64 offset {i}"] = body
        forms[f"cisco base64 offset {i}"] = body.translate(_TO_CISCO)
    forms["base64"] = base64.b64encode(raw).decode("ascii")
    forms["hex"] = raw.hex()
    return forms


def find_leaks(text: str, secrets: list[LabSecret]) -> list[str]:
    """Each (secret origin, form) found in ``text``; the values themselves are not returned.

    Examples:
        >>> lab = [LabSecret("vault.yml", "Tr0ub4dor&3-lab")]
        >>> find_leaks("key 7 " + type7("Tr0ub4dor&3-lab", 11), lab)
        ['vault.yml: type7 salt 11']
        >>> find_leaks("x" + base64.b64encode(b"ab" + b"Tr0ub4dor&3-lab").decode(), lab)
        ['vault.yml: base64 offset 2']
        >>> find_leaks("0x" + b"Tr0ub4dor&3-lab".hex().upper(), lab)
        ['vault.yml: hex']
        >>> find_leaks("key 7 <removed>", lab)
        []
    """
    lowered = text.lower()
    leaks = []
    for secret in secrets:
        for form, needle in leak_forms(secret).items():
            haystack = lowered if form.startswith(("type7", "hex")) else text
            if needle in haystack:
                leaks.append(f"{secret.origin}: {form}")
    return leaks
