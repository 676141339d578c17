/*
 * case_io.h -- reading and writing the canonical hex dumps of a softmax_v case folder
 * (docs/dump-format.md) for the C examples. Header-only: every function is static inline.
 */
#ifndef CASE_IO_H
#define CASE_IO_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void die(const char *what, const char *detail) {
    fprintf(stderr, "%s: %s\n", what, detail);
    exit(1);
}

static inline void *alloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (p == NULL) die("out of memory", strerror(errno));
    return p;
}

/* The whole file; each line must be exactly `digits` hex digits then '\n'. Returns the line
 * count. */
static inline size_t read_lines(const char *path, size_t digits, char **text) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) die(path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    *text = (char *)alloc((size_t)size + 1, 1);
    if (fread(*text, 1, (size_t)size, f) != (size_t)size) die(path, "short read");
    fclose(f);
    if (size % (long)(digits + 1) != 0) die(path, "not a canonical dump of this word width");
    return (size_t)size / (digits + 1);
}

static inline unsigned hex_digit(char c, const char *path) {
    if (c >= '0' && c <= '9') return (unsigned)(c - '0');
    if (c >= 'a' && c <= 'f') return (unsigned)(c - 'a' + 10);
    die(path, "not a lowercase hex digit");
    return 0;
}

static inline unsigned hex_byte(const char *s, const char *path) {
    return hex_digit(s[0], path) << 4 | hex_digit(s[1], path);
}

/* The inputs of a case: qk_T [heads, kv] and v as a block grid [heads, ceil(kv/32), head_dim]. */
struct case_inputs {
    size_t heads, kv, head_dim, v_blocks;
    uint16_t *qk;
    uint8_t *v_scales;
    int8_t *v_elems;
};

static inline struct case_inputs read_inputs(const char *case_dir, size_t heads, size_t head_dim) {
    struct case_inputs in = {heads, 0, head_dim, 0, NULL, NULL, NULL};
    char path[4096], *text;
    snprintf(path, sizeof path, "%s/softmaxed_v.qk_T", case_dir);
    size_t rows = read_lines(path, 4, &text);
    if (heads == 0 || rows % heads != 0) die(path, "line count is not a multiple of the heads");
    in.kv = rows / heads;
    in.qk = (uint16_t *)alloc(rows, sizeof *in.qk);
    for (size_t i = 0; i < rows; i++) {
        const char *w = text + 5 * i;
        in.qk[i] = (uint16_t)(hex_byte(w, path) << 8 | hex_byte(w + 2, path));
    }
    free(text);

    snprintf(path, sizeof path, "%s/softmaxed_v.v", case_dir);
    in.v_blocks = read_lines(path, 66, &text);
    if (in.v_blocks != heads * ((in.kv + 31) / 32) * head_dim)
        die(path, "line count is not heads x ceil(kv/32) x head_dim");
    in.v_scales = (uint8_t *)alloc(in.v_blocks, 1);
    in.v_elems = (int8_t *)alloc(in.v_blocks, 32);
    for (size_t g = 0; g < in.v_blocks; g++) {
        /* One 264-bit word: the scale, then element 31 down to element 0. */
        const char *w = text + 67 * g;
        in.v_scales[g] = (uint8_t)hex_byte(w, path);
        for (size_t i = 0; i < 32; i++)
            in.v_elems[32 * g + i] = (int8_t)hex_byte(w + 2 + 2 * (31 - i), path);
    }
    free(text);
    return in;
}

static inline FILE *create(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL) die(path, strerror(errno));
    return f;
}

static inline void write_bf16(const char *dir, const char *name, const uint16_t *x, size_t n) {
    FILE *f = create(dir, name);
    for (size_t i = 0; i < n; i++) fprintf(f, "%04x\n", x[i]);
    fclose(f);
}

static inline void write_mxint8(const char *dir, const char *name, const uint8_t *scales,
                         const int8_t *elems, size_t blocks) {
    FILE *f = create(dir, name);
    for (size_t g = 0; g < blocks; g++) {
        fprintf(f, "%02x", scales[g]);
        for (int i = 31; i >= 0; i--) fprintf(f, "%02x", (uint8_t)elems[32 * g + (size_t)i]);
        fputc('\n', f);
    }
    fclose(f);
}

#endif
