/*
 * test_mx.c -- the MX formats of libhwsim from C (`make capi-test`, run by test.sh):
 *
 *   test_mx quantize FORMAT RULE ROUNDING CASE OUT
 *       hwsim_quantize_mx on CASE/quantize.input (a `sim op quantize` folder); writes the
 *       blocks to OUT in the dump format (docs/dump-format.md: the scale byte, then the 32 codes
 *       packed `width` bits each from the least significant end) and prints the flag counts.
 *   test_mx gemm FORMAT_A FORMAT_B M K N ROUNDING OUT_DTYPE CASE OUT
 *       hwsim_gemm_mx_bf16 (OUT_DTYPE bf16) or _fp32 on CASE/gemm.input and CASE/gemm.other (a
 *       `sim op gemm --mx-format A,B` folder); writes the output dump to OUT, prints the flags.
 *   test_mx softmax PROFILE EXP_FORMAT V_FORMAT RULE ROUNDING HEADS HEAD_DIM CASE OUT_DIR
 *       hwsim_softmax_v_mx with the context of PROFILE (a profile or a JSON config) on
 *       CASE/softmaxed_v.qk_T and CASE/softmaxed_v.v (a `sim run --exp-format F --v-format G
 *       --scale-rule R` folder, v in V_FORMAT); writes the eight dumps into OUT_DIR (the inputs
 *       re-encoded from what was parsed, exp's quantization as softmaxed_v.exp_<EXP_FORMAT>)
 *       and prints the stage flags as examples/c/softmax_case.c does.
 *   test_mx errors
 *       values worked out by hand, and bad arguments: unknown format, rule and rounding codes,
 *       codes wider than their format, nonzero padding, NULL arrays, zero sizes, a narrow
 *       context with non-MXINT8 operands (products and softmax_v); each refused with a message
 *       naming the function, outputs untouched.
 *
 * test.sh compares OUT with sim's file byte for byte and the printed flag counts with
 * manifest.json. FORMAT is a name of `sim op --mx-format` (mxint8, mxfp8-e4m3, ...), RULE one of
 * floor, ceil, even, rceil, ROUNDING a rounding name or `default`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hwsim.h"

static const struct {
    const char *name;
    uint32_t code;
    unsigned width;
} FORMATS[] = {
    {"mxint8", HWSIM_MX_MXINT8, 8},         {"mxfp8-e4m3", HWSIM_MX_MXFP8_E4M3, 8},
    {"mxfp8-e5m2", HWSIM_MX_MXFP8_E5M2, 8}, {"mxfp6-e3m2", HWSIM_MX_MXFP6_E3M2, 6},
    {"mxfp6-e2m3", HWSIM_MX_MXFP6_E2M3, 6}, {"mxfp4-e2m1", HWSIM_MX_MXFP4_E2M1, 4},
};
static const char *RULES[] = {"floor", "ceil", "even", "rceil"};
static const char *ROUNDINGS[] = {"nearest-even", "nearest-away", "toward-zero", "toward-pos",
                                  "toward-neg"};

static void die(const char *what) {
    fprintf(stderr, "test_mx: %s\n", what);
    exit(2);
}

static size_t format_index(const char *name) {
    for (size_t i = 0; i < sizeof FORMATS / sizeof FORMATS[0]; i++)
        if (strcmp(FORMATS[i].name, name) == 0) return i;
    die("unknown format name");
    return 0;
}

static uint32_t name_code(const char *name, const char *const *names, size_t count) {
    for (size_t i = 0; i < count; i++)
        if (strcmp(names[i], name) == 0) return (uint32_t)i;
    die("unknown rule or rounding name");
    return 0;
}

/* The lines of a hex dump: `*count` words of `digits` hex digits, as bytes (big-endian). */
static uint8_t *read_hex(const char *path, size_t digits, size_t *count) {
    FILE *f = fopen(path, "r");
    if (f == NULL) die(path);
    size_t cap = 64, n = 0, bytes = digits / 2;
    uint8_t *out = malloc(cap * bytes);
    char line[256];
    while (out != NULL && fgets(line, sizeof line, f) != NULL) {
        size_t len = strcspn(line, "\r\n");
        if (len != digits) die("a dump line of the wrong width");
        if (n == cap) {
            cap *= 2;
            out = realloc(out, cap * bytes);
            if (out == NULL) die("out of memory");
        }
        for (size_t i = 0; i < bytes; i++) {
            unsigned v;
            if (sscanf(line + 2 * i, "%2x", &v) != 1) die("not hex");
            out[n * bytes + i] = (uint8_t)v;
        }
        n++;
    }
    fclose(f);
    if (out == NULL) die("out of memory");
    *count = n;
    return out;
}

