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

Queries (first question only, UDP/53 packets only) are read a batch at a time:
compiled (``nw_dns_questions`` in ``native.c``: name, domain split, longest label,
suspicious and encoded points), else :func:`parse_query` and the scores below per
query, the same answers. A batch of many queries is counted a (client, domain) window
at a time (:meth:`DnsTunnel._grouped`: queries grouped by exact names with
``nw_intern``, counts summed as arrays), the same windows as one by one (decision 124). Resolvers named in the inventory (``provides: [dns]``)
are skipped as sources by default: their queries are their clients', which are
seen on the client leg. One incident per (client, domain).
"""

from __future__ import annotations

import ctypes
import math
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import ClassVar, Final

import numpy as np
import numpy.typing as npt
from pydantic import Field

from collectors.auditor import native
from collectors.auditor.batch import Batch
from collectors.auditor.config import DetectorSettings
from collectors.auditor.detectors._util import (
    BoundedDict,
    ip_str,
    payload_prefix,
    payload_slices,
    payload_starts,
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
    total = 0.0  # (summed one by one, as native.c's nw_dns_questions sums: the same float)
    for b in dict.fromkeys(text):
        p = text.count(b) / n
        total += p * math.log2(p)
    return max(0.0, -total)


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


def domain_labels(labels: list[bytes]) -> int:
    """How many of the last ``labels`` (lower case) make the registered domain: 2, or 3
    under a two-part suffix such as ``co.uk`` (a small list)."""
    return 3 if len(labels) >= 3 and labels[-2] in _TWO_PART_SLD and len(labels[-1]) == 2 else 2


def split_domain(labels: list[bytes]) -> tuple[bytes, bytes]:
    """(registered domain, subdomain part), with a small list of two-part suffixes.

    Examples:
        >>> split_domain([b"a", b"b", b"example", b"co", b"uk"])
        (b'example.co.uk', b'a.b')
    """
    keep = domain_labels(labels)
    return b".".join(labels[-keep:]), b".".join(labels[:-keep])


def _intern(
    lib: ctypes.CDLL,
    names: npt.NDArray[np.uint8],
    starts: npt.NDArray[np.int64],
    ends: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], int]:
    """Dense ids (in order of first appearance) of the strings ``names[starts:ends]``."""
    n = len(starts)
    ids = np.empty(n, dtype=np.int64)
    size = 1 << max(4, (2 * n).bit_length())
    table = np.empty(size, dtype=np.int64)
    s, e = np.ascontiguousarray(starts), np.ascontiguousarray(ends)
    count = lib.nw_intern(
        names.ctypes.data, s.ctypes.data, e.ctypes.data, n, ids.ctypes.data, table.ctypes.data, size
    )
    return ids, int(count)


GROUPED_MIN: Final = 512
"""Queries in a batch from which :meth:`DnsTunnel._grouped` counts them (below, the
per-query loop costs less than its few dozen array operations; measured)."""


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


# (qtype, registered domain, subdomain part, longest label, suspicious name, encoded query),
# the last two 0 or 1
_Question = tuple[int, bytes, bytes, int, int, int]
_UNSEEN: Final[_Question] = (-1, b"", b"", 0, 0, 0)
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


@dataclass(frozen=True, slots=True)
class _Text:
    """The summary and evidence of one report (a window's counts when it was judged)."""

    client: str
    domain: str
    reasons: list[str]
    queries: int
    unique: int
    mean_len: float
    max_label: int
    null: int
    txt: int
    suspicious: int
    encoded: int
    window_seconds: float

    def summary(self) -> str:
        return (
            f"{self.client}: DNS tunnel suspected through {self.domain} "
            f"({', '.join(self.reasons)}; {self.queries} queries, {self.unique} unique subdomains)"
        )

    def evidence(self) -> dict[str, object]:
        return {
            "domain": self.domain,
            "reasons": self.reasons,
            "queries": self.queries,
            "unique_subdomains": self.unique,
            "mean_subdomain_length": round(self.mean_len, 1),
            "max_label_length": self.max_label,
            "null_queries": self.null,
            "txt_queries": self.txt,
            "suspicious_names": self.suspicious,
            "encoded_queries": self.encoded,
            "window_seconds": self.window_seconds,
        }


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
            if sub and not self._ignored(domain):
                max_label = max(map(len, labels))
                keep = len(raw) - domain_labels(labels)  # the subdomain's labels
                encoded = self._encoded(qtype, raw[:keep])
                suspicious = self._suspicious(max_label, sub)
                result = (qtype, domain, sub, max_label, int(suspicious), int(encoded))
        if len(cache) >= 8192:
            cache.clear()
        cache[body] = result
        return result

    def _ignored(self, domain: bytes) -> bool:
        return domain in self.ignore or domain.endswith(self._ignore_below)

    def _parsed(
        self, batch: Batch, at: npt.NDArray[np.int64], lib: ctypes.CDLL
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]] | None:
        """``nw_dns_questions`` of the payloads of packets ``at``: its (n, 8) table and the
        names it wrote, or None when a payload's offsets leave the captured bytes."""
        buf = np.frombuffer(batch.data, dtype=np.uint8)
        starts = np.ascontiguousarray(payload_starts(batch, at))
        lens = np.ascontiguousarray(view(batch).payload_len[at].astype(np.int64))
        # (the decoder's payload_off/payload_len never leave the captured bytes)
        if not len(buf) or int((starts + lens).max()) > len(buf):
            return None
        s = self.s
        names = np.empty(int(lens.sum()), dtype=np.uint8)
        out = np.empty((len(at), 8), dtype=np.int64)
        lib.nw_dns_questions(
            buf.ctypes.data,
            starts.ctypes.data,
            lens.ctypes.data,
            len(at),
            s.long_label,
            s.entropy_min_length,
            s.entropy_bits,
            s.encoded_min_length,
            s.encoded_entropy_bits,
            s.encoded_min_score,
            names.ctypes.data,
            out.ctypes.data,
        )
        return out, names

    def questions(
        self, batch: Batch, idx: npt.NDArray[np.integer], *, compiled: bool | None = None
    ) -> list[_Question | None]:
        """What the first question of each query ``idx`` says (None: not judged).

        ``idx`` are queries (the header checked as :meth:`process` checks it). Compiled
        (``nw_dns_questions``, when the kernels load and ``compiled`` is not False):
        every question parsed and scored at once, Python only slicing the names out;
        else :meth:`_question` per query, memoised by its bytes. The same answers.
        """
        at: npt.NDArray[np.int64] = np.asarray(idx, dtype=np.int64)
        lib = native.library() if compiled is not False else None
        parsed = self._parsed(batch, at, lib) if len(at) and lib is not None else None
        if parsed is not None:
            out, names = parsed
            text = names.tobytes()
            ignored = self._ignored
            found: list[_Question | None] = []
            add = found.append
            for judged, qtype, a, d, e, max_label, suspicious, encoded in out.tolist():
                domain = text[d:e] if judged else b""
                if not judged or ignored(domain):
                    add(None)
                else:
                    add((qtype, domain, text[a : d - 1], max_label, suspicious, encoded))
            return found
        question, cached = self._question, self._questions.get
        found = []
        for payload in payload_slices(batch, at) if len(at) else ():
            q = cached(payload[12:], _UNSEEN)  # (the cache's own test, without a call)
            found.append(question(payload) if q is _UNSEEN else q)
        return found

    def process(self, batch: Batch, ctx: DetectorContext) -> None:  # noqa: ARG002  (contract)
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
        lib = native.library() if len(idx) >= GROUPED_MIN else None
        parsed = self._parsed(batch, idx.astype(np.int64), lib) if lib is not None else None
        if lib is not None and parsed is not None:
            self._grouped(v.src4[idx], v.ts[idx], *parsed, lib=lib, touched=touched)
        else:
            rows = zip(
                v.src4[idx].tolist(), v.ts[idx].tolist(), self.questions(batch, idx), strict=True
            )
            self._count(rows, touched)
        windows = self.windows
        for key in touched:
            self._judge(key, windows[key])
        windows.trim()

    def _count(
        self,
        rows: Iterable[tuple[int, float, _Question | None]],
        touched: dict[tuple[int, bytes], None],
    ) -> None:
        """Count queries (client, time, question) into their windows, one by one."""
        windows = self.windows
        put = OrderedDict.__setitem__
        window_seconds = self.s.window_seconds
        cap = 4 * self.s.unique_threshold
        get, move = windows.get, windows.move_to_end
        for src, ts, q in rows:
            if q is None:
                continue
            qtype, domain, sub, max_label, suspicious, encoded = q
            key = (src, domain)
            w = get(key)
            if w is None or ts - w.start > window_seconds:
                w = _Window(ts)
                put(windows, key, w)  # bounded in process, after judging
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

    def _grouped(  # noqa: PLR0915  (one pass over its columns)
        self,
        src4: npt.NDArray[np.uint32],
        times: npt.NDArray[np.float64],
        out: npt.NDArray[np.int64],
        names: npt.NDArray[np.uint8],
        *,
        lib: ctypes.CDLL,
        touched: dict[tuple[int, bytes], None],
    ) -> None:
        """:meth:`_count` of a batch's parsed queries a window at a time (the same windows).

        Queries are grouped by (client, domain), with the domains and names told apart
        exactly (``nw_intern``); a group's counts are array sums. Python then touches
        each window once, and each name that is new in the batch for its window once,
        instead of each query. A group whose window would end inside the batch (a query
        more than ``window_seconds`` after the window's start) is counted one by one.
        """
        judged = np.flatnonzero(out[:, 0] == 1)
        if len(judged) == 0:
            return
        o = out[judged]
        a, d, e = o[:, 2], o[:, 3], o[:, 4]
        dom_id, n_dom = _intern(lib, names, d, e)
        text = names.tobytes()
        first_dom = np.flatnonzero(np.diff(np.maximum.accumulate(dom_id), prepend=-1) > 0)
        domains = [
            text[x:y] for x, y in zip(d[first_dom].tolist(), e[first_dom].tolist(), strict=True)
        ]
        ignored = np.fromiter(map(self._ignored, domains), dtype=np.bool_, count=n_dom)
        if ignored.any():
            keep = np.flatnonzero(~ignored[dom_id])
            if len(keep) == 0:
                return
            judged, o, dom_id = judged[keep], o[keep], dom_id[keep]
            a, d, e = o[:, 2], o[:, 3], o[:, 4]
        src = src4[judged].astype(np.int64)
        ts = times[judged]
        # groups: (client, domain), in the sorted order of that pair; within a group the
        # queries keep their order (stable sort)
        pairs = (src.astype(np.uint64) << np.uint64(32)) | dom_id.astype(np.uint64)
        order = np.argsort(pairs, kind="stable")
        pair = pairs[order]
        starts = np.flatnonzero(np.concatenate(([True], pair[1:] != pair[:-1])))
        ends = np.append(starts[1:], len(order))
        group = np.empty(len(order), dtype=np.int64)
        group[order] = np.repeat(np.arange(len(starts)), ends - starts)
        qtype = o[:, 1]
        null = np.add.reduceat((qtype == QTYPE_NULL)[order].astype(np.int64), starts)
        txt = np.add.reduceat((qtype == QTYPE_TXT)[order].astype(np.int64), starts)
        t_first = ts[order[starts]]
        t_max = np.maximum.reduceat(ts[order], starts)
        max_label = np.maximum.reduceat(o[:, 5][order], starts)
        # the names new in the batch for their group, in query order within the group
        name_id, n_names = _intern(lib, names, a, e)
        seen = group * n_names + name_id
        by_seen = np.argsort(seen, kind="stable")
        fresh = np.sort(by_seen[np.diff(seen[by_seen], prepend=-1) != 0])  # first per (group, name)
        fresh = fresh[np.argsort(group[fresh], kind="stable")]
        fresh_at = np.searchsorted(group[fresh], np.arange(len(starts) + 1))
        window_seconds = self.s.window_seconds
        cap = 4 * self.s.unique_threshold
        windows = self.windows
        get, move, put = windows.get, windows.move_to_end, OrderedDict.__setitem__
        fresh_len = d[fresh] - 1 - a[fresh]
        sub_at, lens = a[fresh].tolist(), fresh_len.tolist()
        sus, enc = o[fresh, 6].tolist(), o[fresh, 7].tolist()
        # each group's fresh names' totals (for a group whose fresh names all go in)
        g_len, g_sus, g_enc = (
            np.diff(np.concatenate(([0], np.cumsum(col)))[fresh_at]).tolist()
            for col in (fresh_len, o[fresh, 6], o[fresh, 7])
        )
        g_src, g_dom = src[order[starts]].tolist(), dom_id[order[starts]].tolist()
        g_count = (ends - starts).tolist()
        g_null, g_txt, g_first, g_max = (
            null.tolist(),
            txt.tolist(),
            t_first.tolist(),
            t_max.tolist(),
        )
        g_label, g_fresh = max_label.tolist(), fresh_at.tolist()
        keys: list[tuple[int, bytes]] = [(x, domains[y]) for x, y in zip(g_src, g_dom, strict=True)]
        for g in np.argsort(order[starts]).tolist():  # groups in order of first query
            key = keys[g]
            w = get(key)
            if w is None or g_first[g] - w.start > window_seconds:
                w = _Window(g_first[g])
                put(windows, key, w)
            if g_max[g] - w.start > window_seconds:  # a new window inside the batch
                rows = order[starts[g] : ends[g]]
                self._count(
                    (
                        (g_src[g], t, (qt, key[1], text[x : y - 1], ml, su, en))
                        for t, qt, x, y, ml, su, en in zip(
                            ts[rows].tolist(),
                            qtype[rows].tolist(),
                            a[rows].tolist(),
                            d[rows].tolist(),
                            o[rows, 5].tolist(),
                            o[rows, 6].tolist(),
                            o[rows, 7].tolist(),
                            strict=True,
                        )
                    ),
                    touched,
                )
                continue
            if g_max[g] > w.last:  # noqa: PLR1730  (hot loop: no call to max)
                w.last = g_max[g]
            w.queries += g_count[g]
            w.null += g_null[g]
            w.txt += g_txt[g]
            if g_label[g] > w.max_label:  # noqa: PLR1730  (hot loop: no call to max)
                w.max_label = g_label[g]
            unique = w.unique
            room = cap - len(unique)
            lo, hi = g_fresh[g], g_fresh[g + 1]
            if room > 0 and lo < hi:
                subs = [text[x : x + m] for x, m in zip(sub_at[lo:hi], lens[lo:hi], strict=True)]
                if hi - lo <= room and unique.isdisjoint(subs):  # all go in
                    unique.update(subs)
                    w.sub_len += g_len[g]
                    w.suspicious += g_sus[g]
                    w.encoded += g_enc[g]
                else:  # the new ones, as many as there is room for
                    new = [k for k in range(hi - lo) if subs[k] not in unique][:room]
                    unique.update([subs[k] for k in new])
                    new = [lo + k for k in new]
                    w.sub_len += sum([lens[k] for k in new])
                    w.suspicious += sum([sus[k] for k in new])
                    w.encoded += sum([enc[k] for k in new])
            touched[key] = None
        # the windows' recency order: as one by one, by each key's last query
        for g in np.argsort(order[ends - 1]).tolist():
            move(keys[g])

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
        # the text is built only if this report is written (most updates are not)
        text = _Text(
            client,
            domain,
            reasons,
            w.queries,
            len(w.unique),
            mean_len,
            w.max_label,
            w.null,
            w.txt,
            w.suspicious,
            w.encoded,
            s.window_seconds,
        )
        self.ctx.report(
            self.name,
            (client, domain),
            ts=w.last,
            first_seen=w.start,
            severity=Severity.HIGH if strong else Severity.MEDIUM,
            src=client,
            count=w.queries,
            summary=text.summary,
            evidence=text.evidence,
        )

    def expire(self, now: float) -> None:
        windows = self.windows
        while windows:
            key, w = next(iter(windows.items()))
            if now - w.last <= self.s.window_seconds:
                break
            del windows[key]
