/*
 * softmax_case.c -- a worked example of libhwsim from C: recompute a `sim run` case folder.
 *
 *   softmax_case PROFILE_OR_CONFIG CASE_DIR OUT_DIR [HEADS HEAD_DIM ELEMENT_ROUNDING]
 *
 * Reads the inputs softmaxed_v.qk_T and softmaxed_v.v of CASE_DIR (docs/dump-format.md),
 * calls hwsim_softmax_v_ex with the context of PROFILE_OR_CONFIG, and writes all eight dumps
 * into OUT_DIR in the canonical hex form (the inputs re-encoded from what was parsed), so
 * `cmp` against the case folder shows whether a C caller gets `sim run`'s files bit for bit.
 * HEADS and HEAD_DIM default to 32 and 128, ELEMENT_ROUNDING to nearest-away (or nearest-even).
 * Prints one line with the flags of each stage. Exit status 0 on success, 1 on any error.
 */
#include "case_io.h"
#include "hwsim.h"

int main(int argc, char **argv) {
    if (argc != 4 && argc != 7) {
        fprintf(stderr, "usage: softmax_case PROFILE_OR_CONFIG CASE_DIR OUT_DIR "
                        "[HEADS HEAD_DIM ELEMENT_ROUNDING]\n");
        return 2;
    }
    const char *out_dir = argv[3];
    size_t heads = argc == 7 ? strtoul(argv[4], NULL, 10) : 32;
    size_t head_dim = argc == 7 ? strtoul(argv[5], NULL, 10) : 128;
    uint32_t rounding = HWSIM_ROUND_NEAREST_AWAY;
    if (argc == 7 && strcmp(argv[6], "nearest-even") == 0) rounding = HWSIM_ROUND_NEAREST_EVEN;
    else if (argc == 7 && strcmp(argv[6], "nearest-away") != 0) die("ELEMENT_ROUNDING", argv[6]);
    struct case_inputs in = read_inputs(argv[2], heads, head_dim);
    size_t rows = heads * in.kv, exp_blocks = heads * ((in.kv + 31) / 32);

    hwsim_ctx *ctx = hwsim_open(argv[1]);
    if (ctx == NULL) die("hwsim_open", hwsim_last_error());
    uint16_t *exp_bf16 = alloc(rows, 2), *exp_sum = alloc(heads, 2), *inv = alloc(heads, 2);
    uint16_t *scaled_v = alloc(heads * head_dim, 2), *out = alloc(heads * head_dim, 2);
    uint8_t *exp_scales = alloc(exp_blocks, 1);
    int8_t *exp_elems = alloc(exp_blocks, 32);
    uint32_t flags[HWSIM_SOFTMAX_STAGES];
    int rc = hwsim_softmax_v_ex(ctx, heads, in.kv, head_dim, rounding, in.qk, in.v_scales,
                                in.v_elems, exp_bf16, exp_sum, exp_scales, exp_elems, scaled_v,
                                inv, out, flags);
    if (rc != HWSIM_OK) die("hwsim_softmax_v_ex", hwsim_last_error());

    write_bf16(out_dir, "softmaxed_v.qk_T", in.qk, rows);
    write_bf16(out_dir, "softmaxed_v.exp-bf16", exp_bf16, rows);
    write_bf16(out_dir, "softmaxed_v.exp_sum", exp_sum, heads);
    write_mxint8(out_dir, "softmaxed_v.v", in.v_scales, in.v_elems, in.v_blocks);
    write_mxint8(out_dir, "softmaxed_v.exp_mxint8", exp_scales, exp_elems, exp_blocks);
    write_bf16(out_dir, "softmaxed_v.scaled_v", scaled_v, heads * head_dim);
    write_bf16(out_dir, "softmaxed_v.inv", inv, heads);
    write_bf16(out_dir, "softmaxed_v.out", out, heads * head_dim);
    printf("stage_flags exp-bf16=%u exp_sum=%u exp_mxint8=%u scaled_v=%u inv=%u out=%u\n",
           flags[HWSIM_STAGE_EXP], flags[HWSIM_STAGE_EXP_SUM], flags[HWSIM_STAGE_EXP_MXINT8],
           flags[HWSIM_STAGE_SCALED_V], flags[HWSIM_STAGE_INV], flags[HWSIM_STAGE_OUT]);
    hwsim_close(ctx);
    return 0;
}