/* A block's line: scale byte, then the field of 32 * width bits, element i at bits
 * [width * i, width * i + width) from the least significant end. */
static void pack(uint8_t scale, const uint8_t *codes, unsigned width, uint8_t *line) {
    size_t field = 4 * width;
    memset(line, 0, 1 + field);
    line[0] = scale;
    for (unsigned i = 0; i < 32; i++)
        for (unsigned b = 0; b < width; b++)
            if (codes[i] >> b & 1) {
                unsigned pos = width * i + b;
                line[field - pos / 8] |= (uint8_t)(1u << (pos % 8));
            }
}

static void unpack(const uint8_t *line, unsigned width, uint8_t *scale, uint8_t *codes) {
    size_t field = 4 * width;
    *scale = line[0];
    for (unsigned i = 0; i < 32; i++) {
        codes[i] = 0;
        for (unsigned b = 0; b < width; b++) {
            unsigned pos = width * i + b;
            codes[i] |= (uint8_t)((line[field - pos / 8] >> (pos % 8) & 1) << b);
        }
    }
}

/* An MX grid read from a dump of `width`-bit codes. */
static void read_grid(const char *path, unsigned width, size_t blocks, uint8_t **scales,
                      uint8_t **codes) {
    size_t n;
    uint8_t *lines = read_hex(path, 2 + 8 * width, &n);
    if (n != blocks) die("a dump with the wrong number of blocks");
    *scales = malloc(blocks);
    *codes = malloc(blocks * 32);
    if (*scales == NULL || *codes == NULL) die("out of memory");
    for (size_t g = 0; g < blocks; g++)
        unpack(lines + g * (1 + 4 * width), width, *scales + g, *codes + 32 * g);
    free(lines);
}

static void print_flags(const uint32_t *flags, size_t n) {
    static const char *names[] = {"inexact", "underflow", "overflow", "div_by_zero", "invalid"};
    printf("flags");
    for (unsigned b = 0; b < 5; b++) {
        size_t count = 0;
        for (size_t i = 0; i < n; i++) count += flags[i] >> b & 1;
        printf(" %s=%zu", names[b], count);
    }
    printf("\n");
}

static int quantize(char **argv) {
    size_t fi = format_index(argv[0]);
    uint32_t rule = name_code(argv[1], RULES, 4);
    uint32_t rounding = strcmp(argv[2], "default") == 0 ? HWSIM_ROUND_FORMAT_DEFAULT
                                                        : name_code(argv[2], ROUNDINGS, 5);
    char path[4096];
    snprintf(path, sizeof path, "%s/quantize.input", argv[3]);
    size_t n;
    uint8_t *words = read_hex(path, 4, &n);
    uint16_t *x = malloc(n * sizeof *x);
    size_t nb = (n + 31) / 32;
    uint8_t *scales = malloc(nb), *codes = malloc(nb * 32);
    uint32_t *flags = malloc(nb * sizeof *flags);
    if (x == NULL || scales == NULL || codes == NULL || flags == NULL) die("out of memory");
    for (size_t i = 0; i < n; i++) x[i] = (uint16_t)(words[2 * i] << 8 | words[2 * i + 1]);
    hwsim_ctx *ctx = hwsim_open("reference");
    if (ctx == NULL) die(hwsim_last_error());
    if (hwsim_quantize_mx(ctx, FORMATS[fi].code, rule, rounding, x, n, scales, codes, flags) !=
        HWSIM_OK) {
        fprintf(stderr, "hwsim_quantize_mx failed: %s\n", hwsim_last_error());
        return 1;
    }
    FILE *out = fopen(argv[4], "w");
    if (out == NULL) die(argv[4]);
    unsigned w = FORMATS[fi].width;
    uint8_t line[33];
    for (size_t g = 0; g < nb; g++) {
        pack(scales[g], codes + 32 * g, w, line);
        for (size_t i = 0; i < 1 + 4 * (size_t)w; i++) fprintf(out, "%02x", line[i]);
        fputc('\n', out);
    }
    fclose(out);
    print_flags(flags, nb);
    hwsim_close(ctx);
    free(words), free(x), free(scales), free(codes), free(flags);
    return 0;
}

