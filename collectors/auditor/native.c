/* The auditor's compiled inner loops (see native.py: built with the system C
 * compiler, loaded with ctypes, and replaced by the pure Python/numpy code when
 * no compiler is available). Plain C11, no Python headers: every function takes
 * raw pointers to numpy arrays the caller allocated and sized. */
#include <stdint.h>

static inline int64_t read_u32(const uint8_t *p, int big_endian) {
    if (big_endian)
        return ((int64_t)p[0] << 24) | ((int64_t)p[1] << 16) | ((int64_t)p[2] << 8) | (int64_t)p[3];
    return ((int64_t)p[3] << 24) | ((int64_t)p[2] << 16) | ((int64_t)p[1] << 8) | (int64_t)p[0];
}

/* Walk a chain of records in buf[start:end] exactly as walk.walk_scalar does:
 * next = pos + add + u32(pos + len_at); stop at the first record that does not
 * fit (more data needed) or whose length is out of range (*bad = 1). Writes at
 * most out_cap offsets; returns how many. The caller guarantees
 * len_at + 4 <= header, so no byte at or after end is read. */
int64_t nw_walk(const uint8_t *buf, int64_t start, int64_t end, int32_t big_endian,
                int64_t len_at, int64_t add, int64_t header, int64_t min_len,
                int64_t max_len, int64_t align, int64_t *out, int64_t out_cap,
                int64_t *stop, int32_t *bad) {
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
        out[n++] = pos;
        pos = next;
    }
    *stop = pos;
    return n;
}
