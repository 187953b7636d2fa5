"""``dns_tunnel``: data carried in DNS queries (iodine, dnscat2, DNS exfiltration).

Per (client, registered domain), in tumbling windows of ``window_seconds``:

- ``NULL`` (type 10) queries: obsolete, used by iodine; ``null_threshold`` of them;
- suspicious names: a label of ``long_label`` characters or more, bytes outside
  the hostname alphabet, or a subdomain of ``entropy_min_length``+ characters with
  Shannon entropy >= ``entropy_bits`` per character; ``suspicious_threshold`` of them;
- many unique subdomains (``unique_threshold``) whose mean length is at least
  ``unique_min_mean_length`` (CDN names such as ``d1a2b3c4d5e6f7.cloudfront.net``
  are short and each looked up once or a few times: they stay far below);
- a TXT-heavy mix: ``txt_threshold`` TXT queries making at least ``txt_ratio`` of
  the client's queries to that domain, over at least 10 unique subdomains;
- encoded queries (a short tunnel such as dnscat2's: a dozen queries, one a second,
  that the volume rules above never reach): each query is scored on four points of
  its longest label, and ``encoded_threshold`` unique queries scoring at least
  ``encoded_min_score`` (default: all four) are reported. The points: the label has
  ``encoded_min_length`` characters or more; it is written in a data encoding's
  alphabet (hexadecimal, base32 with letters and digits, or base64 with both cases,
  digits or ``+/=``); its Shannon entropy reaches ``encoded_entropy_bits``; and the
  record type carries data back (TXT, MX, CNAME, NULL). CDN names (Akamai's
  ``e12345.dscx.akamaiedge.net``, ``a1b2c3...akamaihd.net``, YouTube's
  ``r3---sn-4g5e6nz7.googlevideo.com``) are A/AAAA lookups and mostly short or
  outside those alphabets; DNS-SD (``_ipp._tcp.local`` PTR) and blocklist lookups
  (``4.3.2.1.zen.spamhaus.org`` A/TXT) have short labels.

Queries are parsed by a few lines of ``struct``-free slicing (first question only),
for UDP/53 packets only. Resolvers named in the inventory (``provides: [dns]``)
are skipped as sources by default: their queries are their clients', which are
seen on the client leg. One incident per (client, domain).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar, Final

import numpy as np
from pydantic import Field

from collectors.auditor.batch import Batch
from collectors.auditor.config import DetectorSettings
from collectors.auditor.detectors._util import (
    BoundedDict,
    ip_str,
    payload_prefix,
    payload_slices,
    sorted_in,
    view,
)
from collectors.auditor.detectors.base import DetectorContext, register
from collectors.auditor.events import Severity

QTYPE_CNAME = 5
QTYPE_NULL = 10
QTYPE_MX = 15
QTYPE_TXT = 16
DATA_QTYPES = frozenset({QTYPE_CNAME, QTYPE_NULL, QTYPE_MX, QTYPE_TXT})
"""Record types whose answers carry a tunnel's data back (dnscat2 uses TXT, MX and CNAME)."""
_HEX = frozenset(b"0123456789abcdef")
_BASE32 = frozenset(b"abcdefghijklmnopqrstuvwxyz234567")
_BASE64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_")
_DIGITS = frozenset(b"0123456789")
_UPPER = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_LOWER = frozenset(b"abcdefghijklmnopqrstuvwxyz")
_BASE64_PUNCT = frozenset(b"+/=")
_HOSTNAME_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789-_")
_HOSTNAME_BYTES_TABLE = bytes(sorted(_HOSTNAME_BYTES))  # (bytes.translate's delete argument)
_TWO_PART_SLD = frozenset(
    {b"co", b"com", b"net", b"org", b"gov", b"ac", b"edu", b"ne", b"or", b"go"}
)


def parse_query(data: bytes, *, lower: bool = True) -> tuple[int, list[bytes]] | None:
    """(qtype, labels) of a DNS query's first question, or None for responses/garbage.

    Labels are lower-cased unless ``lower`` is False (base64 is told by its mixed case).

    Examples:
        >>> q = bytes(2) + b"\\x01\\x00\\x00\\x01" + bytes(6) + b"\\x03www\\x07example\\x03com\\x00\\x00\\x01\\x00\\x01"
        >>> parse_query(q)
        (1, [b'www', b'example', b'com'])
    """
    if len(data) < 17 or data[2] & 0x80 or int.from_bytes(data[4:6], "big") == 0:
        return None
    labels: list[bytes] = []
    i = 12
    while i < len(data):
        n = data[i]
        if n == 0:
            if i + 3 > len(data) - 1:
                return None
            return int.from_bytes(data[i + 1 : i + 3], "big"), labels
        if n & 0xC0 or len(labels) >= 127:
            return None
        label = data[i + 1 : i + 1 + n]
        labels.append(label.lower() if lower else label)
        i += 1 + n
    return None


