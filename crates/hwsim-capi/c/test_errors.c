/*
 * test_errors.c -- bad input from C: every case must give an error code (or NULL, or the NaN
 * with HWSIM_FLAG_ERROR) and a message naming the function and the argument, leave the outputs
 * untouched, and not crash or hang. Config paths that are not small regular files (/dev/zero, a
 * FIFO, a directory, a 2 GB sparse file) must each fail within a second.
 *
 *   test_errors SCRATCH_DIR      (a writable folder for the files it makes)
 *
 * Prints one line per check and `capi-errors: N passed, M failed`; exit status 0 iff M == 0.
 */
#define _XOPEN_SOURCE 700
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hwsim.h"

static int passed, failed;

static void check(int ok, const char *what) {
    if (ok) {
        passed++;
        printf("  ok    %s: %s\n", what, hwsim_last_error());
    } else {
        failed++;
        printf("  FAIL  %s (last error: %s)\n", what, hwsim_last_error());
    }
}

static int error_mentions(const char *text) { return strstr(hwsim_last_error(), text) != NULL; }

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* hwsim_open(path) must return NULL within a second with a message containing `text`. */
static void open_refused(const char *path, const char *text, const char *what) {
    double t0 = now();
    hwsim_ctx *ctx = hwsim_open(path);
    double took = now() - t0;
    check(ctx == NULL && took < 1.0 && error_mentions("hwsim_open: profile_or_config") &&
              error_mentions(text),
          what);
    if (took >= 1.0) printf("        (took %.2f s)\n", took);
    hwsim_close(ctx);
}

/* A hang (a FIFO opened for reading blocks until a writer comes) must fail the test, not stall
 * it: the alarm ends the process with a message. */
