/*
 * hwsim_dpi.c -- the open-array wrappers of sv/hwsim_pkg.sv: DPI-C passes an open array
 * (`x[]`) as an svOpenArrayHandle, so these turn each handle into the C pointer libhwsim takes,
 * after checking the array holds at least the elements the sizes call for. Compile it with the
 * testbench (it needs the simulator's svdpi.h and include/hwsim.h); valid C and C++.
 */
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

/* This file's own last error, for a check that failed before libhwsim was called. */
static THREAD_LOCAL char sv_error[256];
static THREAD_LOCAL int sv_error_is_ours;

const char *hwsim_sv_last_error(void) {
    return sv_error_is_ours ? sv_error : hwsim_last_error();
}

/* The data of a one-dimensional open array of at least `need` elements of `elem` bytes, or
 * NULL with sv_error set. */
static void *array(const svOpenArrayHandle h, size_t need, size_t elem, const char *func,
                   const char *name) {
    void *p = svGetArrayPtr(h);
    int dims = svDimensions(h);
    size_t have = dims == 1 ? (size_t)svSize(h, 1) : 0;
    if (dims != 1 || p == NULL || have < need || (size_t)svSizeOfArray(h) != have * elem) {
        snprintf(sv_error, sizeof sv_error,
                 "%s: %s must be a one-dimensional array of at least %zu elements of %zu bytes "
                 "(has %d dimensions, %zu elements)",
                 func, name, need, elem, dims, have);
        sv_error_is_ours = 1;
        return NULL;
    }
    return p;
}

/* a * b, or SIZE_MAX when it overflows size_t (libhwsim then reports the sizes). */
static size_t mul(size_t a, size_t b) {
    return (b != 0 && a > SIZE_MAX / b) ? SIZE_MAX : a * b;
}

#define ARRAY(type, h, need, name)                                                  \
    type *name##_p = (type *)array(h, need, sizeof(type), FUNC, #name);             \
    if (name##_p == NULL) return FAILED

#undef FUNC
#define FUNC "hwsim_sv_sum_bf16"
#define FAILED (*flags = HWSIM_FLAG_ERROR, (uint16_t)0x7fc0)
uint16_t hwsim_sv_sum_bf16(void *ctx, const svOpenArrayHandle x, uint32_t *flags) {
    sv_error_is_ours = 0;
    size_t n = svDimensions(x) == 1 ? (size_t)svSize(x, 1) : 0;
    if (n == 0) return hwsim_sum_bf16((const hwsim_ctx *)ctx, NULL, 0, flags);
    ARRAY(const uint16_t, x, n, x);
    return hwsim_sum_bf16((const hwsim_ctx *)ctx, x_p, n, flags);
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
        sv_error_is_ours = 0;                                                                 \
        size_t kb = (size_t)((k + 31) / 32);                                                  \
        ARRAY(const uint8_t, input_scales, mul(m, kb), input_scales);                        \
        ARRAY(const int8_t, input_elems, mul(mul(m, kb), 32), input_elems);                  \
        ARRAY(const uint8_t, other_scales, mul(kb, n), other_scales);                        \
        ARRAY(const int8_t, other_elems, mul(mul(kb, n), 32), other_elems);                  \
        ARRAY(out_type, out, mul(m, n), out);                                                 \
        ARRAY(uint32_t, flags, mul(m, n), flags);                                             \
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

#undef FUNC
#define FUNC "hwsim_sv_softmax_v"
int hwsim_sv_softmax_v(void *ctx, uint64_t heads, uint64_t kv, uint64_t head_dim,
                       uint32_t element_rounding, const svOpenArrayHandle qk_t,
                       const svOpenArrayHandle v_scales, const svOpenArrayHandle v_elems,
                       const svOpenArrayHandle exp_bf16, const svOpenArrayHandle exp_sum,
                       const svOpenArrayHandle exp_scales, const svOpenArrayHandle exp_elems,
                       const svOpenArrayHandle scaled_v, const svOpenArrayHandle inv,
                       const svOpenArrayHandle out, const svOpenArrayHandle stage_flags) {
    sv_error_is_ours = 0;
    size_t nb = (size_t)((kv + 31) / 32);
    size_t v_blocks = mul(mul(heads, nb), head_dim);
    ARRAY(const uint16_t, qk_t, mul(heads, kv), qk_t);
    ARRAY(const uint8_t, v_scales, v_blocks, v_scales);
    ARRAY(const int8_t, v_elems, mul(v_blocks, 32), v_elems);
    ARRAY(uint16_t, exp_bf16, mul(heads, kv), exp_bf16);
    ARRAY(uint16_t, exp_sum, heads, exp_sum);
    ARRAY(uint8_t, exp_scales, mul(heads, nb), exp_scales);
    ARRAY(int8_t, exp_elems, mul(mul(heads, nb), 32), exp_elems);
    ARRAY(uint16_t, scaled_v, mul(heads, head_dim), scaled_v);
    ARRAY(uint16_t, inv, heads, inv);
    ARRAY(uint16_t, out, mul(heads, head_dim), out);
    ARRAY(uint32_t, stage_flags, HWSIM_SOFTMAX_STAGES, stage_flags);
    return hwsim_softmax_v_ex((const hwsim_ctx *)ctx, heads, kv, head_dim, element_rounding,
                              qk_t_p, v_scales_p, v_elems_p, exp_bf16_p, exp_sum_p,
                              exp_scales_p, exp_elems_p, scaled_v_p, inv_p, out_p,
                              stage_flags_p);
}

#ifdef __cplusplus
}
#endif
