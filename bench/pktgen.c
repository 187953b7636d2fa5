/* A bounded packet generator for the live-capture bench and lab tests (compiled
 * at run time with cc; see bench/bench_auditor_live.py).
 *
 *   pktgen IFNAME COUNT RATE FLOWS SRC_IP DST_IP [DPORTS]
 *
 * Sends COUNT minimum-size Ethernet/IPv4/UDP frames out of IFNAME through a packet
 * socket (sendmmsg, 256 frames a call, qdisc bypassed), RATE frames per second (0:
 * as fast as it can), cycling through FLOWS source ports (10000 + i) so that a
 * flow hash spreads them, and DPORTS destination ports from 9 (default 1). The
 * destination MAC address is no host's (02:00:00:00:00:02): the receiving end's
 * IP stack discards the frames at once, a packet socket there sees them all.
 * Prints "sent N seconds S" on stdout. Run it only on an interface of a network
 * namespace the caller created. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define BATCH 256
#define FRAME 60
#define MAX_FRAMES 4096

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint16_t ip_checksum(const uint8_t *p, int len) {
    uint32_t sum = 0;
    for (int i = 0; i < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16);
    return (uint16_t)~sum;
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: %s IFNAME COUNT RATE FLOWS SRC_IP DST_IP [DPORTS]\n", argv[0]);
        return 2;
    }
    unsigned ifindex = if_nametoindex(argv[1]);
    long long count = atoll(argv[2]);
    double rate = atof(argv[3]);
    int flows = atoi(argv[4]);
    int dports = argc > 7 ? atoi(argv[7]) : 1;
    struct in_addr src, dst;
    if (!ifindex || count < 0 || flows < 1 || dports < 1 || !inet_aton(argv[5], &src) ||
        !inet_aton(argv[6], &dst)) {
        fprintf(stderr, "pktgen: bad arguments\n");
        return 2;
    }
    int nframes = flows * dports < MAX_FRAMES ? flows * dports : MAX_FRAMES;
    static uint8_t frames[MAX_FRAMES][FRAME];
    for (int i = 0; i < nframes; i++) {
        uint8_t *f = frames[i];
        memset(f, 0, FRAME);
        memcpy(f, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00", 14);
        uint8_t *ip = f + 14;
        ip[0] = 0x45;
        ip[3] = 46; /* total length: 20 + 8 + 18 */
        ip[8] = 64;
        ip[9] = 17;
        memcpy(ip + 12, &src, 4);
        memcpy(ip + 16, &dst, 4);
        uint16_t csum = ip_checksum(ip, 20);
        ip[10] = (uint8_t)(csum >> 8);
        ip[11] = (uint8_t)csum;
        uint8_t *udp = ip + 20;
        uint16_t sport = (uint16_t)(10000 + i % flows), dport = (uint16_t)(9 + i / flows);
        udp[0] = (uint8_t)(sport >> 8);
        udp[1] = (uint8_t)sport;
        udp[2] = (uint8_t)(dport >> 8);
        udp[3] = (uint8_t)dport;
        udp[5] = 26;
    }
    int fd = socket(AF_PACKET, SOCK_RAW, 0);
    if (fd < 0) {
        perror("pktgen: socket");
        return 1;
    }
    int one = 1;
    setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one); /* best effort */
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = (int)ifindex;
    sll.sll_protocol = htons(0x0800);
    if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
        perror("pktgen: bind");
        return 1;
    }
    static struct mmsghdr msgs[BATCH];
    static struct iovec iov[BATCH];
    long long sent = 0, retries = 0;
    double start = now();
    while (sent < count) {
        int n = count - sent < BATCH ? (int)(count - sent) : BATCH;
        for (int j = 0; j < n; j++) {
            iov[j].iov_base = frames[(sent + j) % nframes];
            iov[j].iov_len = FRAME;
            memset(&msgs[j].msg_hdr, 0, sizeof msgs[j].msg_hdr);
            msgs[j].msg_hdr.msg_iov = &iov[j];
            msgs[j].msg_hdr.msg_iovlen = 1;
        }
        int r = sendmmsg(fd, msgs, (unsigned)n, 0);
        if (r < 0) {
            if ((errno == ENOBUFS || errno == EAGAIN || errno == EINTR) && retries < 100000000) {
                retries++;
                continue;
            }
            perror("pktgen: sendmmsg");
            return 1;
        }
        sent += r;
        if (rate > 0) {
            double due = start + (double)sent / rate;
            double t = now();
            if (due - t > 0.0005) {
                struct timespec ts = {0, (long)((due - t) * 1e9)};
                nanosleep(&ts, NULL);
            }
            while (now() < due) {
            }
        }
    }
    printf("sent %lld seconds %.6f\n", sent, now() - start);
    return 0;
}