static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "  FAIL  test_errors hung (alarm after 60 s)\n";
    if (write(STDOUT_FILENO, msg, sizeof msg - 1) < 0) _exit(3);
    _exit(3);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
        perror(path);
        exit(2);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_errors SCRATCH_DIR\n");
        return 2;
    }
    char path[4096];
    signal(SIGALRM, on_alarm);
    alarm(60);

    /* Contexts. */
    check(hwsim_open("wide") == NULL && error_mentions("'wide' is neither a profile"),
          "unknown profile");
    snprintf(path, sizeof path, "%s/no-such-file.json", argv[1]);
    check(hwsim_open(path) == NULL && error_mentions("nor a readable config file"),
          "unreadable config");
    snprintf(path, sizeof path, "%s/not-json.json", argv[1]);
    write_file(path, "{ this is not json");
    check(hwsim_open(path) == NULL && error_mentions("config file"), "invalid JSON config");
    snprintf(path, sizeof path, "%s/missing-fields.json", argv[1]);
    write_file(path, "{\"name\": \"half\"}");
    check(hwsim_open(path) == NULL && error_mentions("missing field"), "incomplete JSON config");
    check(hwsim_open(NULL) == NULL && error_mentions("profile_or_config is NULL"),
          "NULL profile");
    hwsim_close(NULL);

    /* Paths that are no small regular file: refused from their metadata, at once. */
    open_refused("/dev/zero", "is a character device, not a regular file", "config /dev/zero");
    snprintf(path, sizeof path, "%s/fifo.json", argv[1]);
    if (mkfifo(path, 0600) != 0) {
        perror(path);
        return 2;
    }
    open_refused(path, "is a FIFO, not a regular file", "config is a FIFO (no writer)");
    open_refused(argv[1], "is a directory, not a regular file", "config is a directory");
    snprintf(path, sizeof path, "%s/sparse-2GB.json", argv[1]);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)2 << 30) != 0 || close(fd) != 0) {
        perror(path);
        return 2;
    }
    open_refused(path, "is 2147483648 bytes, over the 1048576-byte limit",
                 "config is a 2 GB sparse file");

    hwsim_ctx *ctx = hwsim_open("reference");
    if (ctx == NULL) {
        printf("  FAIL  hwsim_open(\"reference\"): %s\n", hwsim_last_error());
        return 1;
    }

    /* Scalars: the canonical NaN and the error flag. */
    uint32_t flags = 0;
    check(hwsim_exp_bf16(NULL, 0x3f80, &flags) == 0x7fc0 && flags == HWSIM_FLAG_ERROR &&
              error_mentions("hwsim_exp_bf16: ctx is NULL"),
          "exp with NULL ctx");
    check(hwsim_mul_bf16(NULL, 0x3f80, 0x3f80, NULL) == 0x7fc0 && error_mentions("hwsim_mul_bf16"),
          "mul with NULL ctx and NULL flags");
    check(hwsim_sum_bf16(ctx, NULL, 5, &flags) == 0x7fc0 && flags == HWSIM_FLAG_ERROR &&
              error_mentions("hwsim_sum_bf16: x is NULL"),
          "sum with NULL x");
    /* n = 0 is an error, with or without an array (docs/dpi.md: zero sizes and NULL arrays). */
    uint16_t one = 0x3f80;
    flags = 0;
    check(hwsim_sum_bf16(ctx, &one, 0, &flags) == 0x7fc0 && flags == HWSIM_FLAG_ERROR &&
              error_mentions("hwsim_sum_bf16: n is 0"),
          "sum n = 0");
    flags = 0;
    check(hwsim_sum_bf16(ctx, NULL, 0, &flags) == 0x7fc0 && flags == HWSIM_FLAG_ERROR &&
              error_mentions("hwsim_sum_bf16: n is 0"),
          "sum n = 0, NULL x");
    uint64_t before = hwsim_error_count();
    check(hwsim_sum_bf16(ctx, &one, 1, &flags) == 0x3f80 && flags == 0 &&
              hwsim_error_count() == before,
          "sum of one 1.0 (a success does not count as an error)");
    check(hwsim_sum_bf16(ctx, NULL, 1, NULL) == 0x7fc0 && hwsim_error_count() == before + 1,
          "hwsim_error_count counts a failure");

    /* One block: n > 32, NULL outputs; the outputs keep their contents. */
    uint16_t x[40];
    for (int i = 0; i < 40; i++) x[i] = 0x3f80;
    uint8_t scale = 0xaa;
    int8_t q[32];
    memset(q, 5, sizeof q);
    check(hwsim_quantize_mxint8(ctx, x, 33, &scale, q) == HWSIM_ERR_INVALID_ARGUMENT &&
              error_mentions("n = 33 is more than one block") && scale == 0xaa && q[0] == 5,
          "quantize n = 33");
    check(hwsim_quantize_mxint8(ctx, x, 3, NULL, q) == HWSIM_ERR_INVALID_ARGUMENT &&
              error_mentions("scale is NULL") && q[0] == 5,
          "quantize NULL scale");
    check(hwsim_quantize_mxint8_ex(ctx, x, 3, 9, &scale, q, NULL) == HWSIM_ERR_INVALID_ARGUMENT &&
              error_mentions("element_rounding = 9"),
          "quantize unknown element rounding");
    check(hwsim_quantize_mxint8(ctx, x, 0, &scale, q) == HWSIM_ERR_INVALID_ARGUMENT &&
              error_mentions("hwsim_quantize_mxint8: n is 0") && scale == 0xaa && q[0] == 5,
          "quantize n = 0");
    check(hwsim_quantize_mxint8(ctx, NULL, 0, &scale, q) == HWSIM_ERR_INVALID_ARGUMENT &&
              error_mentions("hwsim_quantize_mxint8: n is 0") && scale == 0xaa && q[0] == 5,
          "quantize n = 0, NULL x_bf16");
    check(hwsim_quantize_mxint8_ex(ctx, NULL, 0, HWSIM_ROUND_NEAREST_EVEN, &scale, q, NULL) ==
                  HWSIM_ERR_INVALID_ARGUMENT &&
              error_mentions("hwsim_quantize_mxint8_ex: n is 0") && scale == 0xaa,
          "quantize_ex n = 0, NULL x_bf16");
    check(hwsim_quantize_mxint8_ex(ctx, NULL, 3, HWSIM_ROUND_NEAREST_EVEN, &scale, q, NULL) ==
                  HWSIM_ERR_INVALID_ARGUMENT &&
              error_mentions("hwsim_quantize_mxint8_ex: x_bf16 is NULL") && scale == 0xaa,
          "quantize_ex NULL x_bf16");

    /* softmax_v: 2 heads, kv 40 (2 blocks, the second partial), head_dim 4. */
    enum { H = 2, KV = 40, NB = 2, D = 4 };
    uint16_t qk[H * KV];
    uint8_t v_scales[H * NB * D];
    int8_t v_elems[H * NB * D * 32];
    uint16_t out[H * D];
    uint32_t stage_flags[HWSIM_SOFTMAX_STAGES];
    memset(qk, 0, sizeof qk);
    memset(v_scales, 0x7f, sizeof v_scales);
    memset(v_elems, 0, sizeof v_elems);
    memset(out, 0x55, sizeof out);
    memset(stage_flags, 0x55, sizeof stage_flags);
