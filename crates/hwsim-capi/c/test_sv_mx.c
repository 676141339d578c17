/*
 * test_sv_mx.c -- the MX open-array wrappers of sv/hwsim_dpi.c (hwsim_sv_quantize_mx,
 * hwsim_sv_gemm_mx_bf16/_fp32, hwsim_sv_softmax_v_mx) without a simulator: the four svdpi.h
 * queries they use are implemented here over a plain descriptor, as
 * examples/verilator/test_wrappers.c does for the others. Run by test.sh (`make capi-test`), compiled against Verilator's svdpi.h:
 *
 *   cc -std=c11 -I$VERILATOR_ROOT/include/vltstd -Icrates/hwsim-capi/include \
 *      crates/hwsim-capi/c/test_sv_mx.c sv/hwsim_dpi.c target/release/libhwsim.a ...
 *
 * Checks: each wrapper gives the library's result on a case worked out by hand; short and
 * non-1-D arrays and sizes near 2^64 are refused by the wrapper (nothing written); a library
 * refusal through a wrapper (a code wider than its format) is hwsim_sv_last_error().
 * Prints `sv-mx-wrappers: N passed, M failed`.
 */
#include <stdio.h>
#include <string.h>

#include "svdpi.h"
#include "hwsim.h"

/* Declared by the package; defined in sv/hwsim_dpi.c. */
const char *hwsim_sv_last_error(void);
int hwsim_sv_quantize_mx(void *ctx, uint32_t format, uint32_t scale_rule,
                         uint32_t element_rounding, const svOpenArrayHandle x_bf16, uint64_t n,
                         const svOpenArrayHandle scales, const svOpenArrayHandle codes,
                         const svOpenArrayHandle flags);
int hwsim_sv_gemm_mx_bf16(void *ctx, uint64_t m, uint64_t k, uint64_t n, uint32_t format_a,
                          uint32_t format_b, const svOpenArrayHandle input_scales,
                          const svOpenArrayHandle input_codes,
                          const svOpenArrayHandle other_scales,
                          const svOpenArrayHandle other_codes, uint32_t rounding,
                          const svOpenArrayHandle out, const svOpenArrayHandle flags);
int hwsim_sv_gemm_mx_fp32(void *ctx, uint64_t m, uint64_t k, uint64_t n, uint32_t format_a,
                          uint32_t format_b, const svOpenArrayHandle input_scales,
                          const svOpenArrayHandle input_codes,
                          const svOpenArrayHandle other_scales,
                          const svOpenArrayHandle other_codes, uint32_t rounding,
                          const svOpenArrayHandle out, const svOpenArrayHandle flags);
