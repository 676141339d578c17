// tb_mul: checks a bf16_mul_rne (examples/rtl) against the golden model through DPI-C.
//
// A checker with the DUT's ports turned around, wired to a DUT copy by the top that run.sh
// generates; `+dut=NAME` picks the checker that runs (see tb_exp.sv).
//
// One product per clock: first every pair of a list of corner operands (signed zeros,
// infinities, NaNs, subnormals, the normal boundary, 1 +- ulp, the largest finite values,
// powers of two around the overflow and underflow thresholds), then RANDOM constrained-random
// pairs from SplitMix64 (seed +seed=N, default 1) in five classes: any bit patterns, products
// near the overflow threshold, products near and below the smallest normal, a subnormal operand,
// and mid-range normals (where exact ties are frequent). Each result is compared with
// hwsim_mul_bf16 on the reference profile (RNE). Coverage is counted from the golden model: the
// IEEE flags, subnormal results, and exact ties, which are the products where a second context
// (+rna_config=FILE, the reference with mul.rounding nearest-away) disagrees with RNE. Ends with
// "TB PASS ..." and $finish, or "TB FAIL ..." and $fatal.
//
// First, a few calls through the open-array wrappers of sv/hwsim_dpi.c and the sized-array
// import of the quantizer check that arrays reach libhwsim as laid out in hwsim.h (values worked
// out by hand in the comments).
module tb_mul #(
    parameter string NAME = "mul"
) (
    input logic clk,
    output logic [15:0] a,
    output logic [15:0] b,
    input logic [15:0] y
);
  import hwsim_pkg::*;
  // The sum wrapper behind a 2-D open-array formal (a testbench's own import may declare one):
  // it must refuse the array, not sum nothing to +0.
  import "DPI-C" hwsim_sv_sum_bf16 = function shortint unsigned sum_bf16_2d(
      input chandle ctx, input shortint unsigned x[][], output int unsigned flags);

  localparam int unsigned RANDOM = 1 << 21;
  localparam int MAX_REPORTS = 10;
  localparam int NC = 40;
  localparam shortint unsigned CORNERS[NC] = '{
      16'h0000, 16'h8000, 16'h7f80, 16'hff80, 16'h7fc0, 16'hffc0, 16'h7f81, 16'hffff,
      16'h0001, 16'h8001, 16'h0002, 16'h003f, 16'h0040, 16'h007f, 16'h807f, 16'h0080,
      16'h8080, 16'h0081, 16'h3f80, 16'hbf80, 16'h3f81, 16'h3f7f, 16'h3fc0, 16'h3fff,
      16'h4000, 16'h7f7f, 16'hff7f, 16'h7f00, 16'h7eff, 16'h5f80, 16'h5f7f, 16'h5f81,
      16'h1f80, 16'h1f7f, 16'h1fff, 16'h2000, 16'h3f00, 16'h3e80, 16'h4b80, 16'h3380};

  bit active;
  chandle ctx, ctx_rna;

  longint unsigned rng;
  int unsigned index = 0, errors = 0;
  int unsigned n_inexact = 0, n_overflow = 0, n_underflow = 0, n_invalid = 0;
  int unsigned n_subnormal = 0, n_ties = 0;

  function automatic longint unsigned splitmix64();
    longint unsigned z;
    rng += 64'h9E37_79B9_7F4A_7C15;
    z = rng;
    z = (z ^ (z >> 30)) * 64'hBF58_476D_1CE4_E5B9;
    z = (z ^ (z >> 27)) * 64'h94D0_49BB_1331_11EB;
    return z ^ (z >> 31);
  endfunction

  // A BF16 pattern with sign s, exponent field e (clamped to 0..254), fraction f.
  function automatic logic [15:0] bf16(logic s, int e, logic [6:0] f);
    int c = e < 0 ? 0 : (e > 254 ? 254 : e);
    return {s, c[7:0], f};
  endfunction

  // Stimulus i: a corner pair, then a random pair of class i % 5.
  function automatic logic [31:0] stimulus(int unsigned i);
    longint unsigned r;
    int ea, eb;
    if (i < NC * NC) return {CORNERS[i/NC], CORNERS[i%NC]};
    r = splitmix64();
    ea = int'(r[23:16]);
    case (i % 5)
      0: return r[31:0];
      1: begin  // exponent fields summing to 380..383: the product straddles 2^128
        ea = 127 + int'(r[23:16]) % 128;
        eb = 380 + int'(r[25:24]) - ea;
      end
      2: begin  // exponent fields summing to 117..132: results near and below 2^-126
        ea = 1 + int'(r[23:16]) % 127;
        eb = 117 + int'(r[27:24]) - ea;
      end
      3: begin  // a subnormal operand times anything finite
        ea = 0;
        eb = 1 + int'(r[31:24]) % 254;
      end
      default: begin  // mid-range normals
        ea = 100 + int'(r[23:16]) % 55;
        eb = 100 + int'(r[31:24]) % 55;
      end
    endcase
    return {bf16(r[32], ea, r[39:33]), bf16(r[40], eb, r[47:41])};
  endfunction

  // The calls that pass arrays (the open-array wrappers and the sized-array quantizer), on
  // cases small enough to work out by hand.
  task automatic check_array_calls();
    // Fixed-size actuals: Verilator passes those to open-array formals (not dynamic arrays).
    shortint unsigned ones[257];
    byte unsigned one_scale[1] = '{8'h7f};
    byte one_elems[32];
    shortint unsigned out16[1];
    int unsigned out_flags[1];
    shortint unsigned qk[1] = '{16'h0000};
    shortint unsigned e[1], s[1], sv[1], inv[1], o[1];
    byte unsigned es[1];
    byte ee[32];
    int unsigned stage_flags[HWSIM_SOFTMAX_STAGES];
    int unsigned out32[1];
    shortint unsigned x32[32];
    byte unsigned scale;
    byte q32[32];
    int unsigned flags;
    int rc;
    shortint unsigned ones2d[2][3];
    string wrapper_error;
    foreach (ones[i]) ones[i] = 16'h3f80;
    // 257 ones sum exactly to 257, which ties between 256 and 258: RNE gives 256 (0x4380).
    if (hwsim_sv_sum_bf16(ctx, ones, flags) != 16'h4380 || flags != HWSIM_FLAG_INEXACT)
      $fatal(1, "TB FAIL hwsim_sv_sum_bf16: %s", hwsim_sv_last_error());
    // [1.0] . [1.0] as MXINT8 blocks (scale 0x7f, element 64): 64 * 64 * 2^-12 = 1.0.
    foreach (one_elems[i]) one_elems[i] = 0;
    one_elems[0] = 64;
    rc = hwsim_sv_gemm_mxint8_bf16(ctx, 1, 1, 1, one_scale, one_elems, one_scale, one_elems,
                                   HWSIM_ROUND_NEAREST_EVEN, out16, out_flags);
    if (rc != HWSIM_OK || out16[0] != 16'h3f80 || out_flags[0] != 0)
      $fatal(1, "TB FAIL hwsim_sv_gemm_mxint8_bf16 (%0d): %s", rc, hwsim_sv_last_error());
    // softmax_v of one head, one score 0, one column of v = 1.0: e^0 = 1, sum 1, quantized
    // to scale 0x7f element 64, scaled_v 1, inv 1, out 1.
    rc = hwsim_sv_softmax_v(ctx, 1, 1, 1, HWSIM_ROUND_NEAREST_AWAY, qk, one_scale, one_elems,
                            e, s, es, ee, sv, inv, o, stage_flags);
    if (rc != HWSIM_OK || e[0] != 16'h3f80 || s[0] != 16'h3f80 || es[0] != 8'h7f
        || ee[0] != 64 || sv[0] != 16'h3f80 || inv[0] != 16'h3f80 || o[0] != 16'h3f80)
      $fatal(1, "TB FAIL hwsim_sv_softmax_v (%0d): %s", rc, hwsim_sv_last_error());
    // The same product with an FP32 result: 0x3f800000.
    rc = hwsim_sv_gemm_mxint8_fp32(ctx, 1, 1, 1, one_scale, one_elems, one_scale, one_elems,
                                   HWSIM_ROUND_NEAREST_EVEN, out32, out_flags);
    if (rc != HWSIM_OK || out32[0] != 32'h3f80_0000)
      $fatal(1, "TB FAIL hwsim_sv_gemm_mxint8_fp32 (%0d): %s", rc, hwsim_sv_last_error());
    // One block through the sized-array import: [1.0, 1/128, 1.9921875] has amax in [1, 2), so
    // scale 0x7f and q = x * 64 rounded: 64, 0.5 -> 1 (nearest-away), 127.5 -> 128 clamped to 127.
    x32[0] = 16'h3f80;
    x32[1] = 16'h3c00;
    x32[2] = 16'h3fff;
    rc = hwsim_quantize_mxint8(ctx, x32, 3, scale, q32);
    if (rc != HWSIM_OK || scale != 8'h7f || q32[0] != 64 || q32[1] != 1 || q32[2] != 127
        || q32[3] != 0)
      $fatal(1, "TB FAIL hwsim_quantize_mxint8 (%0d): scale %02h q %0d %0d %0d: %s", rc, scale,
             q32[0], q32[1], q32[2], hwsim_last_error());
    // An output array too short for the sizes is an error, not a write past its end.
    rc = hwsim_sv_gemm_mxint8_bf16(ctx, 1, 1, 2, one_scale, one_elems, one_scale, one_elems,
                                   HWSIM_ROUND_NEAREST_EVEN, out16, out_flags);
    if (rc != HWSIM_ERR_INVALID_ARGUMENT)
      $fatal(1, "TB FAIL hwsim_sv_gemm_mxint8_bf16 accepted a short array");
    wrapper_error = hwsim_sv_last_error();
    $display("tb_mul: array calls ok (a short array: %s)", wrapper_error);
    if (wrapper_error.substr(0, 24) != "hwsim_sv_gemm_mxint8_bf16")
      $fatal(1, "TB FAIL the wrapper's error is not the last error: %s", wrapper_error);
    // hwsim_sv_last_error() follows the last failing call of either layer: a direct call that
    // fails afterwards replaces the wrapper's message.
    void'(hwsim_exp_bf16(null, 16'h3f80, flags));
    if (flags != HWSIM_FLAG_ERROR || hwsim_sv_last_error() != hwsim_last_error()
        || hwsim_sv_last_error().substr(0, 13) != "hwsim_exp_bf16")
      $fatal(1, "TB FAIL hwsim_sv_last_error after a failing direct call: %s",
             hwsim_sv_last_error());
    // k near 2^64 is refused, not wrapped to a small block count by ceil(k / 32).
    rc = hwsim_sv_gemm_mxint8_bf16(ctx, 1, 64'hffff_ffff_ffff_ffff, 1, one_scale, one_elems,
                                   one_scale, one_elems, HWSIM_ROUND_NEAREST_EVEN, out16,
                                   out_flags);
    if (rc != HWSIM_ERR_INVALID_ARGUMENT)
      $fatal(1, "TB FAIL hwsim_sv_gemm_mxint8_bf16 accepted k = 2^64 - 1 (%0d)", rc);
    // A 2-D array given to the sum wrapper: an error, not +0.
    foreach (ones2d[i, j]) ones2d[i][j] = 16'h3f80;
    if (sum_bf16_2d(ctx, ones2d, flags) != 16'h7fc0 || flags != HWSIM_FLAG_ERROR)
      $fatal(1, "TB FAIL hwsim_sv_sum_bf16 accepted a 2-D array: %s", hwsim_sv_last_error());
    $display("tb_mul: refusals ok (k = 2^64 - 1, a 2-D array: %s)", hwsim_sv_last_error());
  endtask

  initial begin
    string want, rna_config;
    longint unsigned seed;
    {a, b} = 32'h0;
    active = $value$plusargs("dut=%s", want) && want == NAME;
    if (active) begin
      $display("tb_mul: DUT %s", NAME);
      if (!$value$plusargs("seed=%d", seed)) seed = 1;
      rng = seed;
      if (!$value$plusargs("rna_config=%s", rna_config))
        $fatal(1, "TB FAIL: +rna_config=FILE (the reference with mul.rounding nearest-away) missing");
      ctx = hwsim_open("reference");
      ctx_rna = hwsim_open(rna_config);
      if (ctx == null || ctx_rna == null) $fatal(1, "TB FAIL hwsim_open: %s", hwsim_last_error());
      check_array_calls();
      {a, b} = stimulus(0);
    end
  end

  always @(posedge clk) if (active) begin
    int unsigned flags, flags_rna;
    shortint unsigned golden, golden_rna;
    golden = hwsim_mul_bf16(ctx, a, b, flags);
    golden_rna = hwsim_mul_bf16(ctx_rna, a, b, flags_rna);
    if (((flags | flags_rna) & HWSIM_FLAG_ERROR) != 0)
      $fatal(1, "TB FAIL hwsim_mul_bf16: %s", hwsim_last_error());
    if ((flags & HWSIM_FLAG_INEXACT) != 0) n_inexact++;
    if ((flags & HWSIM_FLAG_OVERFLOW) != 0) n_overflow++;
    if ((flags & HWSIM_FLAG_UNDERFLOW) != 0) n_underflow++;
    if ((flags & HWSIM_FLAG_INVALID) != 0) n_invalid++;
    if (golden[14:7] == 8'h00 && golden[6:0] != 7'h00) n_subnormal++;
    if (golden != golden_rna) n_ties++;
    if (y !== golden) begin
      if (errors < MAX_REPORTS)
        $display("MISMATCH mul #%0d a=%04h b=%04h: dut %04h, golden %04h (flags %0h)",
                 index, a, b, y, golden, flags);
      errors++;
    end
    index <= index + 1;
    if (index + 1 == NC * NC + RANDOM) begin
      if (errors != 0)
        $fatal(1, "TB FAIL mul: %0d of %0d products mismatched", errors, index + 1);
      $display("TB PASS mul: %0d products checked (%0d corner pairs, %0d random): inexact %0d, overflow %0d, underflow %0d, invalid %0d, subnormal %0d, ties %0d",
               index + 1, NC * NC, RANDOM, n_inexact, n_overflow, n_underflow, n_invalid,
               n_subnormal, n_ties);
      hwsim_close(ctx);
      hwsim_close(ctx_rna);
      $finish;
    end
    {a, b} <= stimulus(index + 1);
  end
endmodule
