/*
 * test_memory.c -- allocation failure is an error, never an abort: under an address-space limit
 * (setrlimit RLIMIT_AS), calls whose working set does not fit (softmax_v, gemm of MXINT8 and of
 * other MX formats, the MX quantizer, the sum) must return HWSIM_ERR_NO_MEMORY
 * with a message, write nothing, and leave the process able to go on (a small call succeeds
 * afterwards, and the program exits 0).
 *
 *   test_memory
 *
 * The caller's own buffers (the 268 MB v of a kv-65536 softmax_v among them) are allocated and
 * the library's threads started by a small call first; the limit is then set to the address
 * space in use plus MARGIN, room for small calls but not for the library's copies of the big
 * ones. Prints one line per check and `capi-memory: N passed, M failed`; exit 0 iff M == 0.
 */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "hwsim.h"

/* Headroom above the address space in use when the limit is set. */
#define MARGIN ((size_t)96 << 20)

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

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n, size);
    if (p == NULL) {
        fprintf(stderr, "test_memory: cannot allocate the caller's %zu x %zu bytes\n", n, size);
        exit(2);
    }
    return p;
}

/* The process's address space in bytes (VmSize), 0 if unknown. */
static size_t vm_size(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t kb = 0;
    if (f == NULL) return 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmSize: %zu kB", &kb) == 1) break;
    fclose(f);
    return kb * 1024;
}

/* softmax_v of 1 head, kv 40, head_dim 4 with v = 1.0 in kv rows 0 and 32: out = 2 x (1/40). */
static int small_softmax(hwsim_ctx *ctx, uint16_t *out) {
    enum { KV = 40, NB = 2, D = 4 };
    uint16_t qk[KV] = {0};
    uint8_t v_scales[NB * D];
    int8_t v_elems[NB * D * 32];
    memset(v_scales, 0x7f, sizeof v_scales);
    memset(v_elems, 0, sizeof v_elems);
    for (int g = 0; g < NB * D; g++) v_elems[32 * g] = 64;
    return hwsim_softmax_v(ctx, 1, KV, D, qk, v_scales, v_elems, NULL, NULL, NULL, NULL, NULL,
                           NULL, out, NULL);
}

