/* The auditor's compiled inner loops (see native.py: built with the system C
 * compiler, loaded with ctypes, and replaced by the pure Python/numpy code when
 * no compiler is available). Plain C11, no Python headers: every function takes
 * raw pointers to numpy arrays the caller allocated and sized. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline int64_t read_u32(const uint8_t *p, int big_endian) {
    if (big_endian)
        return ((int64_t)p[0] << 24) | ((int64_t)p[1] << 16) | ((int64_t)p[2] << 8) | (int64_t)p[3];
    return ((int64_t)p[3] << 24) | ((int64_t)p[2] << 16) | ((int64_t)p[1] << 8) | (int64_t)p[0];
}

/* Walk a chain of records in buf[start:end] exactly as walk.walk_scalar does:
 * next = pos + add + u32(pos + len_at); stop at the first record that does not
 * fit (more data needed) or whose length is out of range (*bad = 1). Writes at
 * most out_cap offsets; returns how many. The caller guarantees
 * len_at + 4 <= header, so no byte at or after end is read. With head > 0 (at most
 * header), the first head bytes of each record returned are copied to out_head
 * (room for out_cap * head bytes): the record header's fields, read while the walk has
 * them in cache. */
int64_t nw_walk(const uint8_t *buf, int64_t start, int64_t end, int32_t big_endian,
                int64_t len_at, int64_t add, int64_t header, int64_t min_len,
                int64_t max_len, int64_t align, int64_t *out, int64_t out_cap,
                int64_t *stop, int32_t *bad, uint8_t *out_head, int64_t head) {
    int64_t n = 0, pos = start;
    *bad = 0;
    while (pos + header <= end && n < out_cap) {
        int64_t length = read_u32(buf + pos + len_at, big_endian);
        if (length < min_len || length > max_len || length % align != 0) {
            *bad = 1;
            break;
        }
        int64_t next = pos + add + length;
        if (next > end)
            break;
        if (head > 0)
            memcpy(out_head + n * head, buf + pos, (size_t)head);
        out[n++] = pos;
        pos = next;
    }
    *stop = pos;
    return n;
}

/* ------------------------------------------------------------------------
 * Header decoding: nw_decode is headers.py's numpy decoder, one packet at a
 * time. The numpy code is the specification; every branch below names the
 * numpy step it mirrors, and tests/unit/auditor/test_native_decode.py checks
 * that both produce the same bytes on a large corpus.
 *
 * Reads: like the numpy code, a packet's fields are read from fixed windows of
 * buf (32 bytes at the link-layer start, 40 at the L3 start, 16 at the L4 start,
 * 8 at each IPv6 extension header) whatever the captured length, and the length
 * checks decide which values are kept. The L3 start is clipped to the captured
 * length and the L4 start to the end of the IP data (itself at most the captured
 * length), so no read goes more than NW_REACH bytes past a packet's captured end:
 * nw_decode checks that those bytes are inside buf before reading a packet.
 * ------------------------------------------------------------------------ */

#define NW_REACH 40 /* the widest window (L3), which starts at most at the packet end */
#define ETH_IPV4 0x0800
#define ETH_ARP 0x0806
#define ETH_IPV6 0x86DD
#define U16_MAX 0xFFFF
#define IPV6_MAX_EXT 8

enum { /* batch.DecodeError */
    ERR_OK,
    TRUNCATED_L2,
    TRUNCATED_L3,
    TRUNCATED_L4,
    BAD_IP_HEADER,
    BAD_ARP,
    UNSUPPORTED_LINKTYPE
};

/* The PACKET_DTYPE fields written, as (name, byte offset, numpy kind and size).
 * One table gives both the offsets used below and nw_decode_layout(), which
 * headers.py compares with PACKET_DTYPE before the first call: a changed dtype
 * stops the auditor instead of corrupting records. ts and wirelen are the
 * caller's and are not written. */
#define NW_FIELDS(X)               \
    X(caplen, 8, u4)               \
    X(src_mac, 16, u8)             \
    X(dst_mac, 24, u8)             \
    X(vlan, 32, i2)                \
    X(ethertype, 34, u2)           \
    X(ip_version, 36, u1)          \
    X(src4, 37, u4)                \
    X(dst4, 41, u4)                \
    X(src6, 45, V16)               \
    X(dst6, 61, V16)               \
    X(ttl, 77, u1)                 \
    X(proto, 78, u1)               \
    X(sport, 79, u2)               \
    X(dport, 81, u2)               \
    X(tcp_flags, 83, u1)           \
    X(icmp_type, 84, u1)           \
    X(icmp_code, 85, u1)           \
    X(payload_off, 86, u2)         \
    X(payload_len, 88, u2)         \
    X(arp_op, 90, u2)              \
    X(arp_sha, 92, u8)             \
    X(arp_spa, 100, u4)            \
    X(arp_tha, 104, u8)            \
    X(arp_tpa, 112, u4)            \
    X(error, 116, u1)
#define NW_ITEMSIZE 117
#define NW_AT(name, offset, kind) AT_##name = offset,
#define NW_TEXT(name, offset, kind) #name ":" #offset ":" #kind " "
#define NW_STR(x) NW_STR_(x)
#define NW_STR_(x) #x
enum { NW_FIELDS(NW_AT) };

/* "caplen:8:u4 src_mac:16:u8 ... itemsize:117" */
const char *nw_decode_layout(void) {
    return NW_FIELDS(NW_TEXT) "itemsize:" NW_STR(NW_ITEMSIZE);
}

static inline int64_t u8(const uint8_t *p) { return p[0]; }
static inline int64_t be16(const uint8_t *p) { return ((int64_t)p[0] << 8) | p[1]; }
static inline int64_t be32(const uint8_t *p) { return (be16(p) << 16) | be16(p + 2); }
static inline uint64_t mac48(const uint8_t *p) { /* headers._mac: 6 bytes, big-endian */
    return ((uint64_t)be32(p) << 16) | (uint64_t)be16(p + 4);
}
static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t clip_u16(int64_t v) { return v < 0 ? 0 : v > U16_MAX ? U16_MAX : v; }
static inline int is_tpid(int64_t et) { return et == 0x8100 || et == 0x88A8 || et == 0x9100; }

/* headers._set_error: the first error recorded wins. */
static inline void set_error(uint8_t *err, int code) {
    if (*err == ERR_OK)
        *err = (uint8_t)code;
}

/* One packet's decoded values (the record's fields, plus the offsets between layers).
 * Each step sets every field it owns, the numpy code's np.where(mask, value, 0),
 * so a Packet needs no zeroing (which cost a third of the time). */
typedef struct {
    const uint8_t *p; /* the packet's first byte */
    int64_t cap;
    uint8_t err;
    /* link layer (headers._L2) */
    int64_t l2_l3, ethertype, vlan;
    uint64_t src_mac, dst_mac;
    /* IP layer (headers._IP); l3 is the L2 value clipped to cap */
    int64_t l3, l4, end, proto;
    int first, ok4, ok6;
    /* fields of the record */
    int64_t ttl, src4, dst4, sport, dport, tcp_flags, icmp_type, icmp_code;
    int64_t arp_op, arp_spa, arp_tpa, payload_off, payload_len;
    uint64_t arp_sha, arp_tha;
} Packet;

/* headers._link_layer, _NO_ETHERTYPE branch: the IP version nibble at base. */
static void link_no_ethertype(Packet *k, int64_t base) {
    k->l2_l3 = base;
    if (k->cap < base + 1)
        set_error(&k->err, TRUNCATED_L2);
    int64_t version = u8(k->p + base) >> 4;
    k->ethertype = version == 4 ? ETH_IPV4 : version == 6 ? ETH_IPV6 : 0;
    if (k->ethertype == 0)
        set_error(&k->err, BAD_IP_HEADER);
}

