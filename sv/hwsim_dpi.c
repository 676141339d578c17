/*
 * hwsim_dpi.c -- the open-array wrappers of sv/hwsim_pkg.sv: DPI-C passes an open array
 * (`x[]`) as an svOpenArrayHandle, so these turn each handle into the C pointer libhwsim takes,
 * after checking the array is one-dimensional and holds at least the elements the sizes call
 * for. Sizes are computed without wrapping: a size product past SIZE_MAX is refused here.
 * Compile it with the testbench (it needs the simulator's svdpi.h and include/hwsim.h); valid C
 * and C++.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "svdpi.h"
#include "hwsim.h"

/* Simulators may compile this file as C++ (Verilator does): keep the C names and thread-local. */
#ifdef __cplusplus
#define THREAD_LOCAL thread_local
extern "C" {
#else
#define THREAD_LOCAL _Thread_local
#endif

/* This file's own last error: the message of the last check that failed here (before libhwsim
 * was called), and hwsim_error_count() at that moment. hwsim_sv_last_error() gives it while no
 * library call has failed since, else hwsim_last_error(): the last failing call of either layer,
 * whether the library was called through a wrapper or directly. */
static THREAD_LOCAL char sv_error[320];
static THREAD_LOCAL int sv_error_set;
static THREAD_LOCAL uint64_t sv_error_at;

const char *hwsim_sv_last_error(void) {
    return sv_error_set && hwsim_error_count() == sv_error_at ? sv_error : hwsim_last_error();
}

static void fail(const char *func, const char *name, const char *why) {
    snprintf(sv_error, sizeof sv_error, "%s: %s %s", func, name, why);
    sv_error_set = 1;
    sv_error_at = hwsim_error_count();
}

/* The data of a one-dimensional open array of at least `need` elements of `elem` bytes, or
 * NULL with sv_error set. `need` SIZE_MAX stands for a size that overflowed (see mul). */
static void *array(const svOpenArrayHandle h, size_t need, size_t elem, const char *func,
                   const char *name) {
    char why[240];
    if (need == SIZE_MAX) {
        fail(func, name, "would need more elements than size_t counts: the sizes are too large");
        return NULL;
    }
    int dims = svDimensions(h);
    if (dims != 1) {
        snprintf(why, sizeof why, "must be a one-dimensional array (has %d dimensions)", dims);
        fail(func, name, why);
        return NULL;
    }
    void *p = svGetArrayPtr(h);
    int size = svSize(h, 1);
    size_t have = size > 0 ? (size_t)size : 0;
    if (p == NULL || have < need || (size_t)svSizeOfArray(h) != have * elem) {
        snprintf(why, sizeof why,
                 "must be a one-dimensional array of at least %zu elements of %zu bytes "
                 "(has %zu elements)",
                 need, elem, have);
        fail(func, name, why);
        return NULL;
    }
    return p;
}

/* A size argument as size_t, SIZE_MAX if it does not fit (only where size_t is narrower). */
static size_t size_arg(uint64_t v) { return v > (uint64_t)SIZE_MAX ? SIZE_MAX : (size_t)v; }

/* a * b, or SIZE_MAX when it overflows size_t (or either is SIZE_MAX already): array() then
 * refuses the call. */
static size_t mul(size_t a, size_t b) {
    return (a == SIZE_MAX || b == SIZE_MAX || (b != 0 && a > (SIZE_MAX - 1) / b)) ? SIZE_MAX
                                                                                  : a * b;
}

/* ceil(x / 32) without the wrap of (x + 31) / 32 near 2^64. */
static size_t blocks_of(uint64_t x) { return size_arg(x / 32 + (x % 32 != 0)); }

#define ARRAY(type, h, need, name)                                                  \
    type *name##_p = (type *)array(h, need, sizeof(type), FUNC, #name);             \
    if (name##_p == NULL) return FAILED

#undef FUNC
#define FUNC "hwsim_sv_sum_bf16"
#define FAILED (*flags = HWSIM_FLAG_ERROR, (uint16_t)0x7fc0)
uint16_t hwsim_sv_sum_bf16(void *ctx, const svOpenArrayHandle x, uint32_t *flags) {
    /* All of x: a one-dimensional array of at least one element (an empty row is an error in
     * libhwsim too). */
    int size = svDimensions(x) == 1 ? svSize(x, 1) : 0;
    ARRAY(const uint16_t, x, size > 1 ? (size_t)size : 1, x);
    return hwsim_sum_bf16((const hwsim_ctx *)ctx, x_p, (size_t)size, flags);
}
#undef FAILED
#define FAILED HWSIM_ERR_INVALID_ARGUMENT

/* Blocks of gemm's operands: input [m, ceil(k/32)], other [ceil(k/32), n]. */
#define GEMM(suffix, out_type)                                                                \
    int hwsim_sv_gemm_mxint8_##suffix(                                                        \
        void *ctx, uint64_t m, uint64_t k, uint64_t n, const svOpenArrayHandle input_scales,  \
        const svOpenArrayHandle input_elems, const svOpenArrayHandle other_scales,            \
        const svOpenArrayHandle other_elems, uint32_t rounding, const svOpenArrayHandle out,  \
        const svOpenArrayHandle flags) {                                                      \
        size_t kb = blocks_of(k), m_ = size_arg(m), n_ = size_arg(n);                        \
        ARRAY(const uint8_t, input_scales, mul(m_, kb), input_scales);                       \
        ARRAY(const int8_t, input_elems, mul(mul(m_, kb), 32), input_elems);                 \
        ARRAY(const uint8_t, other_scales, mul(kb, n_), other_scales);                       \
        ARRAY(const int8_t, other_elems, mul(mul(kb, n_), 32), other_elems);                 \
        ARRAY(out_type, out, mul(m_, n_), out);                                               \
        ARRAY(uint32_t, flags, mul(m_, n_), flags);                                           \
        return hwsim_gemm_mxint8_##suffix((const hwsim_ctx *)ctx, m, k, n, input_scales_p,   \
                                          input_elems_p, other_scales_p, other_elems_p,       \
                                          rounding, out_p, flags_p);                          \
    }
