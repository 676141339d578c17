/*
 * test_wrappers.c -- the open-array wrappers of sv/hwsim_dpi.c without a simulator: the four
 * svdpi.h queries they use are implemented here over a plain descriptor, so the test can hand
 * them what a simulator would (a 2-D array, an empty one, sizes near 2^64) and check what no
 * testbench can easily provoke. Run by examples/verilator/run.sh (`make dpi-test`):
 *
 *   cc -std=c11 -I$VERILATOR_ROOT/include/vltstd -Icrates/hwsim-capi/include \
 *      examples/verilator/test_wrappers.c sv/hwsim_dpi.c target/release/libhwsim.a ...
 *
 * Checks: a non-1-D array is refused by every wrapper (the sum's included: an error, not +0);
 * gemm and softmax_v sizes near 2^64 are refused without wrapping; hwsim_sv_last_error() is the
 * message of the last failing call of either layer (a wrapper's own check, a library call
 * through a wrapper, a direct library call). Prints `dpi-wrappers: N passed, M failed`.
 */
#include <stdio.h>
#include <string.h>

#include "svdpi.h"
#include "hwsim.h"

/* Declared by the package; defined in sv/hwsim_dpi.c. */
const char *hwsim_sv_last_error(void);
uint16_t hwsim_sv_sum_bf16(void *ctx, const svOpenArrayHandle x, uint32_t *flags);
int hwsim_sv_gemm_mxint8_bf16(void *ctx, uint64_t m, uint64_t k, uint64_t n,
                              const svOpenArrayHandle input_scales,
                              const svOpenArrayHandle input_elems,
                              const svOpenArrayHandle other_scales,
                              const svOpenArrayHandle other_elems, uint32_t rounding,
                              const svOpenArrayHandle out, const svOpenArrayHandle flags);
int hwsim_sv_softmax_v(void *ctx, uint64_t heads, uint64_t kv, uint64_t head_dim,
                       uint32_t element_rounding, const svOpenArrayHandle qk_t,
                       const svOpenArrayHandle v_scales, const svOpenArrayHandle v_elems,
                       const svOpenArrayHandle exp_bf16, const svOpenArrayHandle exp_sum,
                       const svOpenArrayHandle exp_scales, const svOpenArrayHandle exp_elems,
                       const svOpenArrayHandle scaled_v, const svOpenArrayHandle inv,
                       const svOpenArrayHandle out, const svOpenArrayHandle stage_flags);

/* An open array as a simulator describes it: data, unpacked dimensions and their sizes. */
typedef struct {
    void *data;
    int dims;
    int size[3];
    int elem;
} array_desc;

void *svGetArrayPtr(const svOpenArrayHandle h) { return ((const array_desc *)h)->data; }
int svDimensions(const svOpenArrayHandle h) { return ((const array_desc *)h)->dims; }
int svSize(const svOpenArrayHandle h, int d) {
    const array_desc *a = (const array_desc *)h;
    return d >= 1 && d <= a->dims ? a->size[d - 1] : 0;
}
int svSizeOfArray(const svOpenArrayHandle h) {
    const array_desc *a = (const array_desc *)h;
    int n = a->elem;
    for (int d = 0; d < a->dims; d++) n *= a->size[d];
    return n;
}

static array_desc vec(void *data, int n, int elem) {
    array_desc a = {data, 1, {n, 0, 0}, elem};
    return a;
}

static int passed, failed;

static void check(int ok, const char *what) {
    if (ok) {
        passed++;
        printf("  ok    %s: %s\n", what, hwsim_sv_last_error());
    } else {
        failed++;
        printf("  FAIL  %s (hwsim_sv_last_error: %s)\n", what, hwsim_sv_last_error());
    }
}

static int sv_error_mentions(const char *text) {
    return strstr(hwsim_sv_last_error(), text) != NULL;
}

