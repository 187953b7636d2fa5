"""``cleartext_credentials``: passwords and communities crossing the network in clear text.

Recognised (client to server, plain TCP/UDP; TLS never matches):

- FTP ``USER``/``PASS`` (port 21; anonymous logins are ignored);
- telnet: the server prompts ``Password:`` and the client then types (port 23);
- HTTP Basic: an ``Authorization: Basic`` header in a request (any port);
- HTTP form posts: a urlencoded body with a password-like field
  (``password``, ``passwd``, ``pass``, ``pwd``, ``passphrase``, ``secret``, ``pin``);
- SNMP v1/v2c: the community string of requests (161) and traps (162).

The secret never leaves the detector: evidence names the kind, the user name when
the protocol sends one (``log_usernames``), and a salted hash prefix of the secret
(``ctx.fingerprint``: equal secrets look equal within a run, nothing more). Packets
are selected with vectorised prefix tests (methods, ``USER``/``PASS``, ports); only
those are looked at in Python. One incident per (client, server, kind).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import Field

from collectors.auditor.batch import Batch
from collectors.auditor.config import DetectorSettings
from collectors.auditor.detectors._util import (
    BoundedDict,
    ip_str,
    payload_prefix,
    payload_slices,
    payload_starts,
    prefix_in,
    sorted_in,
    view,
)
from collectors.auditor.detectors.base import DetectorContext, register
from collectors.auditor.events import Severity

HTTP_METHODS = (b"GET ", b"POST ", b"PUT ", b"PATCH ", b"DELETE ", b"HEAD ", b"OPTIONS ")
FORM_FIELD = re.compile(rb"(?:^|&)(password|passwd|pass|pwd|passphrase|secret|pin)=([^&]*)", re.I)
BASIC = re.compile(rb"\r\nauthorization:[ \t]*basic[ \t]+([A-Za-z0-9+/=]+)", re.I)
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.I)
ANONYMOUS = frozenset({b"anonymous", b"ftp"})
WELL_KNOWN_COMMUNITIES = frozenset({b"public", b"private"})

Flow = tuple[int, int, int, int]
_Packet = tuple[Flow, float, bytes]  # (src4, dst4, sport, dport), time, payload
_HTTP_LOWER = tuple(m.lower() for m in HTTP_METHODS)
_AUTH_LINE = b"\r\nauthorization:"  # what BASIC needs, lower-cased

# First payload bytes that may start an HTTP method (either case): a lookup table; and
# those that may start a POST (whose form body may come in a packet of its own).
_METHOD_FIRST = np.zeros(256, dtype=np.bool_)
for _m in HTTP_METHODS:
    _METHOD_FIRST[[_m[0], _m[0] | 0x20]] = True
_POST_FIRST = np.zeros(256, dtype=np.bool_)
_POST_FIRST[[ord("P"), ord("p")]] = True


def _packets(batch: Batch, idx: npt.NDArray[np.int64]) -> Iterator[_Packet]:
    """((src4, dst4, sport, dport), ts, payload) of packets ``idx``, from column lists."""
    if len(idx) == 0:
        return iter(())
    v = view(batch)
    flows = zip(
        v.src4[idx].tolist(),
        v.dst4[idx].tolist(),
        v.sport[idx].tolist(),
        v.dport[idx].tolist(),
        strict=True,
    )
    return zip(flows, v.ts[idx].tolist(), payload_slices(batch, idx), strict=True)


def lower_ascii(arr: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """ASCII upper case to lower case in a uint8 array."""
    upper = (arr >= 65) & (arr <= 90)
    return np.where(upper, arr + 32, arr).astype(np.uint8)


def snmp_community(data: bytes) -> tuple[int, bytes] | None:
    """(version, community) of an SNMP v1/v2c message, or None (v3 has no community).

    Examples:
        >>> snmp_community(bytes.fromhex("302602010104067075626c6963") + bytes(10))
        (1, b'public')
    """
    if len(data) < 7 or data[0] != 0x30:
        return None
    i = 1
    if data[i] & 0x80:
        i += 1 + (data[i] & 0x7F)
    else:
        i += 1
    if i + 3 > len(data) or data[i] != 0x02 or data[i + 1] != 1:
        return None
    version = data[i + 2]
    if version not in (0, 1):
        return None
    i += 3
    if i + 2 > len(data) or data[i] != 0x04:
        return None
    n = data[i + 1]
    if n & 0x80 or i + 2 + n > len(data):
        return None
    return version, data[i + 2 : i + 2 + n]


def _http_worth_reading(
    batch: Batch, rows: npt.NDArray[np.int64], head: npt.NDArray[np.uint8]
) -> npt.NDArray[np.int64]:
    """The HTTP requests among ``rows`` (lower-cased first bytes ``head``) that
    :meth:`CleartextCredentials._http` can find something in: a POST, or one whose
    payload holds an ``Authorization`` header line (any case). The others, most of a web
    server's traffic, are dropped with one search of their payloads joined together."""
    if len(rows) == 0:
        return rows
    post = prefix_in(head, (b"post ",))
    payloads = payload_slices(batch, rows)
    blob = b"\0".join(payloads).lower()  # (the NUL only separates: it matches nothing)
    hits: list[int] = []
    at = blob.find(_AUTH_LINE)
    while at >= 0:
        hits.append(at)
        at = blob.find(_AUTH_LINE, at + 1)
    if hits:
        ends = np.cumsum([len(x) + 1 for x in payloads])  # one past each payload's NUL
        post[np.searchsorted(ends, np.array(hits), side="right")] = True
    return rows[post]