#undef FUNC
#define FUNC "hwsim_sv_gemm_mxint8_bf16"
GEMM(bf16, uint16_t)
#undef FUNC
#define FUNC "hwsim_sv_gemm_mxint8_fp32"
GEMM(fp32, uint32_t)

/* The MX formats: gemm over operands of formats format_a (input) and format_b (other), codes
 * one per byte; the same grids as the MXINT8 gemm. */
#define GEMM_MX(suffix, out_type)                                                             \
    int hwsim_sv_gemm_mx_##suffix(                                                            \
        void *ctx, uint64_t m, uint64_t k, uint64_t n, uint32_t format_a, uint32_t format_b,  \
        const svOpenArrayHandle input_scales, const svOpenArrayHandle input_codes,            \
        const svOpenArrayHandle other_scales, const svOpenArrayHandle other_codes,            \
        uint32_t rounding, const svOpenArrayHandle out, const svOpenArrayHandle flags) {      \
        size_t kb = blocks_of(k), m_ = size_arg(m), n_ = size_arg(n);                        \
        ARRAY(const uint8_t, input_scales, mul(m_, kb), input_scales);                       \
        ARRAY(const uint8_t, input_codes, mul(mul(m_, kb), 32), input_codes);                \
        ARRAY(const uint8_t, other_scales, mul(kb, n_), other_scales);                       \
        ARRAY(const uint8_t, other_codes, mul(mul(kb, n_), 32), other_codes);                \
        ARRAY(out_type, out, mul(m_, n_), out);                                               \
        ARRAY(uint32_t, flags, mul(m_, n_), flags);                                           \
        return hwsim_gemm_mx_##suffix((const hwsim_ctx *)ctx, m, k, n, format_a, format_b,   \
                                      input_scales_p, input_codes_p, other_scales_p,          \
                                      other_codes_p, rounding, out_p, flags_p);               \
    }
#undef FUNC
#define FUNC "hwsim_sv_gemm_mx_bf16"
GEMM_MX(bf16, uint16_t)
#undef FUNC
#define FUNC "hwsim_sv_gemm_mx_fp32"
GEMM_MX(fp32, uint32_t)

/* The MX quantizer over x_bf16[0..n-1]: scales and flags of ceil(n/32) blocks, 32 codes each.
 * A wrapper, unlike the one-block hwsim_quantize_mxint8, because n is not bounded by a block. */
#undef FUNC
#define FUNC "hwsim_sv_quantize_mx"
int hwsim_sv_quantize_mx(void *ctx, uint32_t format, uint32_t scale_rule,
                         uint32_t element_rounding, const svOpenArrayHandle x_bf16, uint64_t n,
                         const svOpenArrayHandle scales, const svOpenArrayHandle codes,
                         const svOpenArrayHandle flags) {
    size_t nb = blocks_of(n);
    ARRAY(const uint16_t, x_bf16, size_arg(n), x_bf16);
    ARRAY(uint8_t, scales, nb, scales);
    ARRAY(uint8_t, codes, mul(nb, 32), codes);
    ARRAY(uint32_t, flags, nb, flags);
    return hwsim_quantize_mx((const hwsim_ctx *)ctx, format, scale_rule, element_rounding,
                             x_bf16_p, n, scales_p, codes_p, flags_p);
}