def entropy(text: bytes) -> float:
    """Shannon entropy in bits per byte.

    Examples:
        >>> entropy(b"aaaa"), round(entropy(b"abcd"), 2)
        (0.0, 2.0)
    """
    if not text:
        return 0.0
    n = len(text)
    # each distinct byte counted in C, in order of first appearance (as Counter would: the
    # same sum in the same order, so the same float)
    counts = [text.count(b) for b in dict.fromkeys(text)]
    return max(0.0, -sum(c / n * math.log2(c / n) for c in counts))


def encoding(label: bytes) -> str | None:
    """The data encoding whose alphabet ``label`` (original case) is written in, or None.

    Each needs letters and digits (a word or a hostname label without a digit is none
    of them): hexadecimal (0-9, a-f, one case); base32 (RFC 4648's a-z and 2-7, one
    case); base64 (its alphabet, URL-safe included, with both cases or ``+/=``).

    Examples:
        >>> encoding(b"6d2e0101a3f9"), encoding(b"MFRGGZDFMZTWQ2LK"), encoding(b"aGVsbG8gV29ybGQ1")
        ('hex', 'base32', 'base64')
        >>> encoding(b"deadbeef"), encoding(b"www"), encoding(b"r3---sn-4g5e6nz7")
        (None, None, None)
    """
    chars, folded = set(label), set(label.lower())
    if not chars & _DIGITS or not folded - _DIGITS:
        return None
    one_case = label in (label.lower(), label.upper())
    if folded <= _HEX and one_case:
        return "hex"
    if folded <= _BASE32 and one_case:
        return "base32"
    mixed = chars & _UPPER and chars & _LOWER
    if chars <= _BASE64 and (mixed or chars & _BASE64_PUNCT):
        return "base64"
    return None


def split_domain(labels: list[bytes]) -> tuple[bytes, bytes]:
    """(registered domain, subdomain part), with a small list of two-part suffixes.

    Examples:
        >>> split_domain([b"a", b"b", b"example", b"co", b"uk"])
        (b'example.co.uk', b'a.b')
    """
    keep = 3 if len(labels) >= 3 and labels[-2] in _TWO_PART_SLD and len(labels[-1]) == 2 else 2
    return b".".join(labels[-keep:]), b".".join(labels[:-keep])


class DnsTunnelSettings(DetectorSettings):
    window_seconds: float = Field(default=600.0, gt=0)
    null_threshold: int = Field(default=3, ge=1)
    suspicious_threshold: int = Field(default=10, ge=1)
    long_label: int = Field(default=52, ge=10, le=63)
    entropy_min_length: int = Field(default=24, ge=8)
    entropy_bits: float = Field(default=4.0, gt=0)
    unique_threshold: int = Field(default=100, ge=2)
    unique_min_mean_length: float = Field(default=16.0, ge=0)
    txt_threshold: int = Field(default=20, ge=1)
    txt_ratio: float = Field(default=0.5, gt=0, le=1)
    encoded_threshold: int = Field(default=10, ge=1, description="unique encoded queries")
    encoded_min_length: int = Field(default=30, ge=8, le=63)
    encoded_entropy_bits: float = Field(default=3.0, gt=0)
    encoded_min_score: int = Field(default=4, ge=1, le=4)
    ignore_domains: list[str] = Field(default_factory=lambda: ["in-addr.arpa", "ip6.arpa"])
    ignore_resolvers: bool = True
    max_entries: int = Field(default=100_000, ge=100)


# (qtype, registered domain, subdomain part, longest label, suspicious name, encoded query)
_Question = tuple[int, bytes, bytes, int, bool, bool]
_UNSEEN: Final[_Question] = (-1, b"", b"", 0, False, False)
"""Not in the question cache (compared by identity; None there: a question not judged)."""