static int gemm(char **argv) {
    size_t fa = format_index(argv[0]), fb = format_index(argv[1]);
    size_t m = strtoull(argv[2], NULL, 10), k = strtoull(argv[3], NULL, 10),
           n = strtoull(argv[4], NULL, 10), kb = (k + 31) / 32;
    uint32_t rounding = name_code(argv[5], ROUNDINGS, 5);
    int fp32 = strcmp(argv[6], "fp32") == 0;
    char path[4096];
    uint8_t *sa, *ca, *sb, *cb;
    snprintf(path, sizeof path, "%s/gemm.input", argv[7]);
    read_grid(path, FORMATS[fa].width, m * kb, &sa, &ca);
    snprintf(path, sizeof path, "%s/gemm.other", argv[7]);
    read_grid(path, FORMATS[fb].width, kb * n, &sb, &cb);
    uint32_t *out = malloc(m * n * sizeof *out), *flags = malloc(m * n * sizeof *flags);
    uint16_t *out16 = malloc(m * n * sizeof *out16);
    if (out == NULL || flags == NULL || out16 == NULL) die("out of memory");
    hwsim_ctx *ctx = hwsim_open("reference");
    if (ctx == NULL) die(hwsim_last_error());
    int rc = fp32 ? hwsim_gemm_mx_fp32(ctx, m, k, n, FORMATS[fa].code, FORMATS[fb].code, sa, ca,
                                       sb, cb, rounding, out, flags)
                  : hwsim_gemm_mx_bf16(ctx, m, k, n, FORMATS[fa].code, FORMATS[fb].code, sa, ca,
                                       sb, cb, rounding, out16, flags);
    if (rc != HWSIM_OK) {
        fprintf(stderr, "hwsim_gemm_mx failed: %s\n", hwsim_last_error());
        return 1;
    }
    FILE *f = fopen(argv[8], "w");
    if (f == NULL) die(argv[8]);
    for (size_t i = 0; i < m * n; i++) {
        if (fp32)
            fprintf(f, "%08x\n", (unsigned)out[i]);
        else
            fprintf(f, "%04x\n", (unsigned)out16[i]);
    }
    fclose(f);
    print_flags(flags, m * n);
    hwsim_close(ctx);
    free(sa), free(ca), free(sb), free(cb), free(out), free(out16), free(flags);
    return 0;
}

/* A BF16 dump: one 4-digit word a line. */
static void write_bf16(const char *dir, const char *name, const uint16_t *x, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL) die(path);
    for (size_t i = 0; i < n; i++) fprintf(f, "%04x\n", (unsigned)x[i]);
    fclose(f);
}

/* An MX dump of `blocks` blocks of `width`-bit codes, one block a line. */
static void write_grid(const char *dir, const char *name, const uint8_t *scales,
                       const uint8_t *codes, size_t blocks, unsigned width) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL) die(path);
    uint8_t line[33];
    for (size_t g = 0; g < blocks; g++) {
        pack(scales[g], codes + 32 * g, width, line);
        for (size_t i = 0; i < 1 + 4 * (size_t)width; i++) fprintf(f, "%02x", line[i]);
        fputc('\n', f);
    }
    fclose(f);
}

static void *must(void *p) {
    if (p == NULL) die("out of memory");
    return p;
}