int hwsim_sv_softmax_v_mx(void *ctx, uint64_t heads, uint64_t kv, uint64_t head_dim,
                          uint32_t exp_format, uint32_t v_format, uint32_t scale_rule,
                          uint32_t element_rounding, const svOpenArrayHandle qk_t,
                          const svOpenArrayHandle v_scales, const svOpenArrayHandle v_codes,
                          const svOpenArrayHandle exp_bf16, const svOpenArrayHandle exp_sum,
                          const svOpenArrayHandle exp_scales, const svOpenArrayHandle exp_codes,
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

    /* Quantize 40 BF16 ones to MXFP4 E2M1 by floor: two blocks of scale 2^-2 (0x7d), elements
     * 4.0 (code 0x6), the second block's 24 padding codes 0. */
    uint16_t x[40];
    for (int i = 0; i < 40; i++) x[i] = 0x3f80;
    uint8_t scales[2] = {0x55, 0x55}, codes[64];
    uint32_t qflags[2] = {7, 7};
    memset(codes, 0x55, sizeof codes);
    array_desc xa = vec(x, 40, 2), sa = vec(scales, 2, 1), ca = vec(codes, 64, 1),
               fa = vec(qflags, 2, 4);
    check(hwsim_sv_quantize_mx(ctx, HWSIM_MX_MXFP4_E2M1, HWSIM_SCALE_FLOOR,
                               HWSIM_ROUND_FORMAT_DEFAULT, &xa, 40, &sa, &ca, &fa) == HWSIM_OK &&
              scales[0] == 0x7d && scales[1] == 0x7d && codes[0] == 0x6 && codes[39] == 0x6 &&
              codes[40] == 0 && codes[63] == 0 && qflags[0] == 0 && qflags[1] == 0,
          "quantize 40 ones to E2M1: scale 0x7d, codes 0x6, padding 0");
    memset(codes, 0x55, sizeof codes);
    array_desc ca_short = vec(codes, 63, 1);
    check(hwsim_sv_quantize_mx(ctx, HWSIM_MX_MXFP4_E2M1, 0, 0, &xa, 40, &sa, &ca_short, &fa) ==
                  HWSIM_ERR_INVALID_ARGUMENT &&
              sv_error_mentions("hwsim_sv_quantize_mx: codes must be a one-dimensional array "
                                "of at least 64 elements") &&
              codes[0] == 0x55,
          "quantize with 63 codes for 2 blocks");
    array_desc x2 = {x, 2, {2, 20, 0}, 2};
    check(hwsim_sv_quantize_mx(ctx, HWSIM_MX_MXFP4_E2M1, 0, 0, &x2, 40, &sa, &ca, &fa) ==
                  HWSIM_ERR_INVALID_ARGUMENT &&
              sv_error_mentions("x_bf16 must be a one-dimensional array (has 2 dimensions)"),
          "quantize of a 2-D input");
    check(hwsim_sv_quantize_mx(ctx, HWSIM_MX_MXFP4_E2M1, 0, 0, &xa, UINT64_MAX, &sa, &ca, &fa) ==
                  HWSIM_ERR_INVALID_ARGUMENT &&
              sv_error_mentions("hwsim_sv_quantize_mx: x_bf16"),
          "quantize n = 2^64 - 1 refused, not wrapped");
    check(hwsim_sv_quantize_mx(ctx, 6, 0, 0, &xa, 40, &sa, &ca, &fa) ==
                  HWSIM_ERR_INVALID_ARGUMENT &&
              sv_error_mentions("hwsim_quantize_mx: format = 6 is not an MX format code"),
          "a library refusal through the quantize wrapper");

    /* gemm 1 x 40 x 2 of E2M1 1.0 (0x2) and E3M2 0.25 (0x4): 40 x 0.25 = 10.0 (BF16 0x4120,
     * FP32 0x41200000). input [1, 2 blocks], other [2 blocks, 2]; partial blocks padded. */
    uint8_t is[2] = {0x7f, 0x7f}, ic[64], os[4] = {0x7f, 0x7f, 0x7f, 0x7f}, oc[128];
    memset(ic, 0x2, sizeof ic);
    memset(ic + 40, 0, 24);
    memset(oc, 0x4, sizeof oc);
    memset(oc + 72, 0, 24);
    memset(oc + 104, 0, 24);
    uint16_t out[2] = {0xbeef, 0xbeef};
    uint32_t out32[2] = {0, 0}, gflags[2] = {7, 7};
    array_desc isa = vec(is, 2, 1), ica = vec(ic, 64, 1), osa = vec(os, 4, 1),
               oca = vec(oc, 128, 1), oa = vec(out, 2, 2), o32 = vec(out32, 2, 4),
               gfa = vec(gflags, 2, 4);
    const uint32_t e2m1 = HWSIM_MX_MXFP4_E2M1, e3m2 = HWSIM_MX_MXFP6_E3M2;
    check(hwsim_sv_gemm_mx_bf16(ctx, 1, 40, 2, e2m1, e3m2, &isa, &ica, &osa, &oca,
                                HWSIM_ROUND_NEAREST_EVEN, &oa, &gfa) == HWSIM_OK &&
              out[0] == 0x4120 && out[1] == 0x4120 && gflags[0] == 0 && gflags[1] == 0,
          "gemm_mx_bf16 E2M1 x E3M2 = 10.0");
    check(hwsim_sv_gemm_mx_fp32(ctx, 1, 40, 2, e2m1, e3m2, &isa, &ica, &osa, &oca,
                                HWSIM_ROUND_NEAREST_EVEN, &o32, &gfa) == HWSIM_OK &&
              out32[0] == 0x41200000 && out32[1] == 0x41200000,
          "gemm_mx_fp32 E2M1 x E3M2 = 10.0");
    out[0] = out[1] = 0xbeef;
    array_desc oca_short = vec(oc, 127, 1);
    check(hwsim_sv_gemm_mx_bf16(ctx, 1, 40, 2, e2m1, e3m2, &isa, &ica, &osa, &oca_short, 0, &oa,
                                &gfa) == HWSIM_ERR_INVALID_ARGUMENT &&
              sv_error_mentions("hwsim_sv_gemm_mx_bf16: other_codes must be a one-dimensional "
                                "array of at least 128 elements") &&
              out[0] == 0xbeef,
          "gemm with a short other_codes");
    array_desc ica_2d = {ic, 2, {2, 32, 0}, 1};
    check(hwsim_sv_gemm_mx_fp32(ctx, 1, 40, 2, e2m1, e3m2, &isa, &ica_2d, &osa, &oca, 0, &o32,
                                &gfa) == HWSIM_ERR_INVALID_ARGUMENT &&
              sv_error_mentions("hwsim_sv_gemm_mx_fp32: input_codes must be a one-dimensional "
                                "array (has 2 dimensions)"),
          "gemm with a 2-D input_codes");
    const uint64_t huge[] = {UINT64_MAX, UINT64_MAX - 30, (uint64_t)1 << 63};
    for (int i = 0; i < 3; i++) {
        char what[96];
        snprintf(what, sizeof what, "gemm k = %llu refused, not wrapped",
                 (unsigned long long)huge[i]);
        check(hwsim_sv_gemm_mx_bf16(ctx, 1, huge[i], 2, e2m1, e3m2, &isa, &ica, &osa, &oca, 0,
                                    &oa, &gfa) == HWSIM_ERR_INVALID_ARGUMENT &&
                  sv_error_mentions("hwsim_sv_gemm_mx_bf16: input_") && out[0] == 0xbeef,
              what);
    }
    oc[3] = 0x40;
    check(hwsim_sv_gemm_mx_bf16(ctx, 1, 40, 2, e2m1, e3m2, &isa, &ica, &osa, &oca, 0, &oa,
                                &gfa) == HWSIM_ERR_INVALID_ARGUMENT &&
              sv_error_mentions("hwsim_gemm_mx_bf16: other_codes[3] = 0x40") && out[0] == 0xbeef,
          "a code wider than its format, refused by the library through the wrapper");

    /* softmax_v_mx, 1 head, kv 40, head_dim 1, scores 0: exp 1.0 to MXFP8 E4M3 (scale 0x77,
     * codes 0x78), v MXFP4 E2M1 1.0 (0x2) at kv 0 and 32: out = 2 x RNE(1/40) = 0x3d4d (the
     * library's own test, test_mx errors, works it out). */
    uint16_t qk[40] = {0}, ebf[40], esum, sv, inv, so = 0xbeef;
    uint8_t vs[2] = {0x7f, 0x7f}, vc[64] = {0}, es[2], ec[64];
    uint32_t sf[HWSIM_SOFTMAX_STAGES];
    vc[0] = vc[32] = 0x2;
    array_desc qka = vec(qk, 40, 2), vsa = vec(vs, 2, 1), vca = vec(vc, 64, 1),
               eba = vec(ebf, 40, 2), esuma = vec(&esum, 1, 2), esa = vec(es, 2, 1),
               eca = vec(ec, 64, 1), sva = vec(&sv, 1, 2), inva = vec(&inv, 1, 2),
               soa = vec(&so, 1, 2), sfa = vec(sf, HWSIM_SOFTMAX_STAGES, 4);
    const uint32_t e4m3 = HWSIM_MX_MXFP8_E4M3;
    check(hwsim_sv_softmax_v_mx(ctx, 1, 40, 1, e4m3, e2m1, HWSIM_SCALE_FLOOR,
                                HWSIM_ROUND_FORMAT_DEFAULT, &qka, &vsa, &vca, &eba, &esuma, &esa,
                                &eca, &sva, &inva, &soa, &sfa) == HWSIM_OK &&
              esum == 0x4220 && es[0] == 0x77 && ec[0] == 0x78 && ec[40] == 0 && sv == 0x4000 &&
              so == 0x3d4d,
          "softmax_v_mx E4M3 exp x E2M1 v: out = 2 x RNE(1/40)");
    so = 0xbeef;
    array_desc vca_short = vec(vc, 63, 1);
    check(hwsim_sv_softmax_v_mx(ctx, 1, 40, 1, e4m3, e2m1, 0, HWSIM_ROUND_FORMAT_DEFAULT, &qka,
                                &vsa, &vca_short, &eba, &esuma, &esa, &eca, &sva, &inva, &soa,
                                &sfa) == HWSIM_ERR_INVALID_ARGUMENT &&
              sv_error_mentions("hwsim_sv_softmax_v_mx: v_codes must be a one-dimensional "
                                "array of at least 64 elements") &&
              so == 0xbeef,
          "softmax_v_mx with a short v_codes");
    array_desc eca_2d = {ec, 2, {2, 32, 0}, 1};
    check(hwsim_sv_softmax_v_mx(ctx, 1, 40, 1, e4m3, e2m1, 0, HWSIM_ROUND_FORMAT_DEFAULT, &qka,
                                &vsa, &vca, &eba, &esuma, &esa, &eca_2d, &sva, &inva, &soa,
                                &sfa) == HWSIM_ERR_INVALID_ARGUMENT &&
              sv_error_mentions("hwsim_sv_softmax_v_mx: exp_codes must be a one-dimensional "
                                "array (has 2 dimensions)"),
          "softmax_v_mx with a 2-D exp_codes");
    check(hwsim_sv_softmax_v_mx(ctx, 1, UINT64_MAX, 1, e4m3, e2m1, 0,
                                HWSIM_ROUND_FORMAT_DEFAULT, &qka, &vsa, &vca, &eba, &esuma, &esa,
                                &eca, &sva, &inva, &soa, &sfa) == HWSIM_ERR_INVALID_ARGUMENT &&
              sv_error_mentions("hwsim_sv_softmax_v_mx: qk_t") && so == 0xbeef,
          "softmax_v_mx kv = 2^64 - 1 refused, not wrapped");
    vc[1] = 0x10;
    check(hwsim_sv_softmax_v_mx(ctx, 1, 40, 1, e4m3, e2m1, 0, HWSIM_ROUND_FORMAT_DEFAULT, &qka,
                                &vsa, &vca, &eba, &esuma, &esa, &eca, &sva, &inva, &soa,
                                &sfa) == HWSIM_ERR_INVALID_ARGUMENT &&
              sv_error_mentions("hwsim_softmax_v_mx: v_codes[1] = 0x10") && so == 0xbeef,
          "a v code wider than its format, refused by the library through the wrapper");

    hwsim_close(ctx);
    printf("sv-mx-wrappers: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