class CleartextSettings(DetectorSettings):
    log_usernames: bool = True
    snmp_severity: Severity = Severity.MEDIUM
    max_flows: int = Field(default=50_000, ge=100)


@register
class CleartextCredentials:
    name: ClassVar[str] = "cleartext_credentials"
    Settings: ClassVar[type[DetectorSettings]] = CleartextSettings
    needs_inventory: ClassVar[bool] = False

    def __init__(self, settings: CleartextSettings, ctx: DetectorContext) -> None:
        self.s = settings
        self.ctx = ctx
        self.ftp_users: BoundedDict[Flow, bytes] = BoundedDict(settings.max_flows)
        self.telnet_prompted: BoundedDict[Flow, float] = BoundedDict(settings.max_flows)
        self.pending_posts: BoundedDict[Flow, float] = BoundedDict(settings.max_flows)

    def process(self, batch: Batch, ctx: DetectorContext) -> None:  # noqa: ARG002  (contract)
        v = view(batch)
        tcp_data = np.flatnonzero(v.tcp & (v.payload_len > 0))
        if len(tcp_data):
            dport = v.dport[tcp_data]
            sport = v.sport[tcp_data]
            # Cheap pre-selection before the 8-byte prefixes: FTP/telnet ports, a first
            # byte that can start an HTTP method, or a client with a pending form post.
            # A body may follow a POST of this batch, so its client's packets stay in.
            buf = np.frombuffer(batch.data, dtype=np.uint8)
            first = buf[np.minimum(payload_starts(batch, tcp_data), len(buf) - 1)]
            method = _METHOD_FIRST[first]
            cand = (dport == 21) | (dport == 23) | (sport == 23) | method
            src = v.src4[tcp_data]
            clients = src[_POST_FIRST[first]]
            if self.pending_posts:
                pending = np.fromiter((k[0] for k in self.pending_posts), np.uint32)
                clients = np.concatenate([clients, pending])
            if len(clients):
                cand |= sorted_in(src, np.unique(clients))
            keep = np.flatnonzero(cand)
            tcp_data, dport, sport = tcp_data[keep], dport[keep], sport[keep]
        if len(tcp_data):
            head = lower_ascii(payload_prefix(batch, tcp_data, 8))
            ftp = (dport == 21) & prefix_in(head, (b"user ", b"pass "))
            http = prefix_in(head, _HTTP_LOWER)
            telnet = (dport == 23) | (sport == 23)
            for pkt in _packets(batch, tcp_data[ftp]):
                self._ftp(pkt)
            for pkt in _packets(batch, tcp_data[telnet]):
                self._telnet(pkt)
            for pkt in _packets(batch, _http_worth_reading(batch, tcp_data[http], head[http])):
                self._http(pkt)
            if self.pending_posts:
                clients = np.fromiter((k[0] for k in self.pending_posts), np.uint32)
                maybe = ~http & np.isin(v.src4[tcp_data], clients)
                for pkt in _packets(batch, tcp_data[maybe]):
                    self._post_body(pkt)
        udp = np.flatnonzero(v.udp & ((v.dport == 161) | (v.dport == 162)) & (v.payload_len > 6))
        for pkt in _packets(batch, udp):
            self._snmp(pkt)

    # -- protocols --------------------------------------------------------------
    def _ftp(self, pkt: _Packet) -> None:
        flow, _ts, data = pkt
        line = data.split(b"\r\n", 1)[0]
        verb, _, arg = line.partition(b" ")
        if verb.upper() == b"USER":
            self.ftp_users[flow] = arg.strip()
            return
        user = self.ftp_users.pop(flow, b"")
        if user.lower() in ANONYMOUS:
            return
        self._found(pkt, "ftp", Severity.HIGH, user, arg.strip())

    def _telnet(self, pkt: _Packet) -> None:
        flow, ts, data = pkt
        src, dst, sport, dport = flow
        if sport == 23:  # server to client
            if b"password" in data.lower():
                self.telnet_prompted[(dst, src, dport, 23)] = ts
            return
        if self.telnet_prompted.pop(flow, None) is not None:
            self._found(pkt, "telnet", Severity.HIGH, b"", None)

    def _http(self, pkt: _Packet) -> None:
        flow, ts, data = pkt
        head, sep, body = data.partition(b"\r\n\r\n")
        m = BASIC.search(head)
        if m:
            try:
                user, _, secret = base64.b64decode(m.group(1), validate=True).partition(b":")
            except (binascii.Error, ValueError):
                user, secret = b"", m.group(1)
            self._found(pkt, "http_basic", Severity.HIGH, user, secret)
        if not head[:5].upper().startswith(b"POST") or b"x-www-form-urlencoded" not in head.lower():
            return
        if body:
            self._form(pkt, body)
            return
        length = CONTENT_LENGTH.search(head)
        if sep and length and int(length.group(1)) > 0:
            self.pending_posts[flow] = ts

    def _post_body(self, pkt: _Packet) -> None:
        if self.pending_posts.pop(pkt[0], None) is not None:
            self._form(pkt, pkt[2])

    def _form(self, pkt: _Packet, body: bytes) -> None:
        m = FORM_FIELD.search(body)
        if m:
            self._found(pkt, "http_form", Severity.HIGH, b"", m.group(2), field=m.group(1))

    def _snmp(self, pkt: _Packet) -> None:
        parsed = snmp_community(pkt[2])
        if parsed is None:
            return
        version, community = parsed
        kind = "snmp_v1" if version == 0 else "snmp_v2c"
        extra: dict[str, object] = {
            "well_known_default": community.lower() in WELL_KNOWN_COMMUNITIES
        }
        self._found(pkt, kind, self.s.snmp_severity, b"", community, extra=extra)

    def _found(
        self,
        pkt: _Packet,
        kind: str,
        severity: Severity,
        user: bytes,
        secret: bytes | None,
        *,
        field: bytes | None = None,
        extra: dict[str, object] | None = None,
    ) -> None:
        (src, dst, _sport, dport), ts, _data = pkt
        client, server = ip_str(src), ip_str(dst)
        evidence: dict[str, object] = {"kind": kind, "port": dport}
        if user and self.s.log_usernames:
            evidence["user"] = user.decode("utf-8", "replace")[:64]
        if secret:
            evidence["secret_fingerprint"] = self.ctx.fingerprint(secret)
        if field is not None:
            evidence["field"] = field.decode("ascii", "replace")
        evidence.update(extra or {})
        self.ctx.report(
            self.name,
            (client, server, kind),
            ts=ts,
            severity=severity,
            src=client,
            dst=server,
            summary=f"{client} sent {kind.replace('_', ' ')} credentials in clear text to "
            f"{server}:{dport}",
            evidence=evidence,
        )

    def expire(self, now: float) -> None:
        for table in (self.telnet_prompted, self.pending_posts):
            while table:
                key, ts = next(iter(table.items()))
                if now - ts <= 60.0:
                    break
                del table[key]