static int softmax(char **argv) {
    const char *profile = argv[0], *case_dir = argv[7], *out_dir = argv[8];
    size_t fe = format_index(argv[1]), fv = format_index(argv[2]);
    uint32_t rule = name_code(argv[3], RULES, 4);
    uint32_t rounding = strcmp(argv[4], "default") == 0 ? HWSIM_ROUND_FORMAT_DEFAULT
                                                        : name_code(argv[4], ROUNDINGS, 5);
    size_t heads = strtoull(argv[5], NULL, 10), head_dim = strtoull(argv[6], NULL, 10);
    char path[4096];
    snprintf(path, sizeof path, "%s/softmaxed_v.qk_T", case_dir);
    size_t rows;
    uint8_t *words = read_hex(path, 4, &rows);
    if (heads == 0 || head_dim == 0 || rows % heads != 0) die("qk_T does not fit HEADS");
    size_t kv = rows / heads, nb = (kv + 31) / 32, v_blocks = heads * nb * head_dim;
    uint16_t *qk = must(malloc(rows * sizeof *qk));
    for (size_t i = 0; i < rows; i++) qk[i] = (uint16_t)(words[2 * i] << 8 | words[2 * i + 1]);
    uint8_t *vs, *vc;
    snprintf(path, sizeof path, "%s/softmaxed_v.v", case_dir);
    read_grid(path, FORMATS[fv].width, v_blocks, &vs, &vc);

    hwsim_ctx *ctx = hwsim_open(profile);
    if (ctx == NULL) die(hwsim_last_error());
    uint16_t *exp_bf16 = must(malloc(rows * 2)), *exp_sum = must(malloc(heads * 2)),
             *inv = must(malloc(heads * 2)), *scaled_v = must(malloc(heads * head_dim * 2)),
             *out = must(malloc(heads * head_dim * 2));
    uint8_t *es = must(malloc(heads * nb)), *ec = must(malloc(heads * nb * 32));
    uint32_t flags[HWSIM_SOFTMAX_STAGES];
    if (hwsim_softmax_v_mx(ctx, heads, kv, head_dim, FORMATS[fe].code, FORMATS[fv].code, rule,
                           rounding, qk, vs, vc, exp_bf16, exp_sum, es, ec, scaled_v, inv, out,
                           flags) != HWSIM_OK) {
        fprintf(stderr, "hwsim_softmax_v_mx failed: %s\n", hwsim_last_error());
        return 1;
    }
    char exp_name[64];
    snprintf(exp_name, sizeof exp_name, "softmaxed_v.exp_%s", FORMATS[fe].name);
    write_bf16(out_dir, "softmaxed_v.qk_T", qk, rows);
    write_bf16(out_dir, "softmaxed_v.exp-bf16", exp_bf16, rows);
    write_bf16(out_dir, "softmaxed_v.exp_sum", exp_sum, heads);
    write_grid(out_dir, "softmaxed_v.v", vs, vc, v_blocks, FORMATS[fv].width);
    write_grid(out_dir, exp_name, es, ec, heads * nb, FORMATS[fe].width);
    write_bf16(out_dir, "softmaxed_v.scaled_v", scaled_v, heads * head_dim);
    write_bf16(out_dir, "softmaxed_v.inv", inv, heads);
    write_bf16(out_dir, "softmaxed_v.out", out, heads * head_dim);
    printf("stage_flags exp-bf16=%u exp_sum=%u exp_%s=%u scaled_v=%u inv=%u out=%u\n",
           flags[HWSIM_STAGE_EXP], flags[HWSIM_STAGE_EXP_SUM], FORMATS[fe].name,
           flags[HWSIM_STAGE_EXP_MX], flags[HWSIM_STAGE_SCALED_V], flags[HWSIM_STAGE_INV],
           flags[HWSIM_STAGE_OUT]);
    hwsim_close(ctx);
    free(words), free(qk), free(vs), free(vc), free(exp_bf16), free(exp_sum), free(inv);
    free(scaled_v), free(out), free(es), free(ec);
    return 0;
}

static int passed, failed;

static void check(int ok, const char *what) {
    if (ok) {
        passed++;
        printf("  ok    %s\n", what);
    } else {
        failed++;
        printf("  FAIL  %s (hwsim_last_error: %s)\n", what, hwsim_last_error());
    }
}

/* The call failed with HWSIM_ERR_INVALID_ARGUMENT and a message starting with `prefix`. */
static int refused(int rc, const char *prefix) {
    return rc == HWSIM_ERR_INVALID_ARGUMENT &&
           strncmp(hwsim_last_error(), prefix, strlen(prefix)) == 0;
}