int main(void) {
    hwsim_ctx *ctx = hwsim_open("reference");
    if (ctx == NULL) {
        printf("  FAIL  hwsim_open(\"reference\"): %s\n", hwsim_last_error());
        return 1;
    }
    /* The caller's buffers, before the limit: softmax_v of llama-2-7b's 32 heads at kv 65536
     * (qk_t 4 MiB, v 264 MiB), a 4096 x 32 x 4096 gemm's output (32 MiB), a 2^26-element row. */
    enum { HEADS = 32, HEAD_DIM = 128 };
    const size_t kv = 65536, nb = 65536 / 32;
    uint16_t *qk = xcalloc(HEADS * kv, sizeof *qk);
    uint8_t *v_scales = xcalloc(HEADS * nb * HEAD_DIM, 1);
    int8_t *v_elems = xcalloc(HEADS * nb * HEAD_DIM * 32, 1);
    uint16_t *out = xcalloc(HEADS * HEAD_DIM, sizeof *out);
    uint32_t stage_flags[HWSIM_SOFTMAX_STAGES];
    memset(v_scales, 0x7f, HEADS * nb * HEAD_DIM);
    memset(out, 0x55, HEADS * HEAD_DIM * sizeof *out);
    memset(stage_flags, 0x55, sizeof stage_flags);
    const size_t gm = 4096, gk = 32, gn = 4096;
    uint8_t *g_scales = xcalloc(gm, 1);
    int8_t *g_elems = xcalloc(gm * 32, 1);
    uint16_t *g_out = xcalloc(gm * gn, sizeof *g_out);
    const size_t row_n = (size_t)1 << 26;
    uint16_t *row = xcalloc(row_n, sizeof *row);
    /* hwsim_quantize_mx's outputs for that row: 2^21 scales, 2^26 codes (one a byte). */
    uint8_t *mx_scales = xcalloc(row_n / 32, 1), *mx_codes = xcalloc(row_n, 1);
    mx_scales[0] = 0x55;
    memset(g_scales, 0x7f, gm);
    g_out[0] = 0x1234;

    /* Start the library's worker threads (and their allocator arenas) before the limit. */
    uint16_t small_out[4];
    uint16_t want = hwsim_mul_bf16(ctx, 0x4000, hwsim_recip_bf16(ctx, 0x4220, NULL), NULL);
    check(small_softmax(ctx, small_out) == HWSIM_OK && small_out[0] == want,
          "small softmax_v before the limit");

    size_t vm = vm_size();
    if (vm == 0) {
        printf("  FAIL  cannot read VmSize from /proc/self/status\n");
        return 1;
    }
    struct rlimit lim = {(rlim_t)(vm + MARGIN), (rlim_t)(vm + MARGIN)};
    if (setrlimit(RLIMIT_AS, &lim) != 0) {
        perror("setrlimit(RLIMIT_AS)");
        return 2;
    }
    printf("capi-memory: address space limited to %zu MiB (%zu MiB in use + %zu MiB)\n",
           (vm + MARGIN) >> 20, vm >> 20, MARGIN >> 20);

    int rc = hwsim_softmax_v(ctx, HEADS, kv, HEAD_DIM, qk, v_scales, v_elems, NULL, NULL, NULL,
                             NULL, NULL, NULL, out, stage_flags);
    check(rc == HWSIM_ERR_NO_MEMORY && error_mentions("hwsim_softmax_v: cannot allocate") &&
              error_mentions("heads = 32, kv = 65536, head_dim = 128"),
          "softmax_v(32, 65536, 128) under the limit: HWSIM_ERR_NO_MEMORY");
    int untouched = out[0] == 0x5555 && out[HEADS * HEAD_DIM - 1] == 0x5555;
    for (int i = 0; i < HWSIM_SOFTMAX_STAGES; i++) untouched &= stage_flags[i] == 0x55555555;
    check(untouched, "the refused softmax_v wrote no output");
    rc = hwsim_softmax_v_ex(ctx, HEADS, kv, HEAD_DIM, HWSIM_ROUND_NEAREST_EVEN, qk, v_scales,
                            v_elems, NULL, NULL, NULL, NULL, NULL, NULL, out, NULL);
    check(rc == HWSIM_ERR_NO_MEMORY && error_mentions("hwsim_softmax_v_ex: cannot allocate"),
          "softmax_v_ex under the limit: HWSIM_ERR_NO_MEMORY naming hwsim_softmax_v_ex");
    rc = hwsim_gemm_mxint8_bf16(ctx, gm, gk, gn, g_scales, g_elems, g_scales, g_elems,
                                HWSIM_ROUND_NEAREST_EVEN, g_out, NULL);
    check(rc == HWSIM_ERR_NO_MEMORY &&
              error_mentions("hwsim_gemm_mxint8_bf16: cannot allocate") &&
              error_mentions("gemm with m = 4096, k = 32, n = 4096") && g_out[0] == 0x1234,
          "gemm 4096 x 32 x 4096 under the limit: HWSIM_ERR_NO_MEMORY, out untouched");
    /* The MX formats: the same gemm of MXFP8 E4M3 x MXFP4 E2M1 (zero codes are codes of both),
     * and the MX quantizer over the 2^26-element row. */
    rc = hwsim_gemm_mx_bf16(ctx, gm, gk, gn, HWSIM_MX_MXFP8_E4M3, HWSIM_MX_MXFP4_E2M1, g_scales,
                            (const uint8_t *)g_elems, g_scales, (const uint8_t *)g_elems,
                            HWSIM_ROUND_NEAREST_EVEN, g_out, NULL);
    check(rc == HWSIM_ERR_NO_MEMORY && error_mentions("hwsim_gemm_mx_bf16: cannot allocate") &&
              error_mentions("gemm with m = 4096, k = 32, n = 4096") && g_out[0] == 0x1234,
          "MX gemm 4096 x 32 x 4096 under the limit: HWSIM_ERR_NO_MEMORY, out untouched");
    rc = hwsim_quantize_mx(ctx, HWSIM_MX_MXFP4_E2M1, HWSIM_SCALE_FLOOR,
                           HWSIM_ROUND_FORMAT_DEFAULT, row, row_n, mx_scales, mx_codes, NULL);
    check(rc == HWSIM_ERR_NO_MEMORY && error_mentions("hwsim_quantize_mx: cannot allocate") &&
              mx_scales[0] == 0x55,
          "MX quantize of 2^26 elements under the limit: HWSIM_ERR_NO_MEMORY, nothing written");
    uint32_t flags = 0;
    check(hwsim_sum_bf16(ctx, row, row_n, &flags) == 0x7fc0 && flags == HWSIM_FLAG_ERROR &&
              error_mentions("hwsim_sum_bf16: cannot allocate"),
          "sum of 2^26 elements under the limit: NaN with HWSIM_FLAG_ERROR");

    /* The process goes on: small calls still succeed under the same limit. */
    memset(small_out, 0, sizeof small_out);
    check(small_softmax(ctx, small_out) == HWSIM_OK && small_out[0] == want,
          "small softmax_v after the refusals");
    check(hwsim_sum_bf16(ctx, row, 1000, &flags) == 0 && flags == 0,
          "sum of 1000 zeros after the refusals");
    check(hwsim_quantize_mx(ctx, HWSIM_MX_MXFP4_E2M1, HWSIM_SCALE_FLOOR,
                            HWSIM_ROUND_FORMAT_DEFAULT, row, 1000, mx_scales, mx_codes,
                            NULL) == HWSIM_OK &&
              mx_scales[0] == 0,
          "MX quantize of 1000 zeros after the refusals (scale 0x00)");

    hwsim_close(ctx);
    free(qk);
    free(v_scales);
    free(v_elems);
    free(out);
    free(g_scales);
    free(g_elems);
    free(g_out);
    free(row);
    free(mx_scales);
    free(mx_codes);
    printf("capi-memory: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