@dataclass(slots=True)
class _Window:
    start: float
    last: float = 0.0
    queries: int = 0
    null: int = 0
    txt: int = 0
    suspicious: int = 0
    encoded: int = 0
    sub_len: int = 0
    max_label: int = 0
    unique: set[bytes] = field(default_factory=set)


@register
class DnsTunnel:
    name: ClassVar[str] = "dns_tunnel"
    Settings: ClassVar[type[DetectorSettings]] = DnsTunnelSettings
    needs_inventory: ClassVar[bool] = False

    def __init__(self, settings: DnsTunnelSettings, ctx: DetectorContext) -> None:
        self.s = settings
        self.ctx = ctx
        self.windows: BoundedDict[tuple[int, bytes], _Window] = BoundedDict(settings.max_entries)
        self.ignore = tuple(d.lower().encode() for d in settings.ignore_domains)
        self._ignore_below = tuple(b"." + d for d in self.ignore)  # their subdomains
        self._questions: dict[bytes, _Question | None] = {}
        self.resolvers: set[int] = set()
        if ctx.inventory is not None and settings.ignore_resolvers:
            for dev in ctx.inventory.devices.values():
                if "dns" in dev.provides:
                    self.resolvers |= {int(a) for _, a in dev.addresses()}
        self._resolvers = np.array(sorted(self.resolvers), dtype=np.uint32)

    def _suspicious(self, max_label: int, sub: bytes) -> bool:
        """A label of ``long_label`` bytes or more, a byte no hostname has, or a long and
        random subdomain (``max_label``: the longest label of the whole name)."""
        s = self.s
        if max_label >= s.long_label:
            return True
        flat = sub.replace(b".", b"")
        if flat.translate(None, _HOSTNAME_BYTES_TABLE):  # (what is left is not hostname)
            return True
        return len(flat) >= s.entropy_min_length and entropy(flat) >= s.entropy_bits

    def _points(self, qtype: int, label: bytes) -> Iterator[bool]:
        """The score's four points for a query's longest label, the cheapest first."""
        s = self.s
        yield qtype in DATA_QTYPES
        yield len(label) >= s.encoded_min_length
        yield encoding(label) is not None
        yield entropy(label.lower()) >= s.encoded_entropy_bits

    def score(self, qtype: int, labels: list[bytes]) -> int:
        """A query's tunnel score, 0-4: its longest label's length, alphabet and entropy, its type.

        ``labels`` are in their original case (base64 is mixed-case).
        """
        return sum(self._points(qtype, max(labels, key=len)))

    def _encoded(self, qtype: int, labels: list[bytes]) -> bool:
        """``score(qtype, labels) >= encoded_min_score``, working out only what can still
        change the answer (most queries are of a type that carries no data and already
        cannot reach the default 4 points: their label's alphabet and entropy are not read)."""
        need = self.s.encoded_min_score
        points, left = 0, 4
        for point in self._points(qtype, max(labels, key=len)):
            points += point
            left -= 1
            if points >= need or points + left < need:
                break
        return points >= need

    def _question(self, payload: bytes) -> _Question | None:
        """What a query's question says, or None when it is not judged (memoised by its bytes)."""
        body = payload[12:]  # the header (id, flags, counts) was checked by the caller
        cache = self._questions
        if body in cache:
            return cache[body]
        result: _Question | None = None
        q = parse_query(payload, lower=False)
        if q is not None and len(q[1]) >= 2:
            qtype, raw = q
            labels = [label.lower() for label in raw]
            domain, sub = split_domain(labels)
            if sub and not (domain in self.ignore or domain.endswith(self._ignore_below)):
                max_label = max(map(len, labels))
                keep = len(raw) - (domain.count(b".") + 1)  # the subdomain's labels
                encoded = self._encoded(qtype, raw[:keep])
                result = (qtype, domain, sub, max_label, self._suspicious(max_label, sub), encoded)
        if len(cache) >= 8192:
            cache.clear()
        cache[body] = result
        return result

    def process(self, batch: Batch, ctx: DetectorContext) -> None:  # noqa: ARG002, PLR0912  (contract; one loop)
        v = view(batch)
        idx = np.flatnonzero(v.udp & (v.dport == 53) & (v.payload_len >= 17))
        if len(idx) == 0:
            return
        # Queries only (QR bit clear, at least one question), not from a resolver:
        # decided on the header bytes of every candidate at once.
        head = payload_prefix(batch, idx, 6)
        query = ((head[:, 2] & 0x80) == 0) & ((head[:, 4] != 0) | (head[:, 5] != 0))
        if self.resolvers:
            query &= ~sorted_in(v.src4[idx], self._resolvers)
        idx = idx[query]
        if len(idx) == 0:
            return
        # in first-query order: a set of (int, bytes) keys would iterate in a per-process
        # hash order, and two incidents judged in one batch would be written in either order
        touched: dict[tuple[int, bytes], None] = {}
        windows = self.windows
        put = OrderedDict.__setitem__
        window_seconds = self.s.window_seconds
        cap = 4 * self.s.unique_threshold
        rows = zip(
            v.src4[idx].tolist(), v.ts[idx].tolist(), payload_slices(batch, idx), strict=True
        )
        question, cached = self._question, self._questions.get
        get, move = windows.get, windows.move_to_end
        for src, ts, payload in rows:
            q = cached(payload[12:], _UNSEEN)  # (the cache's own test, without a call)
            if q is _UNSEEN:
                q = question(payload)
            if q is None:
                continue
            qtype, domain, sub, max_label, suspicious, encoded = q
            key = (src, domain)
            w = get(key)
            if w is None or ts - w.start > window_seconds:
                w = _Window(ts)
                put(windows, key, w)  # bounded below, after judging
            else:
                move(key)
            if ts > w.last:  # noqa: PLR1730  (hot loop: no call to max)
                w.last = ts
            w.queries += 1
            if qtype == QTYPE_NULL:
                w.null += 1
            elif qtype == QTYPE_TXT:
                w.txt += 1
            unique = w.unique
            if sub not in unique and len(unique) < cap:
                unique.add(sub)
                w.sub_len += len(sub)
                w.suspicious += suspicious
                w.encoded += encoded
            if max_label > w.max_label:  # noqa: PLR1730  (hot loop: no call to max)
                w.max_label = max_label
            touched[key] = None
        for key in touched:
            self._judge(key, windows[key])
        windows.trim()

    def _judge(self, key: tuple[int, bytes], w: _Window) -> None:
        s = self.s
        if (  # no reason can hold (each below needs one of these): the common case, cheaply
            w.null < s.null_threshold
            and w.suspicious < s.suspicious_threshold
            and w.encoded < s.encoded_threshold
            and len(w.unique) < s.unique_threshold
            and w.txt < s.txt_threshold
        ):
            return
        reasons = []
        if w.null >= s.null_threshold:
            reasons.append("null_queries")
        if w.suspicious >= s.suspicious_threshold:
            reasons.append("suspicious_names")
        if w.encoded >= s.encoded_threshold:
            reasons.append("encoded_queries")
        mean_len = w.sub_len / len(w.unique) if w.unique else 0.0
        if len(w.unique) >= s.unique_threshold and mean_len >= s.unique_min_mean_length:
            reasons.append("many_unique_subdomains")
        if w.txt >= s.txt_threshold and w.txt / w.queries >= s.txt_ratio and len(w.unique) >= 10:
            reasons.append("txt_heavy")
        if not reasons:
            return
        client, domain = ip_str(key[0]), key[1].decode("ascii", "replace")
        strong = {"null_queries", "suspicious_names", "encoded_queries"} & set(reasons) or len(
            reasons
        ) > 1
        self.ctx.report(
            self.name,
            (client, domain),
            ts=w.last,
            first_seen=w.start,
            severity=Severity.HIGH if strong else Severity.MEDIUM,
            src=client,
            count=w.queries,
            summary=f"{client}: DNS tunnel suspected through {domain} "
            f"({', '.join(reasons)}; {w.queries} queries, {len(w.unique)} unique subdomains)",
            evidence={
                "domain": domain,
                "reasons": reasons,
                "queries": w.queries,
                "unique_subdomains": len(w.unique),
                "mean_subdomain_length": round(mean_len, 1),
                "max_label_length": w.max_label,
                "null_queries": w.null,
                "txt_queries": w.txt,
                "suspicious_names": w.suspicious,
                "encoded_queries": w.encoded,
                "window_seconds": s.window_seconds,
            },
        )

    def expire(self, now: float) -> None:
        windows = self.windows
        while windows:
            key, w = next(iter(windows.items()))
            if now - w.last <= self.s.window_seconds:
                break
            del windows[key]