/* headers._link_layer, after the MACs: the ethertype at et_at, then up to two VLAN tags. */
static void link_ethertype(Packet *k, int64_t base, int64_t et_at) {
    const uint8_t *p = k->p;
    if (k->cap < base)
        set_error(&k->err, TRUNCATED_L2);
    int64_t et = k->err == ERR_OK ? be16(p + et_at) : 0;
    k->l2_l3 = base;
    if (is_tpid(et)) {
        if (k->cap < base + 4) {
            set_error(&k->err, TRUNCATED_L2);
        } else {
            k->vlan = be16(p + base) & 0x0FFF;
            et = be16(p + base + 2);
            k->l2_l3 += 4;
            if (is_tpid(et)) { /* QinQ: the inner tag names the VLAN */
                if (k->cap < base + 8) {
                    set_error(&k->err, TRUNCATED_L2);
                } else {
                    k->vlan = be16(p + base + 4) & 0x0FFF;
                    et = be16(p + base + 6);
                    k->l2_l3 += 4;
                }
            }
        }
    }
    k->ethertype = et;
}

/* headers._link_layer: every read is inside the 32-byte window at the packet start. */
static void link_layer(Packet *k, int64_t linktype) {
    const uint8_t *p = k->p;
    int64_t cap = k->cap;
    int has_src;
    k->err = ERR_OK;
    k->l2_l3 = 0;
    k->ethertype = 0;
    k->vlan = -1;
    k->src_mac = 0;
    k->dst_mac = 0;
    switch (linktype) {
    case 0:   /* NULL */
    case 108: /* LOOP */
        link_no_ethertype(k, 4);
        return;
    case 101: /* RAW */
    case 228: /* IPV4 */
    case 229: /* IPV6 */
        link_no_ethertype(k, 0);
        return;
    case 1: /* ETHERNET */
        k->dst_mac = cap >= 6 ? mac48(p) : 0;
        k->src_mac = cap >= 12 ? mac48(p + 6) : 0;
        link_ethertype(k, 14, 12);
        return;
    case 113: /* LINUX_SLL */
        has_src = be16(p + 4) == 6 && cap >= 12;
        k->src_mac = has_src ? mac48(p + 6) : 0;
        link_ethertype(k, 16, 14);
        return;
    case 276: /* LINUX_SLL2 */
        has_src = u8(p + 11) == 6 && cap >= 18;
        k->src_mac = has_src ? mac48(p + 12) : 0;
        link_ethertype(k, 20, 0);
        return;
    default:
        k->err = UNSUPPORTED_LINKTYPE;
    }
}

static int is_ipv6_extension(int64_t nh) {
    switch (nh) {
    case 0: case 43: case 44: case 51: case 60: case 135: case 139: case 140:
        return 1;
    default:
        return 0;
    }
}

/* headers._ipv6_extensions: every read is an 8-byte window ending by k->end. */
static void ipv6_extensions(Packet *k) {
    for (int i = 0; i < IPV6_MAX_EXT; i++) {
        if (!is_ipv6_extension(k->proto))
            return;
        if (k->end < k->l4 + 8) {
            k->err = TRUNCATED_L3;
            return;
        }
        const uint8_t *e = k->p + k->l4;
        int64_t kind = k->proto, size = u8(e + 1);
        int64_t hlen = kind == 44 ? 8 : kind == 51 ? (size + 2) * 4 : (size + 1) * 8;
        if (kind == 44 && (be16(e + 2) >> 3) != 0)
            k->first = 0;
        k->proto = u8(e);
        k->l4 += hlen;
    }
    if (is_ipv6_extension(k->proto))
        k->err = TRUNCATED_L3;
}

/* headers._ip_layer: reads the 40-byte window at l3 (and the extension headers). */
static void ip_layer(Packet *k) {
    const uint8_t *q = k->p + k->l3;
    int64_t cap = k->cap, l3 = k->l3;
    int is4 = k->err == ERR_OK && k->ethertype == ETH_IPV4;
    int is6 = k->err == ERR_OK && k->ethertype == ETH_IPV6;
    int64_t vbyte = u8(q), ihl = (vbyte & 0x0F) * 4, total = be16(q + 2), plen = be16(q + 4);
    if ((is4 && cap < l3 + 20) || (is6 && cap < l3 + 40))
        set_error(&k->err, TRUNCATED_L3);
    int bad4 = is4 && ((vbyte >> 4) != 4 || ihl < 20 || (total != 0 && total < ihl));
    if (bad4 || (is6 && (vbyte >> 4) != 6))
        set_error(&k->err, BAD_IP_HEADER);
    if (is4 && cap < l3 + ihl)
        set_error(&k->err, TRUNCATED_L3);
    /* total length 0 is what TCP segmentation offload leaves in captures */
    int64_t ip_len = is4 ? (total == 0 ? cap : total) : (plen == 0 ? cap : 40 + plen);
    k->l4 = is4 ? l3 + ihl : is6 ? l3 + 40 : l3;
    k->end = is4 || is6 ? min64(cap, l3 + ip_len) : cap;
    k->proto = is4 ? u8(q + 9) : is6 ? u8(q + 6) : 0;
    k->first = !is4 || (be16(q + 6) & 0x1FFF) == 0;
    if (is6 && k->err == ERR_OK) {
        ipv6_extensions(k);
        if (k->l4 > k->end)
            set_error(&k->err, TRUNCATED_L3);
    }
    k->ok4 = is4 && k->err == ERR_OK;
    k->ok6 = is6 && k->err == ERR_OK;
    k->ttl = k->ok4 ? u8(q + 8) : k->ok6 ? u8(q + 7) : 0;
    k->src4 = k->ok4 ? be32(q + 12) : 0;
    k->dst4 = k->ok4 ? be32(q + 16) : 0;
}

/* headers._arp_layer for an ARP packet (arp true): reads the 40-byte window at l3. */
static void arp_layer(Packet *k, int arp) {
    const uint8_t *q = k->p + k->l3;
    if (arp) {
        if (k->cap < k->l3 + 8)
            set_error(&k->err, TRUNCATED_L3);
        if (!(be16(q + 2) == ETH_IPV4 && be16(q + 4) == 0x0604))
            set_error(&k->err, BAD_ARP);
        if (k->cap < k->l3 + 28)
            set_error(&k->err, TRUNCATED_L3);
    }
    int ok = arp && k->err == ERR_OK;
    k->arp_op = ok ? be16(q + 6) : 0;
    k->arp_sha = ok ? mac48(q + 8) : 0;
    k->arp_spa = ok ? be32(q + 14) : 0;
    k->arp_tha = ok ? mac48(q + 18) : 0;
    k->arp_tpa = ok ? be32(q + 24) : 0;
    if (ok)
        k->l4 = k->l3 + 28;
}

/* headers._transport: reads the 16-byte window at l4 (l4 <= end <= cap). Returns
 * the header length; *cut is set when the header is cut short. */
static int64_t transport(Packet *k, int has_l4, int *cut) {
    const uint8_t *r = k->p + k->l4;
    int64_t avail = k->end - k->l4, proto = k->proto;
    int tcp = has_l4 && proto == 6, udp = has_l4 && proto == 17;
    int icmp = has_l4 && (proto == 1 || proto == 58);
    int ports = (tcp || udp) && avail >= 4, typed = icmp && avail >= 2;
    k->sport = ports ? be16(r) : 0;
    k->dport = ports ? be16(r + 2) : 0;
    k->tcp_flags = tcp && avail >= 14 ? u8(r + 13) : 0;
    k->icmp_type = typed ? u8(r) : 0;
    k->icmp_code = typed ? u8(r + 1) : 0;
    int64_t doff = tcp ? (u8(r + 12) >> 4) * 4 : 0;
    int64_t hlen = tcp ? doff : udp || icmp ? 8 : 0;
    *cut = avail < hlen || (tcp && (avail < 20 || doff < 20));
    if (*cut)
        set_error(&k->err, TRUNCATED_L4);
    return hlen;
}

/* headers.decode_headers, for one packet whose bytes and windows lie inside buf. */
static void decode_one(Packet *k, int64_t linktype) {
    link_layer(k, linktype);
    int l2_ok = k->err == ERR_OK;
    k->l3 = min64(k->l2_l3, k->cap);
    ip_layer(k);
    int ok_ip = k->ok4 || k->ok6;
    arp_layer(k, l2_ok && k->ethertype == ETH_ARP);
    k->l4 = min64(k->l4, k->end);
    int cut;
    int64_t hlen = transport(k, ok_ip && k->first, &cut);
    /* payload: what follows the last header decoded, up to the end of the IP data */
    int64_t after = k->err == ERR_OK ? k->l4 + hlen : cut ? k->l4 : l2_ok ? k->l3 : 0;
    int64_t end = ok_ip ? k->end : k->cap;
    k->payload_off = min64(after, U16_MAX);
    k->payload_len = clip_u16(end - after);
}

