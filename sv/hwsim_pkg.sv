// hwsim_pkg: the golden model inside a SystemVerilog testbench, through DPI-C.
//
// Declarations of libhwsim's C functions (crates/hwsim-capi/include/hwsim.h) for `import`, with
// the C types' DPI equivalents: a context is a `chandle`, a BF16 or FP32 value its bit pattern
// (`shortint unsigned`, `int unsigned`), `size_t` a `longint unsigned` (LP64 platforms), flags an
// `int unsigned` (the HWSIM_FLAG_* bits below). A fixed 32-element block is a sized unpacked
// array, which DPI-C passes as a C pointer, so those functions are imported directly. Functions
// over arrays of any length take open arrays (`x[]`), which DPI-C passes as svOpenArrayHandle:
// they are the `hwsim_sv_*` wrappers of sv/hwsim_dpi.c, to be compiled with the testbench.
// Unpacked arrays are in C order: element 0 of the SV array is element 0 of the C array.
//
// Link: docs/dpi.md (Verilator, VCS, Xcelium, Questa).
package hwsim_pkg;

  // Return codes.
  localparam int HWSIM_OK = 0;
  localparam int HWSIM_ERR_INVALID_ARGUMENT = 1;
  localparam int HWSIM_ERR_INTERNAL = 2;
  localparam int HWSIM_ERR_NO_MEMORY = 3;  // the call's buffers could not be allocated

  // IEEE flag bits (hw_types::Status::bits()), and the error bit of the value-returning calls.
  localparam int unsigned HWSIM_FLAG_INEXACT = 32'h1;
  localparam int unsigned HWSIM_FLAG_UNDERFLOW = 32'h2;
  localparam int unsigned HWSIM_FLAG_OVERFLOW = 32'h4;
  localparam int unsigned HWSIM_FLAG_DIV_BY_ZERO = 32'h8;
  localparam int unsigned HWSIM_FLAG_INVALID = 32'h10;
  localparam int unsigned HWSIM_FLAG_ERROR = 32'h100;

  // Rounding-mode codes.
  localparam int unsigned HWSIM_ROUND_NEAREST_EVEN = 0;
  localparam int unsigned HWSIM_ROUND_NEAREST_AWAY = 1;
  localparam int unsigned HWSIM_ROUND_TOWARD_ZERO = 2;
  localparam int unsigned HWSIM_ROUND_TOWARD_POS = 3;
  localparam int unsigned HWSIM_ROUND_TOWARD_NEG = 4;

  // The element rounding of hwsim_sv_quantize_mx that is the format's default (nearest-away for
  // mxint8, nearest-even for the others).
  localparam int unsigned HWSIM_ROUND_FORMAT_DEFAULT = 32'hffffffff;

  // MX block formats (OCP MX v1.0), named as sim op --mx-format names them. Element codes are one
  // per byte, in its low bits: 8 for mxint8 (two's complement) and mxfp8, 6 for mxfp6, 4 for mxfp4.
  localparam int unsigned HWSIM_MX_MXINT8 = 0;       // mxint8
  localparam int unsigned HWSIM_MX_MXFP8_E4M3 = 1;   // mxfp8-e4m3
  localparam int unsigned HWSIM_MX_MXFP8_E5M2 = 2;   // mxfp8-e5m2
  localparam int unsigned HWSIM_MX_MXFP6_E3M2 = 3;   // mxfp6-e3m2
  localparam int unsigned HWSIM_MX_MXFP6_E2M3 = 4;   // mxfp6-e2m3
  localparam int unsigned HWSIM_MX_MXFP4_E2M1 = 5;   // mxfp4-e2m1
  localparam int unsigned HWSIM_MX_FORMATS = 6;

  // Scale rules of the MX quantizer (sim op quantize --scale-rule).
  localparam int unsigned HWSIM_SCALE_FLOOR = 0;
  localparam int unsigned HWSIM_SCALE_CEIL = 1;
  localparam int unsigned HWSIM_SCALE_EVEN = 2;
  localparam int unsigned HWSIM_SCALE_RCEIL = 3;

  // Indices of hwsim_sv_softmax_v's stage_flags.
  localparam int HWSIM_STAGE_EXP = 0;
  localparam int HWSIM_STAGE_EXP_SUM = 1;
  localparam int HWSIM_STAGE_EXP_MXINT8 = 2;
  localparam int HWSIM_STAGE_EXP_MX = 2;  // the same index: exp quantized in any format
  localparam int HWSIM_STAGE_SCALED_V = 3;
  localparam int HWSIM_STAGE_INV = 4;
  localparam int HWSIM_STAGE_OUT = 5;
  localparam int HWSIM_SOFTMAX_STAGES = 6;

  // ---- context -------------------------------------------------------------------------------
  // "reference", "narrow" or a JSON config path; null on error (see hwsim_last_error).
  import "DPI-C" function chandle hwsim_open(input string profile_or_config);
  import "DPI-C" function void hwsim_close(input chandle ctx);
  import "DPI-C" function string hwsim_last_error();
  // Failed calls on this thread so far (each failing call adds one).
  import "DPI-C" function longint unsigned hwsim_error_count();
  import "DPI-C" function string hwsim_version();
  import "DPI-C" function string hwsim_config_name(input chandle ctx);

  // ---- scalar units: the result, and its IEEE flags in `flags` ------------------------------
  import "DPI-C" function shortint unsigned hwsim_exp_bf16(
      input chandle ctx, input shortint unsigned x, output int unsigned flags);
  import "DPI-C" function shortint unsigned hwsim_recip_bf16(
      input chandle ctx, input shortint unsigned x, output int unsigned flags);
  import "DPI-C" function shortint unsigned hwsim_mul_bf16(
      input chandle ctx, input shortint unsigned a, input shortint unsigned b,
      output int unsigned flags);

  // ---- one MXINT8 block: x_bf16[0..n-1] (1 <= n <= 32) quantized; q[i] is element i ---------
  import "DPI-C" function int hwsim_quantize_mxint8(
      input chandle ctx, input shortint unsigned x_bf16[32], input longint unsigned n,
      output byte unsigned scale, output byte q[32]);
  import "DPI-C" function int hwsim_quantize_mxint8_ex(
      input chandle ctx, input shortint unsigned x_bf16[32], input longint unsigned n,
      input int unsigned element_rounding, output byte unsigned scale, output byte q[32],
      output int unsigned flags);

  // ---- open-array wrappers (sv/hwsim_dpi.c) -------------------------------------------------
  // Each checks that every array is one-dimensional and holds at least the elements the sizes
  // call for (else HWSIM_ERR_INVALID_ARGUMENT) and calls the C function of the same name
  // without `_sv`. Layouts: hwsim.h. hwsim_sv_last_error() is the message of the last failing
  // call of either layer: a wrapper's own check, or a libhwsim call (through a wrapper or not).
  import "DPI-C" function string hwsim_sv_last_error();
  // Reduce-sum of all of x (at least one element); on error the canonical NaN with
  // HWSIM_FLAG_ERROR.
  import "DPI-C" function shortint unsigned hwsim_sv_sum_bf16(
      input chandle ctx, input shortint unsigned x[], output int unsigned flags);
  // gemm over block grids (dot and gevm are gemm with m = 1, and n = 1 for dot).
  import "DPI-C" function int hwsim_sv_gemm_mxint8_bf16(
      input chandle ctx, input longint unsigned m, input longint unsigned k,
      input longint unsigned n, input byte unsigned input_scales[], input byte input_elems[],
      input byte unsigned other_scales[], input byte other_elems[], input int unsigned rounding,
      output shortint unsigned out[], output int unsigned flags[]);
  import "DPI-C" function int hwsim_sv_gemm_mxint8_fp32(
      input chandle ctx, input longint unsigned m, input longint unsigned k,
      input longint unsigned n, input byte unsigned input_scales[], input byte input_elems[],
      input byte unsigned other_scales[], input byte other_elems[], input int unsigned rounding,
      output int unsigned out[], output int unsigned flags[]);
  // The MX formats: gemm over operands of formats format_a (input) and format_b (other)
  // (HWSIM_MX_*), element codes one per byte, the same grids as the MXINT8 gemm.
  import "DPI-C" function int hwsim_sv_gemm_mx_bf16(
      input chandle ctx, input longint unsigned m, input longint unsigned k,
      input longint unsigned n, input int unsigned format_a, input int unsigned format_b,
      input byte unsigned input_scales[], input byte unsigned input_codes[],
      input byte unsigned other_scales[], input byte unsigned other_codes[],
      input int unsigned rounding, output shortint unsigned out[], output int unsigned flags[]);
  import "DPI-C" function int hwsim_sv_gemm_mx_fp32(
      input chandle ctx, input longint unsigned m, input longint unsigned k,
      input longint unsigned n, input int unsigned format_a, input int unsigned format_b,
      input byte unsigned input_scales[], input byte unsigned input_codes[],
      input byte unsigned other_scales[], input byte unsigned other_codes[],
      input int unsigned rounding, output int unsigned out[], output int unsigned flags[]);
  // The MX quantizer over x_bf16[0..n-1] in blocks of 32 (the last zero-padded): scales and
  // flags of ceil(n/32) blocks, codes 32 per block. A wrapper (not a direct import like the
  // one-block hwsim_quantize_mxint8) because n is not bounded by a block.
  import "DPI-C" function int hwsim_sv_quantize_mx(
      input chandle ctx, input int unsigned format, input int unsigned scale_rule,
      input int unsigned element_rounding, input shortint unsigned x_bf16[],
      input longint unsigned n, output byte unsigned scales[], output byte unsigned codes[],
      output int unsigned flags[]);
  // The whole softmax_v tail of `sim run`; every output array is required here.
  import "DPI-C" function int hwsim_sv_softmax_v(
      input chandle ctx, input longint unsigned heads, input longint unsigned kv,
      input longint unsigned head_dim, input int unsigned element_rounding,
      input shortint unsigned qk_t[], input byte unsigned v_scales[], input byte v_elems[],
      output shortint unsigned exp_bf16[], output shortint unsigned exp_sum[],
      output byte unsigned exp_scales[], output byte exp_elems[],
      output shortint unsigned scaled_v[], output shortint unsigned inv[],
      output shortint unsigned out[], output int unsigned stage_flags[]);
  // softmax_v with other block formats (HWSIM_MX_* exp_format and v_format, a HWSIM_SCALE_*
  // rule, element_rounding HWSIM_ROUND_NEAREST_EVEN/_AWAY or HWSIM_ROUND_FORMAT_DEFAULT): v and
  // exp's quantization as codes, one per byte; every output array is required here.
  import "DPI-C" function int hwsim_sv_softmax_v_mx(
      input chandle ctx, input longint unsigned heads, input longint unsigned kv,
      input longint unsigned head_dim, input int unsigned exp_format,
      input int unsigned v_format, input int unsigned scale_rule,
      input int unsigned element_rounding, input shortint unsigned qk_t[],
      input byte unsigned v_scales[], input byte unsigned v_codes[],
      output shortint unsigned exp_bf16[], output shortint unsigned exp_sum[],
      output byte unsigned exp_scales[], output byte unsigned exp_codes[],
      output shortint unsigned scaled_v[], output shortint unsigned inv[],
      output shortint unsigned out[], output int unsigned stage_flags[]);

endpackage