#undef FUNC
#define FUNC "hwsim_sv_softmax_v"
int hwsim_sv_softmax_v(void *ctx, uint64_t heads, uint64_t kv, uint64_t head_dim,
                       uint32_t element_rounding, const svOpenArrayHandle qk_t,
                       const svOpenArrayHandle v_scales, const svOpenArrayHandle v_elems,
                       const svOpenArrayHandle exp_bf16, const svOpenArrayHandle exp_sum,
                       const svOpenArrayHandle exp_scales, const svOpenArrayHandle exp_elems,
                       const svOpenArrayHandle scaled_v, const svOpenArrayHandle inv,
                       const svOpenArrayHandle out, const svOpenArrayHandle stage_flags) {
    size_t nb = blocks_of(kv), h = size_arg(heads), d = size_arg(head_dim);
    size_t v_blocks = mul(mul(h, nb), d);
    ARRAY(const uint16_t, qk_t, mul(h, size_arg(kv)), qk_t);
    ARRAY(const uint8_t, v_scales, v_blocks, v_scales);
    ARRAY(const int8_t, v_elems, mul(v_blocks, 32), v_elems);
    ARRAY(uint16_t, exp_bf16, mul(h, size_arg(kv)), exp_bf16);
    ARRAY(uint16_t, exp_sum, h, exp_sum);
    ARRAY(uint8_t, exp_scales, mul(h, nb), exp_scales);
    ARRAY(int8_t, exp_elems, mul(mul(h, nb), 32), exp_elems);
    ARRAY(uint16_t, scaled_v, mul(h, d), scaled_v);
    ARRAY(uint16_t, inv, h, inv);
    ARRAY(uint16_t, out, mul(h, d), out);
    ARRAY(uint32_t, stage_flags, HWSIM_SOFTMAX_STAGES, stage_flags);
    return hwsim_softmax_v_ex((const hwsim_ctx *)ctx, heads, kv, head_dim, element_rounding,
                              qk_t_p, v_scales_p, v_elems_p, exp_bf16_p, exp_sum_p,
                              exp_scales_p, exp_elems_p, scaled_v_p, inv_p, out_p,
                              stage_flags_p);
}

/* softmax_v with other block formats: v and exp's quantization as codes, one per byte. */
#undef FUNC
#define FUNC "hwsim_sv_softmax_v_mx"
int hwsim_sv_softmax_v_mx(void *ctx, uint64_t heads, uint64_t kv, uint64_t head_dim,
                          uint32_t exp_format, uint32_t v_format, uint32_t scale_rule,
                          uint32_t element_rounding, const svOpenArrayHandle qk_t,
                          const svOpenArrayHandle v_scales, const svOpenArrayHandle v_codes,
                          const svOpenArrayHandle exp_bf16, const svOpenArrayHandle exp_sum,
                          const svOpenArrayHandle exp_scales, const svOpenArrayHandle exp_codes,
                          const svOpenArrayHandle scaled_v, const svOpenArrayHandle inv,
                          const svOpenArrayHandle out, const svOpenArrayHandle stage_flags) {
    size_t nb = blocks_of(kv), h = size_arg(heads), d = size_arg(head_dim);
    size_t v_blocks = mul(mul(h, nb), d);
    ARRAY(const uint16_t, qk_t, mul(h, size_arg(kv)), qk_t);
    ARRAY(const uint8_t, v_scales, v_blocks, v_scales);
    ARRAY(const uint8_t, v_codes, mul(v_blocks, 32), v_codes);
    ARRAY(uint16_t, exp_bf16, mul(h, size_arg(kv)), exp_bf16);
    ARRAY(uint16_t, exp_sum, h, exp_sum);
    ARRAY(uint8_t, exp_scales, mul(h, nb), exp_scales);
    ARRAY(uint8_t, exp_codes, mul(mul(h, nb), 32), exp_codes);
    ARRAY(uint16_t, scaled_v, mul(h, d), scaled_v);
    ARRAY(uint16_t, inv, h, inv);
    ARRAY(uint16_t, out, mul(h, d), out);
    ARRAY(uint32_t, stage_flags, HWSIM_SOFTMAX_STAGES, stage_flags);
    return hwsim_softmax_v_mx((const hwsim_ctx *)ctx, heads, kv, head_dim, exp_format, v_format,
                              scale_rule, element_rounding, qk_t_p, v_scales_p, v_codes_p,
                              exp_bf16_p, exp_sum_p, exp_scales_p, exp_codes_p, scaled_v_p,
                              inv_p, out_p, stage_flags_p);
}

#ifdef __cplusplus
}
#endif