static int errors(void) {
    hwsim_ctx *ctx = hwsim_open("reference");
    if (ctx == NULL) die(hwsim_last_error());

    /* By hand: [1.0, -2.5, 0.75, 3.0, 6.0] to MXFP4 E2M1 (0, 0.5, 1, 1.5, 2, 3, 4, 6 are codes
     * 0..7, 8 the sign) by floor. amax 6.0: E = floor(log2 6) - emax = 2 - 2 = 0 (scale 0x7f).
     * 1.0 is 0x2; -2.5 is a tie between -2 and -3: to even -2 (0xc), away -3 (0xd); 0.75 is a
     * tie between 0.5 (0x1) and 1.0 (0x2), both to 1.0 (even significand, and away); 3.0 is 0x5;
     * 6.0 is 0x7. */
    const uint16_t x[5] = {0x3f80, 0xc020, 0x3f40, 0x4040, 0x40c0};
    uint8_t scale[2] = {0x55, 0x55}, codes[64], expect[32] = {0x2, 0xc, 0x2, 0x5, 0x7};
    uint32_t flags[2] = {0, 0};
    memset(codes, 0x55, sizeof codes);
    check(hwsim_quantize_mx(ctx, HWSIM_MX_MXFP4_E2M1, HWSIM_SCALE_FLOOR,
                            HWSIM_ROUND_FORMAT_DEFAULT, x, 5, scale, codes, flags) == HWSIM_OK &&
              scale[0] == 0x7f && memcmp(codes, expect, 32) == 0 &&
              flags[0] == (HWSIM_FLAG_INEXACT | HWSIM_FLAG_UNDERFLOW) && codes[32] == 0x55 &&
              scale[1] == 0x55,
          "E2M1 by floor, nearest-even by default: 7f 2 c 2 5 7, inexact and underflow (0.75 is "
          "below the smallest normal, 1.0), nothing past block 0");
    expect[1] = 0xd;
    check(hwsim_quantize_mx(ctx, HWSIM_MX_MXFP4_E2M1, HWSIM_SCALE_FLOOR,
                            HWSIM_ROUND_NEAREST_AWAY, x, 5, scale, codes, NULL) == HWSIM_OK &&
              memcmp(codes, expect, 32) == 0,
          "E2M1 nearest-away: -2.5 to -3.0 (0xd); flags may be NULL");
    /* rceil: the smallest E with 6.0 <= 6 * 2^E is 0 too; ceil: ceil(log2 6) - 2 = 1. */
    check(hwsim_quantize_mx(ctx, HWSIM_MX_MXFP4_E2M1, HWSIM_SCALE_CEIL,
                            HWSIM_ROUND_FORMAT_DEFAULT, x, 5, scale, codes, flags) == HWSIM_OK &&
              scale[0] == 0x80 && codes[4] == 0x5,
          "E2M1 by ceil: scale 2^1, 6.0 becomes 3.0 (0x5)");
    const uint16_t inf[2] = {0x3f80, 0x7f80};
    check(hwsim_quantize_mx(ctx, HWSIM_MX_MXFP8_E4M3, HWSIM_SCALE_RCEIL,
                            HWSIM_ROUND_FORMAT_DEFAULT, inf, 2, scale, codes, flags) ==
                  HWSIM_OK &&
              scale[0] == 0xff && codes[0] == 0 && codes[1] == 0 && flags[0] == HWSIM_FLAG_INVALID,
          "a block holding inf: scale 0xff, codes 0, invalid");
    /* 40 elements: two blocks, the second 8 values and 24 padding codes. */
    uint16_t ones[40];
    for (int i = 0; i < 40; i++) ones[i] = 0x3f80;
    check(hwsim_quantize_mx(ctx, HWSIM_MX_MXINT8, HWSIM_SCALE_FLOOR, HWSIM_ROUND_FORMAT_DEFAULT,
                            ones, 40, scale, codes, flags) == HWSIM_OK &&
              scale[0] == 0x7f && scale[1] == 0x7f && codes[0] == 64 && codes[39] == 64 &&
              codes[40] == 0 && codes[63] == 0,
          "mxint8 over 40 ones: two blocks of 1.0 = 64 * 2^-6, zero padding");

    /* gemm by hand, 1 x 40 x 2: 40 products of MXFP8 E4M3 1.0 (0x38) and MXFP6 E2M3 0.5
     * (0x04, scale 2^0) = 20.0 (BF16 0x41a0). */
    uint8_t sa[2] = {0x7f, 0x7f}, ca[64], sb[4] = {0x7f, 0x7f, 0x7f, 0x7f}, cb[128];
    memset(ca, 0x38, sizeof ca);
    memset(ca + 40, 0, 24);
    memset(cb, 0x04, sizeof cb);
    memset(cb + 64 + 8, 0, 24);
    memset(cb + 96 + 8, 0, 24);
    uint16_t out[2] = {0xbeef, 0xbeef};
    uint32_t out_flags[2] = {7, 7};
    const uint32_t e4m3 = HWSIM_MX_MXFP8_E4M3, e2m3 = HWSIM_MX_MXFP6_E2M3;
    check(hwsim_gemm_mx_bf16(ctx, 1, 40, 2, e4m3, e2m3, sa, ca, sb, cb, HWSIM_ROUND_NEAREST_EVEN,
                             out, out_flags) == HWSIM_OK &&
              out[0] == 0x41a0 && out[1] == 0x41a0 && out_flags[0] == 0 && out_flags[1] == 0,
          "gemm E4M3 x E2M3: 40 x 1.0 x 0.5 = 20.0, exact");
    out[0] = out[1] = 0xbeef;
    out_flags[0] = out_flags[1] = 7;

    /* Refusals: nothing written, the message names the function and the argument. */
    check(refused(hwsim_quantize_mx(ctx, 6, 0, 0, x, 5, scale, codes, flags),
                  "hwsim_quantize_mx: format = 6 is not an MX format code"),
          "quantize: unknown format");
    check(refused(hwsim_quantize_mx(ctx, 1, 4, 0, x, 5, scale, codes, flags),
                  "hwsim_quantize_mx: scale_rule = 4 is not a scale-rule code"),
          "quantize: unknown scale rule");
    check(refused(hwsim_quantize_mx(ctx, 1, 0, HWSIM_ROUND_TOWARD_POS, x, 5, scale, codes, flags),
                  "hwsim_quantize_mx: element_rounding = 3"),
          "quantize: an element rounding other than nearest-even, nearest-away, default");
    check(refused(hwsim_quantize_mx(ctx, 1, 0, 0, x, 0, scale, codes, flags),
                  "hwsim_quantize_mx: n is 0"),
          "quantize: n = 0");
    check(refused(hwsim_quantize_mx(ctx, 1, 0, 0, NULL, 5, scale, codes, flags),
                  "hwsim_quantize_mx: x_bf16 is NULL"),
          "quantize: NULL input");
    check(refused(hwsim_quantize_mx(ctx, 1, 0, 0, x, 5, scale, NULL, flags),
                  "hwsim_quantize_mx: codes is NULL"),
          "quantize: NULL codes");
    check(refused(hwsim_quantize_mx(NULL, 1, 0, 0, x, 5, scale, codes, flags),
                  "hwsim_quantize_mx: ctx is NULL"),
          "quantize: NULL context");
    check(refused(hwsim_gemm_mx_bf16(ctx, 1, 40, 2, 9, e2m3, sa, ca, sb, cb, 0, out, out_flags),
                  "hwsim_gemm_mx_bf16: format_a = 9 is not an MX format code"),
          "gemm: unknown format");
    cb[5] = 0x40;
    check(refused(hwsim_gemm_mx_bf16(ctx, 1, 40, 2, e4m3, e2m3, sa, ca, sb, cb, 0, out,
                                     out_flags),
                  "hwsim_gemm_mx_bf16: other_codes[5] = 0x40 (block 0, element 5) is not a "
                  "mxfp6-e2m3 code"),
          "gemm: a code wider than its format (6 bits)");
    check(hwsim_gemm_mx_bf16(ctx, 1, 40, 2, e4m3, e4m3, sa, ca, sb, cb, 0, out, out_flags) ==
              HWSIM_OK,
          "gemm: the same byte is an E4M3 code");
    out[0] = out[1] = 0xbeef;
    out_flags[0] = out_flags[1] = 7;
    cb[5] = 0x04;
    ca[45] = 0x01;
    check(refused(hwsim_gemm_mx_bf16(ctx, 1, 40, 2, e4m3, e2m3, sa, ca, sb, cb, 0, out,
                                     out_flags),
                  "hwsim_gemm_mx_bf16: input_codes: block 1 has a nonzero padding element 13"),
          "gemm: nonzero padding");
    ca[45] = 0;
    check(refused(hwsim_gemm_mx_bf16(ctx, 1, 0, 2, e4m3, e2m3, sa, ca, sb, cb, 0, out, out_flags),
                  "hwsim_gemm_mx_bf16: k is 0"),
          "gemm: k = 0");
    check(refused(hwsim_gemm_mx_bf16(ctx, 1, 40, 2, e4m3, e2m3, sa, ca, NULL, cb, 0, out,
                                     out_flags),
                  "hwsim_gemm_mx_bf16: other_scales is NULL"),
          "gemm: NULL operand");
    check(refused(hwsim_gemm_mx_bf16(ctx, 1, 40, 2, e4m3, e2m3, sa, ca, sb, cb, 5, out,
                                     out_flags),
                  "hwsim_gemm_mx_bf16: rounding = 5"),
          "gemm: unknown rounding");
    check(refused(hwsim_gemm_mx_bf16(ctx, SIZE_MAX / 2, 40, 4, e4m3, e2m3, sa, ca, sb, cb, 0,
                                     out, out_flags),
                  "hwsim_gemm_mx_bf16: "),
          "gemm: sizes past size_t");
    /* softmax_v_mx by hand: 1 head, kv 40, head_dim 1, every score 0. exp = 1.0 (0x3f80) each,
     * exp_sum = 40.0 (0x4220), inv = RNE(1/40) = 0x3ccd. exp to MXFP8 E4M3 by floor: amax 1.0,
     * E = 0 - 8 (scale 0x77), elements 2^8 (code 0x78), the second block's 24 padding codes 0.
     * v in MXFP4 E2M1: 1.0 (code 0x2, scale 0x7f) at kv 0 and 32, 0 elsewhere; so scaled_v =
     * 2.0 (0x4000) exactly and out = 2 x inv (0x3d4d). */
    const uint32_t e2m1 = HWSIM_MX_MXFP4_E2M1;
    uint16_t qk[40] = {0};
    uint8_t vs[2] = {0x7f, 0x7f}, vc[64] = {0}, es[2] = {0x55, 0x55}, ec[64];
    uint16_t ebf[40], esum = 0xbeef, sv = 0xbeef, inv = 0xbeef, o = 0xbeef;
    uint32_t sf[HWSIM_SOFTMAX_STAGES];
    vc[0] = 0x2;
    vc[32] = 0x2;
    memset(ec, 0x55, sizeof ec);
    check(hwsim_softmax_v_mx(ctx, 1, 40, 1, e4m3, e2m1, HWSIM_SCALE_FLOOR,
                             HWSIM_ROUND_FORMAT_DEFAULT, qk, vs, vc, ebf, &esum, es, ec, &sv,
                             &inv, &o, sf) == HWSIM_OK &&
              ebf[0] == 0x3f80 && ebf[39] == 0x3f80 && esum == 0x4220 && es[0] == 0x77 &&
              es[1] == 0x77 && ec[0] == 0x78 && ec[39] == 0x78 && ec[40] == 0 && ec[63] == 0 &&
              sv == 0x4000 && inv == 0x3ccd && o == 0x3d4d && sf[HWSIM_STAGE_EXP_MX] == 0 &&
              sf[HWSIM_STAGE_SCALED_V] == 0 && sf[HWSIM_STAGE_INV] == HWSIM_FLAG_INEXACT,
          "softmax_v_mx E4M3 exp x E2M1 v: exp codes 0x78 under 0x77, out = 2 x RNE(1/40)");
    /* The dataset's formats through _mx are hwsim_softmax_v_ex, its default rounding
     * nearest-away; vc as MXINT8 elements 2 = 2 * 2^-6 under scale 0x7f. */
    int8_t vi[64] = {0}, ei[64];
    uint8_t es2[2];
    uint16_t o2 = 0;
    vi[0] = vi[32] = 0x2;
    check(hwsim_softmax_v_mx(ctx, 1, 40, 1, HWSIM_MX_MXINT8, HWSIM_MX_MXINT8, HWSIM_SCALE_FLOOR,
                             HWSIM_ROUND_FORMAT_DEFAULT, qk, vs, vc, NULL, NULL, es, ec, NULL,
                             NULL, &o, NULL) == HWSIM_OK &&
              hwsim_softmax_v_ex(ctx, 1, 40, 1, HWSIM_ROUND_NEAREST_AWAY, qk, vs, vi, NULL, NULL,
                                 es2, ei, NULL, NULL, &o2, NULL) == HWSIM_OK &&
              o == o2 && es[0] == es2[0] && memcmp(ec, ei, 64) == 0,
          "softmax_v_mx with mxint8, mxint8, floor and the format default is softmax_v_ex");

    /* softmax_v_mx refusals: nothing written, the function and the argument named. */
    o = 0xbeef;
    es[0] = es[1] = 0x55;
    memset(ec, 0x55, sizeof ec);
#define SOFTMAX_MX(c, kv, fe, fv, rule, er, qk_, vc_)                                        \
    hwsim_softmax_v_mx(c, 1, kv, 1, fe, fv, rule, er, qk_, vs, vc_, NULL, NULL, es, ec, NULL, \
                       NULL, &o, NULL)
    const uint32_t dflt = HWSIM_ROUND_FORMAT_DEFAULT;
    check(refused(SOFTMAX_MX(ctx, 40, 6, e2m1, 0, dflt, qk, vc),
                  "hwsim_softmax_v_mx: exp_format = 6 is not an MX format code"),
          "softmax_v_mx: unknown exp_format");
    check(refused(SOFTMAX_MX(ctx, 40, e4m3, 9, 0, dflt, qk, vc),
                  "hwsim_softmax_v_mx: v_format = 9 is not an MX format code"),
          "softmax_v_mx: unknown v_format");
    check(refused(SOFTMAX_MX(ctx, 40, e4m3, e2m1, 4, dflt, qk, vc),
                  "hwsim_softmax_v_mx: scale_rule = 4 is not a scale-rule code"),
          "softmax_v_mx: unknown scale rule");
    check(refused(SOFTMAX_MX(ctx, 40, e4m3, e2m1, 0, HWSIM_ROUND_TOWARD_ZERO, qk, vc),
                  "hwsim_softmax_v_mx: element_rounding = 2"),
          "softmax_v_mx: an element rounding other than nearest-even, nearest-away, default");
    check(refused(SOFTMAX_MX(ctx, 0, e4m3, e2m1, 0, dflt, qk, vc),
                  "hwsim_softmax_v_mx: kv is 0"),
          "softmax_v_mx: kv = 0");
    check(refused(SOFTMAX_MX(ctx, 40, e4m3, e2m1, 0, dflt, NULL, vc),
                  "hwsim_softmax_v_mx: qk_t is NULL"),
          "softmax_v_mx: NULL qk_t");
    check(refused(SOFTMAX_MX(ctx, 40, e4m3, e2m1, 0, dflt, qk, NULL),
                  "hwsim_softmax_v_mx: v_codes is NULL"),
          "softmax_v_mx: NULL v_codes");
    check(refused(SOFTMAX_MX(NULL, 40, e4m3, e2m1, 0, dflt, qk, vc),
                  "hwsim_softmax_v_mx: ctx is NULL"),
          "softmax_v_mx: NULL context");
    vc[5] = 0x10;
    check(refused(SOFTMAX_MX(ctx, 40, e4m3, e2m1, 0, dflt, qk, vc),
                  "hwsim_softmax_v_mx: v_codes[5] = 0x10 (block 0, element 5) is not a "
                  "mxfp4-e2m1 code"),
          "softmax_v_mx: a v code wider than its format (4 bits)");
    vc[5] = 0;
    vc[50] = 0x1;
    check(refused(SOFTMAX_MX(ctx, 40, e4m3, e2m1, 0, dflt, qk, vc),
                  "hwsim_softmax_v_mx: v_codes: block 1 has a nonzero padding element 18"),
          "softmax_v_mx: nonzero padding in v");
    vc[50] = 0;
    check(refused(SOFTMAX_MX(ctx, SIZE_MAX, e4m3, e2m1, 0, dflt, qk, vc),
                  "hwsim_softmax_v_mx: "),
          "softmax_v_mx: kv past size_t");
    check(o == 0xbeef && es[0] == 0x55 && ec[0] == 0x55,
          "no refused softmax_v_mx call wrote an output");

    hwsim_ctx *narrow = hwsim_open("narrow");
    if (narrow == NULL) die(hwsim_last_error());
    check(refused(hwsim_gemm_mx_bf16(narrow, 1, 40, 2, e4m3, e2m3, sa, ca, sb, cb, 0, out,
                                     out_flags),
                  "hwsim_gemm_mx_bf16: format_a = mxfp8-e4m3, format_b = mxfp6-e2m3: products"),
          "gemm: a narrow context refuses non-MXINT8 operands (its MAC accumulator is not exact)");
    check(refused(SOFTMAX_MX(narrow, 40, e4m3, e2m1, 0, dflt, qk, vc),
                  "hwsim_softmax_v_mx: exp format mxfp8-e4m3 and v format mxfp4-e2m1 under "
                  "rule floor: "),
          "softmax_v_mx: a narrow context refuses formats other than the dataset's");
    check(refused(SOFTMAX_MX(narrow, 40, HWSIM_MX_MXINT8, HWSIM_MX_MXINT8, HWSIM_SCALE_CEIL,
                             dflt, qk, vc),
                  "hwsim_softmax_v_mx: exp format mxint8 and v format mxint8 under rule ceil"),
          "softmax_v_mx: ... and mxint8 under another scale rule");
    check(SOFTMAX_MX(narrow, 40, HWSIM_MX_MXINT8, HWSIM_MX_MXINT8, HWSIM_SCALE_FLOOR, dflt, qk,
                     vc) == HWSIM_OK,
          "softmax_v_mx: a narrow context runs the dataset's formats (its MAC array)");
#undef SOFTMAX_MX
    hwsim_close(narrow);
    check(out[0] == 0xbeef && out[1] == 0xbeef && out_flags[0] == 7 && out_flags[1] == 7,
          "no refused call wrote an output");

    hwsim_close(ctx);
    printf("test_mx errors: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc == 7 && strcmp(argv[1], "quantize") == 0) return quantize(argv + 2);
    if (argc == 11 && strcmp(argv[1], "gemm") == 0) return gemm(argv + 2);
    if (argc == 11 && strcmp(argv[1], "softmax") == 0) return softmax(argv + 2);
    if (argc == 2 && strcmp(argv[1], "errors") == 0) return errors();
    fprintf(stderr,
            "usage: test_mx quantize FORMAT RULE ROUNDING CASE OUT\n"
            "       test_mx gemm FORMAT_A FORMAT_B M K N ROUNDING OUT_DTYPE CASE OUT\n"
            "       test_mx softmax PROFILE EXP_FORMAT V_FORMAT RULE ROUNDING HEADS HEAD_DIM "
            "CASE OUT_DIR\n"
            "       test_mx errors\n");
    return 2;
}
