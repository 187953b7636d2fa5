/* Attach an XDP program that passes every frame to IFNAME, and hold it until killed
 * (bench/bench_auditor_live.py --steer; compiled at run time with cc).
 *
 *   xdp_pass IFNAME
 *
 * A veth with an XDP program receives through NAPI, and with the device's NAPI
 * threaded (/sys/class/net/IFNAME/threaded) the receive path of every frame runs in a
 * kernel thread that can be pinned to a CPU, instead of in the sender's softirq. The
 * program is two instructions (return XDP_PASS), loaded with bpf(2) and attached with a
 * BPF link: it goes when this process ends. Prints "attached" once it is. */
#define _GNU_SOURCE
#include <linux/bpf.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long bpf(int cmd, union bpf_attr *attr) { return syscall(__NR_bpf, cmd, attr, sizeof *attr); }

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    unsigned ifindex = if_nametoindex(argv[1]);
    if (!ifindex) { perror("if_nametoindex"); return 1; }
    struct bpf_insn insns[] = {
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = XDP_PASS},
        {.code = BPF_JMP | BPF_EXIT},
    };
    char log[4096];
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_XDP;
    a.insns = (unsigned long)insns;
    a.insn_cnt = 2;
    a.license = (unsigned long)"GPL";
    a.log_buf = (unsigned long)log;
    a.log_size = sizeof log;
    a.log_level = 1;
    int prog = (int)bpf(BPF_PROG_LOAD, &a);
    if (prog < 0) { perror("BPF_PROG_LOAD"); fprintf(stderr, "%s\n", log); return 1; }
    memset(&a, 0, sizeof a);
    a.link_create.prog_fd = prog;
    a.link_create.target_ifindex = ifindex;
    a.link_create.attach_type = BPF_XDP;
    int link = (int)bpf(BPF_LINK_CREATE, &a);
    if (link < 0) { perror("BPF_LINK_CREATE"); return 1; }
    printf("attached\n");
    fflush(stdout);
    pause();
    return 0;
}