int main(void) {
    hwsim_ctx *ctx = hwsim_open("reference");
    if (ctx == NULL) {
        printf("  FAIL  hwsim_open: %s\n", hwsim_last_error());
        return 1;
    }
    uint32_t flags = 0;

    /* The sum over a 1-D array works; over 2-D (2 x 3 ones) it is an error, not +0. */
    uint16_t ones[6] = {0x3f80, 0x3f80, 0x3f80, 0x3f80, 0x3f80, 0x3f80};
    array_desc x1 = vec(ones, 6, 2);
    check(hwsim_sv_sum_bf16(ctx, &x1, &flags) == 0x40c0 && flags == 0, "sum of 6 ones = 6.0");
    array_desc x2 = {ones, 2, {2, 3, 0}, 2};
    flags = 0;
    check(hwsim_sv_sum_bf16(ctx, &x2, &flags) == 0x7fc0 && flags == HWSIM_FLAG_ERROR &&
              sv_error_mentions("hwsim_sv_sum_bf16: x must be a one-dimensional array "
                                "(has 2 dimensions)"),
          "sum of a 2-D array: NaN with HWSIM_FLAG_ERROR");
    array_desc x0 = vec(ones, 0, 2);
    flags = 0;
    check(hwsim_sv_sum_bf16(ctx, &x0, &flags) == 0x7fc0 && flags == HWSIM_FLAG_ERROR &&
              sv_error_mentions("hwsim_sv_sum_bf16: x must be"),
          "sum of an empty array: an error (n = 0 is one in libhwsim too)");

    /* gemm of [1.0] . [1.0]; then non-1-D operands and k near 2^64. */
    uint8_t scale[1] = {0x7f};
    int8_t elems[32] = {64};
    uint16_t out[1] = {0x1234};
    uint32_t out_flags[1];
    array_desc s = vec(scale, 1, 1), e = vec(elems, 32, 1), o = vec(out, 1, 2),
               f = vec(out_flags, 1, 4);
    check(hwsim_sv_gemm_mxint8_bf16(ctx, 1, 1, 1, &s, &e, &s, &e, HWSIM_ROUND_NEAREST_EVEN, &o,
                                    &f) == HWSIM_OK &&
              out[0] == 0x3f80,
          "gemm 1 x 1 x 1 = 1.0");
    array_desc e2 = {elems, 2, {1, 32, 0}, 1};
    out[0] = 0x1234;
    check(hwsim_sv_gemm_mxint8_bf16(ctx, 1, 1, 1, &s, &e2, &s, &e, HWSIM_ROUND_NEAREST_EVEN,
                                    &o, &f) == HWSIM_ERR_INVALID_ARGUMENT &&
              sv_error_mentions("input_elems must be a one-dimensional array") &&
              out[0] == 0x1234,
          "gemm with a 2-D input_elems");
    const uint64_t huge[] = {UINT64_MAX, UINT64_MAX - 30, UINT64_MAX - 31, (uint64_t)1 << 63};
    for (int i = 0; i < 4; i++) {
        char what[96];
        snprintf(what, sizeof what, "gemm k = %llu refused, not wrapped",
                 (unsigned long long)huge[i]);
        check(hwsim_sv_gemm_mxint8_bf16(ctx, 1, huge[i], 1, &s, &e, &s, &e,
                                        HWSIM_ROUND_NEAREST_EVEN, &o, &f) ==
                      HWSIM_ERR_INVALID_ARGUMENT &&
                  sv_error_mentions("hwsim_sv_gemm_mxint8_bf16: input_") && out[0] == 0x1234,
              what);
    }
    check(hwsim_sv_gemm_mxint8_bf16(ctx, UINT64_MAX, 1, 2, &s, &e, &s, &e,
                                    HWSIM_ROUND_NEAREST_EVEN, &o, &f) ==
                  HWSIM_ERR_INVALID_ARGUMENT &&
              sv_error_mentions("the sizes are too large"),
          "gemm m x n past SIZE_MAX refused");

    /* softmax_v: kv near 2^64 and a 2-D output. */
    uint16_t qk[1] = {0}, e16[1], s16[1], sv16[1], inv16[1], o16[1];
    uint8_t es[1];
    int8_t ee[32];
    uint32_t stage[HWSIM_SOFTMAX_STAGES];
    array_desc qk_a = vec(qk, 1, 2), e16_a = vec(e16, 1, 2), s16_a = vec(s16, 1, 2),
               es_a = vec(es, 1, 1), ee_a = vec(ee, 32, 1), sv16_a = vec(sv16, 1, 2),
               inv16_a = vec(inv16, 1, 2), o16_a = vec(o16, 1, 2),
               st_a = vec(stage, HWSIM_SOFTMAX_STAGES, 4);
    check(hwsim_sv_softmax_v(ctx, 1, 1, 1, HWSIM_ROUND_NEAREST_AWAY, &qk_a, &s, &e, &e16_a,
                             &s16_a, &es_a, &ee_a, &sv16_a, &inv16_a, &o16_a, &st_a) ==
                  HWSIM_OK &&
              o16[0] == 0x3f80,
          "softmax_v of one score and v = 1.0: out = 1.0");
    check(hwsim_sv_softmax_v(ctx, 1, UINT64_MAX - 3, 1, HWSIM_ROUND_NEAREST_AWAY, &qk_a, &s, &e,
                             &e16_a, &s16_a, &es_a, &ee_a, &sv16_a, &inv16_a, &o16_a, &st_a) ==
                  HWSIM_ERR_INVALID_ARGUMENT &&
              sv_error_mentions("hwsim_sv_softmax_v: qk_t"),
          "softmax_v kv near 2^64 refused, not wrapped");
    array_desc o16_2d = {o16, 2, {1, 1, 0}, 2};
    check(hwsim_sv_softmax_v(ctx, 1, 1, 1, HWSIM_ROUND_NEAREST_AWAY, &qk_a, &s, &e, &e16_a,
                             &s16_a, &es_a, &ee_a, &sv16_a, &inv16_a, &o16_2d, &st_a) ==
                  HWSIM_ERR_INVALID_ARGUMENT &&
              sv_error_mentions("out must be a one-dimensional array (has 2 dimensions)"),
          "softmax_v with a 2-D out");

    /* hwsim_sv_last_error follows the last failing call of either layer. */
    out[0] = 0x1234;
    /* n = 2: other_scales (1 block) is too short */
    hwsim_sv_gemm_mxint8_bf16(ctx, 1, 1, 2, &s, &e, &s, &e, 0, &o, &f);
    check(sv_error_mentions("hwsim_sv_gemm_mxint8_bf16: other_scales must be"),
          "a wrapper's own error is the last error");
    hwsim_exp_bf16(ctx, 0x3f80, NULL); /* a success changes nothing */
    check(sv_error_mentions("hwsim_sv_gemm_mxint8_bf16: other_scales must be"),
          "a later successful call keeps it");
    hwsim_exp_bf16(NULL, 0x3f80, NULL); /* a direct call that fails */
    check(sv_error_mentions("hwsim_exp_bf16: ctx is NULL"),
          "a later failing direct libhwsim call replaces it");
    hwsim_sv_sum_bf16(ctx, &x2, &flags);
    check(sv_error_mentions("hwsim_sv_sum_bf16: x must be"), "a later wrapper error replaces that");
    check(hwsim_sv_gemm_mxint8_bf16(ctx, 1, 1, 1, &s, &e, &s, &e, 9, &o, &f) ==
                  HWSIM_ERR_INVALID_ARGUMENT &&
              sv_error_mentions("hwsim_gemm_mxint8_bf16: rounding = 9"),
          "a library error inside a wrapper replaces that");
    check(hwsim_sv_gemm_mxint8_bf16(ctx, 1, 1, 1, &s, &e, &s, &e, 0, &o, &f) == HWSIM_OK &&
              sv_error_mentions("hwsim_gemm_mxint8_bf16: rounding = 9"),
          "a later successful wrapper call keeps it");

    hwsim_close(ctx);
    printf("dpi-wrappers: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