#define SOFTMAX(heads, kv, head_dim, qk_ptr, elems_ptr)                                          \
    hwsim_softmax_v(ctx, heads, kv, head_dim, qk_ptr, v_scales, elems_ptr, NULL, NULL, NULL, \
                    NULL, NULL, NULL, out, stage_flags)
    check(SOFTMAX(H, 0, D, qk, v_elems) == HWSIM_ERR_INVALID_ARGUMENT && error_mentions("kv is 0"),
          "softmax_v kv 0");
    check(SOFTMAX(0, KV, D, qk, v_elems) == HWSIM_ERR_INVALID_ARGUMENT &&
              error_mentions("heads is 0"),
          "softmax_v heads 0");
    check(SOFTMAX(H, KV, D, NULL, v_elems) == HWSIM_ERR_INVALID_ARGUMENT &&
              error_mentions("qk_t is NULL"),
          "softmax_v NULL qk_t");
    check(SOFTMAX(H, KV, D, qk, NULL) == HWSIM_ERR_INVALID_ARGUMENT &&
              error_mentions("v_elems is NULL"),
          "softmax_v NULL v_elems");
    check(SOFTMAX((size_t)1 << 40, (size_t)1 << 30, D, qk, v_elems) == HWSIM_ERR_INVALID_ARGUMENT &&
              error_mentions("heads x kv = 1099511627776 x 1073741824 overflows size_t"),
          "softmax_v heads x kv overflows");
    check(SOFTMAX(H, KV, SIZE_MAX / 2, qk, v_elems) == HWSIM_ERR_INVALID_ARGUMENT &&
              error_mentions("overflows size_t"),
          "softmax_v heads x head_dim overflows");
    v_elems[(1 * D + 2) * 32 + 20] = 3; /* head 0, block 1, column 2: kv index 52 > 40 */
    check(SOFTMAX(H, KV, D, qk, v_elems) == HWSIM_ERR_INVALID_ARGUMENT &&
              error_mentions("v_elems: block 6 has a nonzero padding element 20 (kv index 52"),
          "softmax_v nonzero padding in v");
    v_elems[(1 * D + 2) * 32 + 20] = 0;
    check(hwsim_softmax_v(NULL, H, KV, D, qk, v_scales, v_elems, NULL, NULL, NULL, NULL, NULL,
                          NULL, out, NULL) == HWSIM_ERR_INVALID_ARGUMENT &&
              error_mentions("ctx is NULL"),
          "softmax_v NULL ctx");
    /* The _ex variant names itself. */
    check(hwsim_softmax_v_ex(ctx, H, 0, D, HWSIM_ROUND_NEAREST_EVEN, qk, v_scales, v_elems, NULL,
                             NULL, NULL, NULL, NULL, NULL, out, stage_flags) ==
                  HWSIM_ERR_INVALID_ARGUMENT &&
              error_mentions("hwsim_softmax_v_ex: kv is 0"),
          "softmax_v_ex kv 0 names hwsim_softmax_v_ex");
    check(hwsim_softmax_v_ex(ctx, H, KV, D, 7, qk, v_scales, v_elems, NULL, NULL, NULL, NULL,
                             NULL, NULL, out, stage_flags) == HWSIM_ERR_INVALID_ARGUMENT &&
              error_mentions("hwsim_softmax_v_ex: element_rounding = 7"),
          "softmax_v_ex unknown element rounding");
    int untouched = 1;
    for (int i = 0; i < H * D; i++) untouched &= out[i] == 0x5555;
    for (int i = 0; i < HWSIM_SOFTMAX_STAGES; i++) untouched &= stage_flags[i] == 0x55555555;
    check(untouched, "failed softmax_v calls left out and stage_flags alone");
    /* Repaired, with v[h, 0, d] = v[h, 32, d] = 1.0: every e^0 = 1, exp_sum = 40,
     * scaled_v = 2, out = 2 * (1/40) through the scalar units. */
    for (int g = 0; g < H * NB * D; g++) v_elems[32 * g] = 64;
    uint16_t want = hwsim_mul_bf16(ctx, 0x4000, hwsim_recip_bf16(ctx, 0x4220, NULL), NULL);
    check(SOFTMAX(H, KV, D, qk, v_elems) == HWSIM_OK && out[0] == want && out[H * D - 1] == want,
          "softmax_v on the repaired input: out = 2 x (1/40)");

    /* Block products: k 0, NULL operand, unknown rounding, overflowing sizes. */
    uint8_t s[2] = {0x7f, 0x7f};
    int8_t e[64] = {64};
    uint16_t y = 0x1234;
    check(hwsim_dot_mxint8_bf16(ctx, 0, s, e, s, e, HWSIM_ROUND_NEAREST_EVEN, &y, NULL) ==
                  HWSIM_ERR_INVALID_ARGUMENT && error_mentions("m is 0"),
          "dot m 0");
    check(hwsim_dot_mxint8_bf16(ctx, 32, s, e, NULL, e, HWSIM_ROUND_NEAREST_EVEN, &y, NULL) ==
                  HWSIM_ERR_INVALID_ARGUMENT && error_mentions("b_scales is NULL"),
          "dot NULL b_scales");
    check(hwsim_gevm_mxint8_bf16(ctx, 32, 1, s, e, s, e, 5, &y, NULL) ==
                  HWSIM_ERR_INVALID_ARGUMENT && error_mentions("rounding = 5"),
          "gevm unknown rounding");
    check(hwsim_gemm_mxint8_bf16(ctx, SIZE_MAX, 32, 2, s, e, s, e, 0, &y, NULL) ==
                  HWSIM_ERR_INVALID_ARGUMENT && error_mentions("overflows size_t"),
          "gemm m x n overflows");
    check(hwsim_dot_mxint8_bf16(ctx, 32, s, e, s, e, HWSIM_ROUND_NEAREST_EVEN, NULL, NULL) ==
                  HWSIM_ERR_INVALID_ARGUMENT && error_mentions("out is NULL"),
          "dot NULL out");
    check(y == 0x1234, "failed block products left out alone");
    check(hwsim_dot_mxint8_bf16(ctx, 32, s, e, s, e, HWSIM_ROUND_NEAREST_EVEN, &y, NULL) ==
                  HWSIM_OK && y == 0x3f80,
          "dot of 1.0 . 1.0 = 1.0");

    hwsim_close(ctx);
    printf("capi-errors: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
