/*
 * bench.c -- how fast libhwsim answers a C caller (`make bench` runs it via scripts/bench.py).
 *
 *   bench CASE_DIR     (a `sim run --kv-size 4096 --seed 0` case folder)
 *
 * 1. hwsim_exp_bf16, one call per BF16 pattern in a loop with a flags word (what a DPI call per
 *    transaction costs), on one thread: best of 3 runs of 2^26 calls.
 * 2. hwsim_softmax_v on the case's inputs with every output asked for: the fastest of 11 calls
 *    after one warm-up (the least disturbed by other load on a shared machine).
 * Prints `exp_calls_per_s=...` and `softmax_v_seconds=...`, one per line.
 */
/* clock_gettime */
#define _POSIX_C_SOURCE 199309L
#include <time.h>

#include "case_io.h"
#include "hwsim.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: bench CASE_DIR\n");
        return 2;
    }
    hwsim_ctx *ctx = hwsim_open("reference");
    if (ctx == NULL) die("hwsim_open", hwsim_last_error());

    enum { CALLS = 1 << 26 };
    double best = 1e30;
    uint32_t sink = 0;
    for (int run = 0; run < 3; run++) {
        double t0 = now();
        for (uint32_t i = 0; i < CALLS; i++) {
            uint32_t flags;
            sink ^= hwsim_exp_bf16(ctx, (uint16_t)i, &flags) ^ flags;
        }
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    printf("exp_calls_per_s=%.0f\n", CALLS / best);

    struct case_inputs in = read_inputs(argv[1], 32, 128);
    size_t rows = in.heads * in.kv, cols = in.heads * in.head_dim;
    size_t exp_blocks = in.heads * ((in.kv + 31) / 32);
    uint16_t *exp_bf16 = alloc(rows, 2), *exp_sum = alloc(in.heads, 2);
    uint16_t *inv = alloc(in.heads, 2), *scaled_v = alloc(cols, 2), *out = alloc(cols, 2);
    uint8_t *exp_scales = alloc(exp_blocks, 1);
    int8_t *exp_elems = alloc(exp_blocks, 32);
    uint32_t stage_flags[HWSIM_SOFTMAX_STAGES];
    double fastest = 1e30;
    for (int run = -1; run < 11; run++) {
        double t0 = now();
        int rc = hwsim_softmax_v(ctx, in.heads, in.kv, in.head_dim, in.qk, in.v_scales,
                                 in.v_elems, exp_bf16, exp_sum, exp_scales, exp_elems, scaled_v,
                                 inv, out, stage_flags);
        if (rc != HWSIM_OK) die("hwsim_softmax_v", hwsim_last_error());
        double dt = now() - t0;
        if (run >= 0 && dt < fastest) fastest = dt;
        sink ^= out[0];
    }
    printf("softmax_v_seconds=%.6f\n", fastest);
    hwsim_close(ctx);
    return sink == 0xdeadbeef; /* keeps the loops from being optimised away */
}