#define PUT(type, name, value)                   \
    do {                                         \
        type v_ = (type)(value);                 \
        memcpy(rec + AT_##name, &v_, sizeof v_); \
    } while (0)

/* Every field of one record but ts and wirelen, in native byte order. */
static void store(uint8_t *rec, const Packet *k) {
    int ok_ip = k->ok4 || k->ok6;
    PUT(uint32_t, caplen, k->cap);
    PUT(uint64_t, src_mac, k->src_mac);
    PUT(uint64_t, dst_mac, k->dst_mac);
    PUT(int16_t, vlan, k->vlan);
    PUT(uint16_t, ethertype, k->ethertype);
    PUT(uint8_t, ip_version, k->ok4 ? 4 : k->ok6 ? 6 : 0);
    PUT(uint32_t, src4, k->src4);
    PUT(uint32_t, dst4, k->dst4);
    if (k->ok6) {
        memcpy(rec + AT_src6, k->p + k->l3 + 8, 16);
        memcpy(rec + AT_dst6, k->p + k->l3 + 24, 16);
    } else {
        memset(rec + AT_src6, 0, 32);
    }
    PUT(uint8_t, ttl, k->ttl);
    PUT(uint8_t, proto, ok_ip ? k->proto : 0);
    PUT(uint16_t, sport, k->sport);
    PUT(uint16_t, dport, k->dport);
    PUT(uint8_t, tcp_flags, k->tcp_flags);
    PUT(uint8_t, icmp_type, k->icmp_type);
    PUT(uint8_t, icmp_code, k->icmp_code);
    PUT(uint16_t, payload_off, k->payload_off);
    PUT(uint16_t, payload_len, k->payload_len);
    PUT(uint16_t, arp_op, k->arp_op);
    PUT(uint64_t, arp_sha, k->arp_sha);
    PUT(uint32_t, arp_spa, k->arp_spa);
    PUT(uint64_t, arp_tha, k->arp_tha);
    PUT(uint32_t, arp_tpa, k->arp_tpa);
    PUT(uint8_t, error, k->err);
}

/* Decode packets buf[starts[i] : starts[i] + caplens[i]] into out (n records of
 * PACKET_DTYPE, ts and wirelen untouched). Packet i has link type
 * linktypes[i * linktype_step] (step 0: one link type for all). Returns n, or
 * the index of the first packet that does not lie inside buf with NW_REACH bytes
 * after it: nothing of that packet is read, and the caller must not use out. */
int64_t nw_decode(const uint8_t *buf, int64_t buflen, const int64_t *starts,
                  const int64_t *caplens, const int64_t *linktypes, int64_t linktype_step,
                  int64_t n, uint8_t *out) {
    for (int64_t i = 0; i < n; i++) {
        int64_t start = starts[i], cap = caplens[i];
        if (start < 0 || cap < 0 || start > buflen || buflen - start < NW_REACH ||
            cap > buflen - start - NW_REACH)
            return i;
        Packet k;
        k.p = buf + start;
        k.cap = cap;
        decode_one(&k, linktypes[i * linktype_step]);
        store(out + i * NW_ITEMSIZE, &k);
    }
    return n;
}

/* ---- DHCP (BOOTP) messages (detectors/_dhcp.py, bootp_fields) ----
 * Message i is buf[starts[i] : starts[i] + lens[i]] (the caller guarantees it lies in
 * buf). Read exactly as _dhcp.parse_bootp reads it: not DHCP (ok[i] = 0) when shorter
 * than 240 bytes or without the magic cookie at 236; else out[5 i ...] = op, message
 * type (option 53; 0 when absent), giaddr, server identifier (option 54 with 4 bytes;
 * -1 when absent) and chaddr (48 bits), the last occurrence of an option winning.
 * Options are walked from byte 240 to the end option (255) or the end of the data;
 * a pad (0) is one byte; an option cut by the end of the data is not taken. */
void nw_bootp(const uint8_t *buf, const int64_t *starts, const int64_t *lens, int64_t n,
              int64_t *out, uint8_t *ok) {
    for (int64_t k = 0; k < n; k++) {
        const uint8_t *d = buf + starts[k];
        int64_t len = lens[k];
        int64_t *o = out + 5 * k;
        if (len < 240 || d[236] != 0x63 || d[237] != 0x82 || d[238] != 0x53 || d[239] != 0x63) {
            ok[k] = 0;
            o[0] = o[1] = o[2] = o[4] = 0;
            o[3] = -1;
            continue;
        }
        ok[k] = 1;
        int64_t mtype = 0, server = -1, chaddr = 0;
        for (int j = 28; j < 34; j++)
            chaddr = chaddr << 8 | d[j];
        int64_t i = 240;
        while (i < len) {
            uint8_t code = d[i];
            if (code == 255)
                break;
            if (code == 0) {
                i++;
                continue;
            }
            if (i + 1 >= len)
                break;
            int64_t length = d[i + 1];
            if (code == 53 && length >= 1 && i + 2 < len)
                mtype = d[i + 2];
            else if (code == 54 && length == 4 && i + 6 <= len)
                server = read_u32(d + i + 2, 1);
            i += 2 + length;
        }
        o[0] = d[0];
        o[1] = mtype;
        o[2] = read_u32(d + 24, 1);
        o[3] = server;
        o[4] = chaddr;
    }
}

/* ------------------------------------------------------------------------
 * The live ring (capture.py RingSource): Linux's AF_PACKET TPACKET_V3 receive
 * ring, read in place. Blocks are taken in ring order from first_block while the
 * kernel has handed them to user space (block_status & TP_STATUS_USER), at most
 * max_blocks; each packet's captured bytes are copied into out (so the block goes
 * back to the kernel at once, before decoding), with the 802.1Q tag the kernel
 * stripped into tp_vlan_tci put back where it was on the wire, so nw_decode sees
 * the frame as a capture file holds it. A block is released (block_status = 0,
 * a release store: the kernel reads it with a barrier) after its packets are
 * copied. A block that does not fit in what is left of out/starts ends the call
 * (the caller sizes both for max_blocks whole blocks, so the first always fits);
 * a packet whose offsets leave the block (never from a sane kernel) is skipped.
 * Layouts (linux/if_packet.h): tpacket_block_desc = version, offset_to_priv,
 * then tpacket_hdr_v1 {block_status @8, num_pkts @12, offset_to_first_pkt @16,
 * blk_len @20, ...}; tpacket3_hdr {tp_next_offset @0, tp_sec @4, tp_nsec @8,
 * tp_snaplen @12, tp_len @16, tp_status @20, tp_mac @24, tp_net @26,
 * tp_rxhash @28, tp_vlan_tci @32, tp_vlan_tpid @36}.
 * ------------------------------------------------------------------------ */

#define TP_STATUS_USER 1u
#define TP_STATUS_VLAN_VALID (1u << 4)
#define TP_STATUS_VLAN_TPID_VALID (1u << 6)

static inline uint32_t ne_u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline uint16_t ne_u16(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

int64_t nw_tp3_take(uint8_t *ring, int64_t block_size, int64_t block_nr, int64_t first_block,
                    int64_t max_blocks, uint8_t *out, int64_t out_cap, int64_t *starts,
                    int64_t *caplens, int64_t *wirelens, double *ts, int64_t max_pkts,
                    int64_t *next_block, int64_t *out_used) {
    int64_t n = 0, used = 0, b = first_block, taken = 0;
    while (taken < max_blocks) {
        uint8_t *desc = ring + b * block_size;
        uint32_t *status = (uint32_t *)(desc + 8);
        if (!(__atomic_load_n(status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
            break;
        int64_t num = ne_u32(desc + 12);
        /* a block copies to at most block_size bytes (each frame slot holds a
         * 48-byte header, more than the 4-byte tag put back) */
        if (n + num > max_pkts || used + block_size > out_cap)
            break;
        int64_t off = ne_u32(desc + 16);
        for (int64_t i = 0; i < num; i++) {
            if (off < 0 || off + 48 > block_size)
                break;
            const uint8_t *h = desc + off;
            uint32_t next = ne_u32(h);
            int64_t snap = ne_u32(h + 12), wire = ne_u32(h + 16);
            uint32_t st = ne_u32(h + 20);
            int64_t mac = ne_u16(h + 24);
            if (off + mac + snap <= block_size) {
                uint8_t *dst = out + used;
                int64_t cap = snap;
                if ((st & TP_STATUS_VLAN_VALID) && snap >= 12) {
                    uint16_t tpid = (st & TP_STATUS_VLAN_TPID_VALID) ? ne_u16(h + 36) : 0x8100;
                    uint16_t tci = (uint16_t)ne_u32(h + 32);
                    memcpy(dst, h + mac, 12);
                    dst[12] = (uint8_t)(tpid >> 8);
                    dst[13] = (uint8_t)tpid;
                    dst[14] = (uint8_t)(tci >> 8);
                    dst[15] = (uint8_t)tci;
                    memcpy(dst + 16, h + mac + 12, (size_t)(snap - 12));
                    cap += 4;
                    wire += 4;
                } else {
                    memcpy(dst, h + mac, (size_t)snap);
                }
                starts[n] = used;
                caplens[n] = cap;
                wirelens[n] = wire;
                ts[n] = (double)ne_u32(h + 4) + (double)ne_u32(h + 8) * 1e-9;
                used += cap;
                n++;
            }
            if (next == 0)
                break;
            off += next;
        }
        __atomic_store_n(status, 0u, __ATOMIC_RELEASE);
        b = (b + 1) % block_nr;
        taken++;
    }
    *next_block = b;
    *out_used = used;
    return n;
}

/* ---- Pending connection attempts (detectors/_attempts.py, NativePending) ----
 * The (scanner << 32 | victim, port) keys of the TCP SYNs awaiting an answer, each
 * with the time of its first SYN, oldest first: what the pure Python tracker keeps
 * in an OrderedDict, with the same operations and the same order of results.
 * Entries sit in a ring in arrival order (sequence numbers head..tail, answered ones
 * marked dead in place) and an open-addressing hash table (linear probing, deletion
 * by backward shift) maps a live key to its sequence number. A full ring is rebuilt
 * with the live entries only, so memory follows the live attempts, not the SYNs
 * seen. Every function returns -1 when memory runs out (the state is then
 * unchanged or, for nw_pend_syns, holds the SYNs before the one that failed). */
typedef struct {
    uint64_t *pair;
    uint16_t *port;
    double *ts;
    uint8_t *alive;
    int64_t cap; /* ring size, a power of 2 */
    int64_t head, tail;
    int64_t live;
    int64_t *slot; /* sequence number of a live entry, or -1 */
    int64_t slots; /* a power of 2, more than twice live */
} Pending;

static inline uint64_t mix64(uint64_t x) { /* a 64-bit finaliser: every bit moves every bit */
    x ^= x >> 33;
    x *= 0xFF51AFD7ED558CCDULL;
    x ^= x >> 33;
    x *= 0xC4CEB9FE1A85EC53ULL;
    x ^= x >> 33;
    return x;
}

static inline uint64_t pend_hash(uint64_t pair, uint16_t port) {
    return mix64(pair ^ ((uint64_t)port * 0x9E3779B97F4A7C15ULL));
}

/* The table index holding (pair, port), or where it would go; *seq its sequence number or -1. */
static uint64_t pend_find(const Pending *p, uint64_t pair, uint16_t port, int64_t *seq) {
    uint64_t m = (uint64_t)p->slots - 1, i = pend_hash(pair, port) & m;
    int64_t rm = p->cap - 1;
    for (;;) {
        int64_t s = p->slot[i];
        if (s < 0 || (p->pair[s & rm] == pair && p->port[s & rm] == port)) {
            *seq = s;
            return i;
        }
        i = (i + 1) & m;
    }
}

static void pend_unslot(Pending *p, uint64_t i) {
    uint64_t m = (uint64_t)p->slots - 1;
    int64_t rm = p->cap - 1;
    for (;;) {
        p->slot[i] = -1;
        uint64_t j = i;
        for (;;) {
            j = (j + 1) & m;
            int64_t s = p->slot[j];
            if (s < 0)
                return;
            uint64_t home = pend_hash(p->pair[s & rm], p->port[s & rm]) & m;
            /* s may move back to i unless its home lies cyclically in (i, j] */
            int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
            if (!stays) {
                p->slot[i] = s;
                i = j;
                break;
            }
        }
    }
}

/* Fill a fresh table (all -1) with the live entries' sequence numbers. */
static void pend_fill(Pending *p, int64_t *table, int64_t slots) {
    memset(table, 0xFF, (size_t)slots * sizeof *table); /* all -1 */
    free(p->slot);
    p->slot = table;
    p->slots = slots;
    int64_t rm = p->cap - 1;
    for (int64_t s = p->head; s < p->tail; s++) {
        if (p->alive[s & rm]) {
            int64_t found;
            table[pend_find(p, p->pair[s & rm], p->port[s & rm], &found)] = s;
        }
    }
}

/* Make room for one more entry (ring and table); -1 when memory runs out (unchanged). */
static int pend_reserve(Pending *p) {
    int full = p->tail - p->head == p->cap;
    int64_t slots = p->slots;
    while (2 * (p->live + 1) > slots)
        slots *= 2;
    if (!full && slots == p->slots)
        return 0;
    int64_t cap = p->cap;
    if (full) { /* the live entries into a new ring */
        cap = 16;
        while (cap < 2 * (p->live + 1))
            cap *= 2;
    }
    int64_t *table = malloc((size_t)slots * sizeof *table);
    uint64_t *pair = full ? malloc((size_t)cap * sizeof *pair) : NULL;
    uint16_t *port = full ? malloc((size_t)cap * sizeof *port) : NULL;
    double *ts = full ? malloc((size_t)cap * sizeof *ts) : NULL;
    uint8_t *alive = full ? malloc((size_t)cap) : NULL;
    if (!table || (full && (!pair || !port || !ts || !alive))) {
        free(table);
        free(pair);
        free(port);
        free(ts);
        free(alive);
        return -1;
    }
    if (full) {
        int64_t n = 0, rm = p->cap - 1;
        for (int64_t s = p->head; s < p->tail; s++) {
            if (p->alive[s & rm]) {
                pair[n] = p->pair[s & rm];
                port[n] = p->port[s & rm];
                ts[n] = p->ts[s & rm];
                alive[n] = 1;
                n++;
            }
        }
        free(p->pair);
        free(p->port);
        free(p->ts);
        free(p->alive);
        p->pair = pair;
        p->port = port;
        p->ts = ts;
        p->alive = alive;
        p->cap = cap;
        p->head = 0;
        p->tail = n;
    }
    pend_fill(p, table, slots);
    return 0;
}

void *nw_pend_new(void) {
    Pending *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->cap = 16;
    p->slots = 64;
    p->pair = malloc(16 * sizeof *p->pair);
    p->port = malloc(16 * sizeof *p->port);
    p->ts = malloc(16 * sizeof *p->ts);
    p->alive = malloc(16);
    p->slot = malloc(64 * sizeof *p->slot);
    if (!p->pair || !p->port || !p->ts || !p->alive || !p->slot) {
        free(p->pair);
        free(p->port);
        free(p->ts);
        free(p->alive);
        free(p->slot);
        free(p);
        return NULL;
    }
    memset(p->slot, 0xFF, 64 * sizeof *p->slot);
    return p;
}

void nw_pend_free(void *handle) {
    Pending *p = handle;
    if (!p)
        return;
    free(p->pair);
    free(p->port);
    free(p->ts);
    free(p->alive);
    free(p->slot);
    free(p);
}

int64_t nw_pend_len(const void *handle) { return ((const Pending *)handle)->live; }

/* Take the entry at sequence number s out (it is live). */
static void pend_kill(Pending *p, int64_t s) {
    int64_t rm = p->cap - 1, found;
    uint64_t i = pend_find(p, p->pair[s & rm], p->port[s & rm], &found);
    pend_unslot(p, i);
    p->alive[s & rm] = 0;
    p->live--;
    while (p->head < p->tail && !p->alive[p->head & rm])
        p->head++;
}

/* SYNs in order: a key not pending joins with its time; when max_pending are pending,
 * the oldest leaves first, written to out_* (an "unanswered" failure). Returns how many
 * left; *oom = 1 when memory ran out (the SYNs before the one that failed are in, and
 * what left for them is in out_*). */
int64_t nw_pend_syns(void *handle, const uint64_t *pair, const uint16_t *port, const double *ts,
                     int64_t n, int64_t max_pending, uint64_t *out_pair, uint16_t *out_port,
                     double *out_ts, int32_t *oom) {
    Pending *p = handle;
    int64_t out = 0;
    *oom = 0;
    for (int64_t k = 0; k < n; k++) {
        int64_t seq;
        pend_find(p, pair[k], port[k], &seq);
        if (seq >= 0)
            continue;
        if (pend_reserve(p) < 0) { /* before anything leaves: nothing half done */
            *oom = 1;
            return out;
        }
        if (p->live >= max_pending && p->live > 0) {
            int64_t rm = p->cap - 1, s = p->head; /* head is live: pend_kill keeps it so */
            out_pair[out] = p->pair[s & rm];
            out_port[out] = p->port[s & rm];
            out_ts[out] = p->ts[s & rm];
            out++;
            pend_kill(p, s);
        }
        int64_t rm = p->cap - 1;
        uint64_t i = pend_find(p, pair[k], port[k], &seq);
        int64_t s = p->tail++;
        p->pair[s & rm] = pair[k];
        p->port[s & rm] = port[k];
        p->ts[s & rm] = ts[k];
        p->alive[s & rm] = 1;
        p->slot[i] = s;
        p->live++;
    }
    return out;
}

/* Answers in order: each pending key leaves; hit[k] = 1 for those that were pending.
 * Returns how many were. */
int64_t nw_pend_answer(void *handle, const uint64_t *pair, const uint16_t *port, int64_t n,
                       uint8_t *hit) {
    Pending *p = handle;
    int64_t hits = 0;
    for (int64_t k = 0; k < n; k++) {
        int64_t seq;
        pend_find(p, pair[k], port[k], &seq);
        hit[k] = seq >= 0;
        if (seq >= 0) {
            pend_kill(p, seq);
            hits++;
        }
    }
    return hits;
}

/* The oldest entries while their time + timeout <= now (all when now is +inf), at most
 * out_cap of them, out of the table into out_*; returns how many. */
int64_t nw_pend_expire(void *handle, double now, double timeout, uint64_t *out_pair,
                       uint16_t *out_port, double *out_ts, int64_t out_cap) {
    Pending *p = handle;
    int64_t out = 0;
    while (p->live > 0 && out < out_cap) {
        int64_t rm = p->cap - 1, s = p->head;
        if (p->ts[s & rm] + timeout > now)
            break;
        out_pair[out] = p->pair[s & rm];
        out_port[out] = p->port[s & rm];
        out_ts[out] = p->ts[s & rm];
        out++;
        pend_kill(p, s);
    }
    return out;
}

/* Every pending entry, oldest first, into out_* (sized nw_pend_len); returns how many. */
int64_t nw_pend_items(const void *handle, uint64_t *out_pair, uint16_t *out_port, double *out_ts) {
    const Pending *p = handle;
    int64_t out = 0, rm = p->cap - 1;
    for (int64_t s = p->head; s < p->tail; s++) {
        if (p->alive[s & rm]) {
            out_pair[out] = p->pair[s & rm];
            out_port[out] = p->port[s & rm];
            out_ts[out] = p->ts[s & rm];
            out++;
        }
    }
    return out;
}

/* ---- address_scan's scanners (detectors/address_scan.py, NativeScanners) ----
 * Per scanner, the victims of its failed attempts with the time of the last failure
 * of each (within window_seconds), the failures per (proto << 16 | port) in order of
 * first failure, and the bounds first/floor/last; the scanners in recency order (the
 * least recent is evicted past max_scanners), the scanners changed since the last
 * expire in order of first change, and the active ones (threshold victims or more) in
 * order of activation. The same state, operation by operation, as the Python
 * PyScanners it replaces; what the detector reports leaves as NwScanSnap records. */

/* An open-addressing map from a non-zero uint64 key to an int64 (or double) value. */
typedef struct {
    uint64_t *k;
    int64_t *v;
    int64_t cap, n; /* cap: 0 or a power of 2, at most half full */
} Map;

static int64_t map_find(const Map *m, uint64_t key) { /* slot of key, or -1 */
    if (m->cap == 0)
        return -1;
    uint64_t mask = (uint64_t)m->cap - 1, i = mix64(key) & mask;
    while (m->k[i]) {
        if (m->k[i] == key)
            return (int64_t)i;
        i = (i + 1) & mask;
    }
    return -1;
}

static int map_resize(Map *m, int64_t cap) {
    uint64_t *k = calloc((size_t)cap, sizeof *k);
    int64_t *v = malloc((size_t)cap * sizeof *v);
    if (!k || !v) {
        free(k);
        free(v);
        return -1;
    }
    uint64_t mask = (uint64_t)cap - 1;
    for (int64_t j = 0; j < m->cap; j++) {
        if (m->k[j]) {
            uint64_t i = mix64(m->k[j]) & mask;
            while (k[i])
                i = (i + 1) & mask;
            k[i] = m->k[j];
            v[i] = m->v[j];
        }
    }
    free(m->k);
    free(m->v);
    m->k = k;
    m->v = v;
    m->cap = cap;
    return 0;
}

/* The value slot of key, inserted with value 0 if new (*fresh = 1); NULL when out of memory. */
static int64_t *map_put(Map *m, uint64_t key, int *fresh) {
    if (2 * (m->n + 1) > m->cap && map_resize(m, m->cap ? 2 * m->cap : 8) < 0)
        return NULL;
    uint64_t mask = (uint64_t)m->cap - 1, i = mix64(key) & mask;
    while (m->k[i]) {
        if (m->k[i] == key) {
            *fresh = 0;
            return &m->v[i];
        }
        i = (i + 1) & mask;
    }
    m->k[i] = key;
    m->v[i] = 0;
    m->n++;
    *fresh = 1;
    return &m->v[i];
}

static void map_del(Map *m, int64_t slot) { /* backward-shift deletion */
    uint64_t mask = (uint64_t)m->cap - 1, i = (uint64_t)slot;
    m->n--;
    for (;;) {
        m->k[i] = 0;
        uint64_t j = i;
        for (;;) {
            j = (j + 1) & mask;
            if (!m->k[j])
                return;
            uint64_t home = mix64(m->k[j]) & mask;
            int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
            if (!stays) {
                m->k[i] = m->k[j];
                m->v[i] = m->v[j];
                i = j;
                break;
            }
        }
    }
}

static void map_free(Map *m) {
    free(m->k);
    free(m->v);
    m->k = NULL;
    m->v = NULL;
    m->cap = m->n = 0;
}

static inline double as_double(int64_t v) {
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}
static inline int64_t as_bits(double d) {
    int64_t v;
    memcpy(&v, &d, sizeof v);
    return v;
}

#define SCAN_SAMPLE 10
#define SCAN_TOP 5

typedef struct { /* the layout numpy reads (NativeScanners._SNAP): 168 bytes */
    uint32_t scanner;
    int32_t nlow, ntop, pad;
    int64_t n, peak, distinct;
    double first, last, floor;
    uint32_t low[SCAN_SAMPLE];
    uint32_t top_pp[SCAN_TOP];
    uint32_t pad2;
    int64_t top_count[SCAN_TOP];
} NwScanSnap;

int64_t nw_as_snap_size(void) { return (int64_t)sizeof(NwScanSnap); }

typedef struct {
    int64_t prev, next; /* pool indices, -1 at the ends */
} Link;

typedef struct {
    int64_t first, last;
} List;

typedef struct {
    uint32_t ip;
    Map victims;    /* victim + 1 -> time bits */
    Map port_at;    /* pp + 1 -> index in pp/count */
    uint32_t *pp;   /* in order of first failure */
    int64_t *count;
    int64_t np, npcap;
    double first, floor, last;
    int stale, active;
    int64_t checked, peak;
    Link lru; /* recency order (prev: older); lru.next chains the free entries */
    Link act; /* activation order, while active */
} Scan;

typedef struct {
    int64_t max_scanners, max_victims, threshold;
    double window;
    Scan *pool;
    int64_t pool_n, pool_cap, free_head; /* free entries chain through lru.next */
    Map by_ip;                           /* ip + 1 -> pool index */
    List lru;                            /* least recent first */
    List act;                            /* the active scanners, first activated first */
    int64_t n_active;
    uint32_t *changed; /* in order of first change since the last take */
    int64_t n_changed, changed_cap;
    Map changed_set; /* ip + 1 */
} Scanners;

void *nw_as_new(int64_t max_scanners, int64_t max_victims, int64_t threshold, double window) {
    Scanners *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->max_scanners = max_scanners;
    t->max_victims = max_victims;
    t->threshold = threshold;
    t->window = window;
    t->free_head = t->lru.first = t->lru.last = t->act.first = t->act.last = -1;
    return t;
}

static void scan_clear(Scan *s) {
    map_free(&s->victims);
    map_free(&s->port_at);
    free(s->pp);
    free(s->count);
    s->pp = NULL;
    s->count = NULL;
}

void nw_as_free(void *handle) {
    Scanners *t = handle;
    if (!t)
        return;
    for (int64_t i = 0; i < t->pool_n; i++)
        scan_clear(&t->pool[i]);
    free(t->pool);
    map_free(&t->by_ip);
    free(t->changed);
    map_free(&t->changed_set);
    free(t);
}

int64_t nw_as_len(const void *handle) { return ((const Scanners *)handle)->by_ip.n; }

/* The two lists of scanners (recency, activation), doubly linked through the Link at
 * offset 'at' of each entry of the pool. */
static Link *link_at(Scanners *t, int64_t i, size_t at) {
    return (Link *)((char *)&t->pool[i] + at);
}

static void list_unlink(Scanners *t, List *l, size_t at, int64_t i) {
    Link *k = link_at(t, i, at);
    if (k->prev >= 0)
        link_at(t, k->prev, at)->next = k->next;
    else
        l->first = k->next;
    if (k->next >= 0)
        link_at(t, k->next, at)->prev = k->prev;
    else
        l->last = k->prev;
}

static void list_append(Scanners *t, List *l, size_t at, int64_t i) {
    Link *k = link_at(t, i, at);
    k->next = -1;
    k->prev = l->last;
    if (l->last >= 0)
        link_at(t, l->last, at)->next = i;
    else
        l->first = i;
    l->last = i;
}

#define LRU offsetof(Scan, lru)
#define ACT offsetof(Scan, act)

static void act_unlink(Scanners *t, int64_t i) {
    if (t->pool[i].active) {
        list_unlink(t, &t->act, ACT, i);
        t->pool[i].active = 0;
        t->n_active--;
    }
}

static void act_link(Scanners *t, int64_t i) {
    if (!t->pool[i].active) {
        list_append(t, &t->act, ACT, i);
        t->pool[i].active = 1;
        t->n_active++;
    }
}

static void scan_settle(Scan *s) {
    if (!s->stale)
        return;
    double last = -INFINITY;
    for (int64_t j = 0; j < s->victims.cap; j++)
        if (s->victims.k[j] && as_double(s->victims.v[j]) > last)
            last = as_double(s->victims.v[j]);
    s->last = last;
    s->stale = 0;
}

/* The report record of s (settled; its peak raised to its count, as a report does). */
static void scan_snap(Scan *s, NwScanSnap *o) {
    scan_settle(s);
    memset(o, 0, sizeof *o);
    o->scanner = s->ip;
    o->n = s->victims.n;
    if (o->n > s->peak)
        s->peak = o->n;
    o->peak = s->peak;
    o->distinct = s->np;
    o->first = s->first;
    o->last = s->last;
    o->floor = s->floor;
    int nlow = 0; /* the SCAN_SAMPLE lowest victims, ascending */
    for (int64_t j = 0; j < s->victims.cap; j++) {
        if (!s->victims.k[j])
            continue;
        uint32_t v = (uint32_t)(s->victims.k[j] - 1);
        if (nlow == SCAN_SAMPLE && v >= o->low[nlow - 1])
            continue;
        int at = nlow < SCAN_SAMPLE ? nlow++ : SCAN_SAMPLE - 1;
        while (at > 0 && o->low[at - 1] > v) {
            o->low[at] = o->low[at - 1];
            at--;
        }
        o->low[at] = v;
    }
    o->nlow = nlow;
    int ntop = 0; /* the SCAN_TOP most failed ports, first failed first among equals */
    for (int64_t j = 0; j < s->np; j++) {
        int64_t c = s->count[j];
        if (ntop == SCAN_TOP && c <= o->top_count[ntop - 1])
            continue;
        int at = ntop < SCAN_TOP ? ntop++ : SCAN_TOP - 1;
        while (at > 0 && o->top_count[at - 1] < c) {
            o->top_count[at] = o->top_count[at - 1];
            o->top_pp[at] = o->top_pp[at - 1];
            at--;
        }
        o->top_count[at] = c;
        o->top_pp[at] = s->pp[j];
    }
    o->ntop = ntop;
}

/* Take entry i out of the table (its record written to o first when o is not NULL). */
static void scan_remove(Scanners *t, int64_t i, NwScanSnap *o) {
    Scan *s = &t->pool[i];
    if (o)
        scan_snap(s, o);
    act_unlink(t, i);
    list_unlink(t, &t->lru, LRU, i);
    map_del(&t->by_ip, map_find(&t->by_ip, (uint64_t)s->ip + 1));
    scan_clear(s);
    s->lru.next = t->free_head;
    t->free_head = i;
}

/* Python's FailureWindow.prune: forget the victims before horizon, tighten the bounds. */
static int scan_prune(Scan *s, double horizon) {
    double oldest = INFINITY;
    for (int64_t j = 0; j < s->victims.cap; j++)
        if (s->victims.k[j] && as_double(s->victims.v[j]) < oldest)
            oldest = as_double(s->victims.v[j]);
    if (oldest < horizon) {
        Map kept = {0};
        int64_t cap = 8;
        int64_t left = 0;
        for (int64_t j = 0; j < s->victims.cap; j++)
            if (s->victims.k[j] && as_double(s->victims.v[j]) >= horizon)
                left++;
        while (cap < 2 * (left + 1))
            cap *= 2;
        if (map_resize(&kept, cap) < 0)
            return -1;
        double first = INFINITY, last = -INFINITY;
        for (int64_t j = 0; j < s->victims.cap; j++) {
            if (!s->victims.k[j])
                continue;
            double ts = as_double(s->victims.v[j]);
            if (ts < horizon)
                continue;
            int fresh;
            *map_put(&kept, s->victims.k[j], &fresh) = s->victims.v[j];
            first = ts < first ? ts : first;
            last = ts > last ? ts : last;
        }
        map_free(&s->victims);
        s->victims = kept;
        oldest = first;
        s->first = first;
        s->last = last;
        s->stale = 0;
    }
    s->floor = oldest;
    return 0;
}

static int64_t scan_new(Scanners *t, uint32_t ip, double ts) {
    int64_t i = t->free_head;
    if (i >= 0) {
        t->free_head = t->pool[i].lru.next;
    } else {
        if (t->pool_n == t->pool_cap) {
            int64_t cap = t->pool_cap ? 2 * t->pool_cap : 64;
            Scan *pool = realloc(t->pool, (size_t)cap * sizeof *pool);
            if (!pool)
                return -1;
            t->pool = pool;
            t->pool_cap = cap;
        }
        i = t->pool_n++;
    }
    Scan *s = &t->pool[i];
    memset(s, 0, sizeof *s);
    s->ip = ip;
    s->first = ts;
    s->floor = INFINITY;
    s->last = -INFINITY;
    s->act.prev = s->act.next = -1;
    return i;
}

/* One failure, as PyScanners._one_by_one; an evicted scanner's record goes to *ev. */
static int scan_failure(Scanners *t, uint32_t ip, uint32_t victim, uint32_t pp, double ts,
                        NwScanSnap *ev, int64_t *n_ev) {
    int fresh;
    int64_t *at = map_put(&t->by_ip, (uint64_t)ip + 1, &fresh);
    if (!at)
        return -1;
    int64_t i;
    if (fresh) {
        i = scan_new(t, ip, ts);
        if (i < 0) {
            map_del(&t->by_ip, map_find(&t->by_ip, (uint64_t)ip + 1));
            return -1;
        }
        *at = i;
        list_append(t, &t->lru, LRU, i);
        if (t->by_ip.n > t->max_scanners)
            scan_remove(t, t->lru.first, &ev[(*n_ev)++]);
    } else {
        i = *at;
        if (t->lru.last != i) {
            list_unlink(t, &t->lru, LRU, i);
            list_append(t, &t->lru, LRU, i);
        }
    }
    if (map_find(&t->changed_set, (uint64_t)ip + 1) < 0) { /* room first, then the key */
        if (t->n_changed == t->changed_cap) {
            int64_t cap = t->changed_cap ? 2 * t->changed_cap : 256;
            uint32_t *changed = realloc(t->changed, (size_t)cap * sizeof *changed);
            if (!changed)
                return -1;
            t->changed = changed;
            t->changed_cap = cap;
        }
        if (!map_put(&t->changed_set, (uint64_t)ip + 1, &fresh))
            return -1;
        t->changed[t->n_changed++] = ip;
    }
    Scan *s = &t->pool[i];
    int64_t slot = map_find(&s->victims, (uint64_t)victim + 1);
    if (slot >= 0 || s->victims.n < t->max_victims) {
        double before = slot >= 0 ? as_double(s->victims.v[slot]) : 0.0;
        int64_t *v = map_put(&s->victims, (uint64_t)victim + 1, &fresh);
        if (!v)
            return -1;
        *v = as_bits(ts);
        if (ts < s->floor)
            s->floor = ts;
        if (ts < s->first)
            s->first = ts;
        if (ts >= s->last)
            s->last = ts;
        else if (slot >= 0 && before >= s->last)
            s->stale = 1;
    }
    if (map_find(&s->port_at, (uint64_t)pp + 1) < 0 && s->np == s->npcap) {
        /* a new port: room in the arrays before its key goes in (a failure leaves both as
         * they were; a grown pp array alone is only spare room) */
        int64_t cap = s->npcap ? 2 * s->npcap : 4;
        uint32_t *ppv = realloc(s->pp, (size_t)cap * sizeof *ppv);
        if (!ppv)
            return -1;
        s->pp = ppv;
        int64_t *cnt = realloc(s->count, (size_t)cap * sizeof *cnt);
        if (!cnt)
            return -1;
        s->count = cnt;
        s->npcap = cap;
    }
    int64_t *pa = map_put(&s->port_at, (uint64_t)pp + 1, &fresh);
    if (!pa)
        return -1;
    if (fresh) {
        *pa = s->np;
        s->pp[s->np] = pp;
        s->count[s->np] = 0;
        s->np++;
    }
    s->count[*pa]++;
    if (s->victims.n >= t->threshold) {
        double horizon = ts - t->window;
        if (s->floor < horizon && scan_prune(s, horizon) < 0)
            return -1;
        if (s->victims.n >= t->threshold)
            act_link(t, i);
    }
    return 0;
}

/* Failures in order (grouped: by scanner in order of first appearance, each scanner's in
 * order, as PyScanners.failed does for a big update). The records of the scanners evicted
 * go to evicted (room for n); returns how many. *oom = 1 when memory ran out: the
 * failures before the one that failed are in, and the scanners they evicted written. */
int64_t nw_as_failed(void *handle, const uint32_t *scanner, const uint32_t *victim,
                     const uint32_t *pp, const double *ts, int64_t n, int32_t grouped,
                     NwScanSnap *evicted, int32_t *oom) {
    Scanners *t = handle;
    int64_t n_ev = 0;
    *oom = 0;
    if (!grouped) {
        for (int64_t k = 0; k < n; k++) {
            if (scan_failure(t, scanner[k], victim[k], pp[k], ts[k], evicted, &n_ev) < 0) {
                *oom = 1;
                break;
            }
        }
        return n_ev;
    }
    Map group = {0}; /* scanner + 1 -> its number, in order of first appearance */
    int64_t *of = malloc((size_t)(n ? n : 1) * sizeof *of);
    int64_t *start = calloc((size_t)n + 2, sizeof *start);
    int64_t *order = malloc((size_t)(n ? n : 1) * sizeof *order);
    int64_t groups = 0, rc = 0;
    if (!of || !start || !order)
        rc = -1;
    for (int64_t k = 0; rc == 0 && k < n; k++) {
        int fresh;
        int64_t *g = map_put(&group, (uint64_t)scanner[k] + 1, &fresh);
        if (!g) {
            rc = -1;
            break;
        }
        if (fresh)
            *g = groups++;
        of[k] = *g;
        start[*g + 1]++;
    }
    if (rc == 0) {
        for (int64_t g = 0; g < groups; g++)
            start[g + 1] += start[g];
        for (int64_t k = 0; k < n; k++)
            order[start[of[k]]++] = k; /* stable counting sort by group */
        for (int64_t j = 0; j < n; j++) {
            int64_t k = order[j];
            if (scan_failure(t, scanner[k], victim[k], pp[k], ts[k], evicted, &n_ev) < 0) {
                rc = -1;
                break;
            }
        }
    }
    map_free(&group);
    free(of);
    free(start);
    free(order);
    *oom = rc < 0;
    return n_ev;
}

int64_t nw_as_changed_len(const void *handle) { return ((const Scanners *)handle)->n_changed; }

/* The scanners changed since the last take that are active, in order of first change:
 * *floor becomes the lowest of their floors (+inf if none); those whose victim count
 * moved since it was last taken are written to out (room for nw_as_changed_len), their
 * 'checked' count updated. Returns how many were written. */
int64_t nw_as_take_changed(void *handle, NwScanSnap *out, double *floor) {
    Scanners *t = handle;
    int64_t n = 0;
    double low = INFINITY;
    for (int64_t c = 0; c < t->n_changed; c++) {
        int64_t slot = map_find(&t->by_ip, (uint64_t)t->changed[c] + 1);
        if (slot < 0)
            continue;
        Scan *s = &t->pool[t->by_ip.v[slot]];
        if (!s->active)
            continue;
        if (s->floor < low)
            low = s->floor;
        if (s->victims.n != s->checked) {
            s->checked = s->victims.n;
            scan_snap(s, &out[n++]);
        }
    }
    t->n_changed = 0;
    map_free(&t->changed_set);
    *floor = low;
    return n;
}

/* The record of one scanner (settled, its peak raised); 0 when it is not in the table. */
int64_t nw_as_snapshot(void *handle, uint32_t ip, NwScanSnap *out) {
    Scanners *t = handle;
    int64_t slot = map_find(&t->by_ip, (uint64_t)ip + 1);
    if (slot < 0)
        return 0;
    scan_snap(&t->pool[t->by_ip.v[slot]], out);
    return 1;
}

int64_t nw_as_active_len(const void *handle) { return ((const Scanners *)handle)->n_active; }

/* drop_idle: the active scanners (in order of activation) without a failure for
 * window_seconds leave the table, their records written to out (room for
 * nw_as_active_len); *floor becomes the lowest floor of those kept. Returns how many left. */
int64_t nw_as_drop_idle(void *handle, double now, NwScanSnap *out, double *floor) {
    Scanners *t = handle;
    int64_t n = 0;
    double low = INFINITY;
    for (int64_t i = t->act.first; i >= 0;) {
        Scan *s = &t->pool[i];
        int64_t next = s->act.next;
        scan_settle(s);
        if (now - s->last > t->window) {
            scan_remove(t, i, &out[n++]);
        } else if (s->floor < low) {
            low = s->floor;
        }
        i = next;
    }
    *floor = low;
    return n;
}

/* ------------------------------------------------------------------------
 * DNS queries' first question, a batch at once (detectors/dns_tunnel.py
 * questions(): the same answers as its parse_query, split_domain, _suspicious
 * and _encoded in Python). For payload k (buf + starts[k], lens[k] bytes),
 * out[8k .. 8k+7] = judged (1: a query whose name has a subdomain; 0: a
 * response, garbage, a cut or compressed name, one label, or no subdomain),
 * qtype, name start, domain start, name end (offsets in names: the name in
 * lower case, labels joined by '.'; the subdomain part ends one byte before the
 * domain), the longest label's length, suspicious (0/1), encoded (0/1). names
 * holds at least sum(lens) bytes. Entropies are summed in the order Python's
 * entropy() sums them (distinct bytes in order of first appearance), and the
 * build uses -ffp-contract=off, so both compare the same doubles.
 * ------------------------------------------------------------------------ */

static inline uint8_t dns_lower(uint8_t c) { return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c; }

/* Shannon entropy in bits per byte of t[0..n) lower-cased (lower) or as is. */
static double dns_entropy(const uint8_t *t, int64_t n, int lower) {
    if (n <= 0)
        return 0.0;
    int64_t counts[256] = {0};
    uint8_t order[256];
    int m = 0;
    for (int64_t i = 0; i < n; i++) {
        uint8_t c = lower ? dns_lower(t[i]) : t[i];
        if (counts[c]++ == 0)
            order[m++] = c;
    }
    double sum = 0.0;
    for (int j = 0; j < m; j++) {
        double p = (double)counts[order[j]] / (double)n;
        sum += p * log2(p);
    }
    return -sum > 0.0 ? -sum : 0.0;
}

/* Whether a label is written in hex, base32 or base64 (dns_tunnel.encoding). */
static int dns_encoded_alphabet(const uint8_t *t, int64_t n) {
    int digit = 0, nondigit = 0, upper = 0, lowercase = 0, punct = 0;
    int hex = 1, b32 = 1, b64 = 1;
    for (int64_t i = 0; i < n; i++) {
        uint8_t c = t[i], f = dns_lower(c);
        int isdigit_ = c >= '0' && c <= '9';
        digit |= isdigit_;
        nondigit |= !isdigit_;
        upper |= c >= 'A' && c <= 'Z';
        lowercase |= c >= 'a' && c <= 'z';
        punct |= c == '+' || c == '/' || c == '=';
        hex &= isdigit_ || (f >= 'a' && f <= 'f');
        b32 &= (f >= 'a' && f <= 'z') || (f >= '2' && f <= '7');
        b64 &= (f >= 'a' && f <= 'z') || isdigit_ || c == '+' || c == '/' || c == '=' || c == '-' ||
               c == '_';
    }
    if (!digit || !nondigit)
        return 0;
    int one_case = !(upper && lowercase);
    if ((hex || b32) && one_case)
        return 1;
    return b64 && ((upper && lowercase) || punct);
}

static const char *const dns_two_part[] = {"co", "com", "net", "org", "gov", "ac", "edu", "ne", "or", "go"};

static int dns_two_part_sld(const uint8_t *t, int64_t n) {
    for (size_t j = 0; j < sizeof dns_two_part / sizeof *dns_two_part; j++) {
        const char *w = dns_two_part[j];
        int64_t wn = (int64_t)strlen(w);
        if (wn != n)
            continue;
        int64_t i = 0;
        while (i < n && dns_lower(t[i]) == (uint8_t)w[i])
            i++;
        if (i == n)
            return 1;
    }
    return 0;
}

void nw_dns_questions(const uint8_t *buf, const int64_t *starts, const int64_t *lens, int64_t n,
                      int64_t long_label, int64_t entropy_min_length, double entropy_bits,
                      int64_t encoded_min_length, double encoded_entropy_bits,
                      int64_t encoded_min_score, uint8_t *names, int64_t *out) {
    int64_t pos = 0;
    for (int64_t k = 0; k < n; k++) {
        const uint8_t *d = buf + starts[k];
        int64_t len = lens[k];
        int64_t *o = out + 8 * k;
        memset(o, 0, 8 * sizeof *o);
        if (len < 17 || (d[2] & 0x80) || (d[4] == 0 && d[5] == 0))
            continue;
        int64_t off[127], size[127];
        int nl = 0, done = 0;
        int64_t qtype = 0, i = 12;
        while (i < len) {
            int64_t m = d[i];
            if (m == 0) {
                if (i + 3 <= len - 1) {
                    qtype = (int64_t)d[i + 1] << 8 | d[i + 2];
                    done = 1;
                }
                break;
            }
            if ((m & 0xC0) || nl >= 127 || i + 1 + m > len)
                break; /* compressed, too many labels, or cut (Python's loop then ends) */
            off[nl] = i + 1;
            size[nl] = m;
            nl++;
            i += 1 + m;
        }
        if (!done || nl < 2)
            continue;
        int keep = nl >= 3 && size[nl - 1] == 2 && dns_two_part_sld(d + off[nl - 2], size[nl - 2]) ? 3 : 2;
        if (nl <= keep)
            continue; /* no subdomain */
        int nsub = nl - keep;
        /* the name, lower case; the longest label overall and in the subdomain part */
        int64_t start = pos, max_label = 0, flat_len = 0, domain_at = 0;
        int longest = 0, hostname = 1;
        for (int j = 0; j < nl; j++) {
            if (j)
                names[pos++] = '.';
            if (j == nsub)
                domain_at = pos;
            for (int64_t b = 0; b < size[j]; b++) {
                uint8_t c = dns_lower(d[off[j] + b]);
                names[pos++] = c;
                if (j < nsub && c != '.') {
                    flat_len++;
                    hostname &= (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
                }
            }
            if (size[j] > max_label)
                max_label = size[j];
            if (j < nsub && size[j] > size[longest])
                longest = j;
        }
        int suspicious = max_label >= long_label || !hostname;
        if (!suspicious && flat_len >= entropy_min_length) {
            /* the subdomain without its dots (names holds it lower-cased) */
            uint8_t flat[127 * 63];
            int64_t f = 0;
            for (int64_t b = start; b < domain_at - 1; b++)
                if (names[b] != '.')
                    flat[f++] = names[b];
            suspicious = dns_entropy(flat, f, 0) >= entropy_bits;
        }
        const uint8_t *label = d + off[longest];
        int64_t label_len = size[longest];
        int points = qtype == 5 || qtype == 10 || qtype == 15 || qtype == 16;
        points += label_len >= encoded_min_length;
        if (points + 2 >= encoded_min_score)
            points += dns_encoded_alphabet(label, label_len);
        if (points + 1 >= encoded_min_score)
            points += dns_entropy(label, label_len, 1) >= encoded_entropy_bits;
        o[0] = 1;
        o[1] = qtype;
        o[2] = start;
        o[3] = domain_at;
        o[4] = pos;
        o[5] = max_label;
        o[6] = suspicious;
        o[7] = points >= encoded_min_score;
    }
}

/* Dense ids of byte strings text[starts[k] .. ends[k]) (k < n), equal strings equal
 * ids, numbered in order of first appearance (dns_tunnel.py groups a batch's queries
 * by client and domain with them, and its names by window). table: scratch of size
 * entries, a power of two above n, filled with -1 by this call. Returns how many
 * distinct strings there were. Exact: a hash hit is confirmed by comparing bytes. */
int64_t nw_intern(const uint8_t *text, const int64_t *starts, const int64_t *ends, int64_t n,
                  int64_t *ids, int64_t *table, int64_t size) {
    int64_t distinct = 0, mask = size - 1;
    for (int64_t j = 0; j < size; j++)
        table[j] = -1;
    for (int64_t k = 0; k < n; k++) {
        const uint8_t *s = text + starts[k];
        int64_t len = ends[k] - starts[k];
        uint64_t h = 1469598103934665603ULL;
        for (int64_t b = 0; b < len; b++)
            h = (h ^ s[b]) * 1099511628211ULL;
        h ^= h >> 29;
        int64_t slot = (int64_t)(h & (uint64_t)mask);
        for (;;) {
            int64_t at = table[slot];
            if (at < 0) {
                table[slot] = k;
                ids[k] = distinct++;
                break;
            }
            if (ends[at] - starts[at] == len && memcmp(text + starts[at], s, (size_t)len) == 0) {
                ids[k] = ids[at];
                break;
            }
            slot = (slot + 1) & mask;
        }
    }
    return distinct;
}
