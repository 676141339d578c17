// tb_mxfp4: checks an mxfp4_dot (examples/rtl) against the golden model through DPI-C.
//
// A checker with the DUT's ports turned around, wired to a DUT copy by the top that run.sh
// generates; `+dut=NAME` picks the checker that runs (see tb_exp.sv).
//
// One block pair per clock. Directed first: every pair of the 16 E2M1 codes (all 8 x 8
// magnitudes with both signs, -0 included) as element i of otherwise zero blocks; blocks of the
// largest codes (+-6 * +-6 * 32 = +-1152) at the smallest and largest scales driven; -0 codes
// against anything (the result is +0); blocks whose products cancel to 0; a 0xff (NaN) scale on
// either side and both. Then RANDOM blocks from SplitMix64 (seed +seed=N, default 1) in four
// classes: any codes, only the small codes 0..3 with signs (subnormal 0.5 frequent), sparse
// blocks (most elements +-0), and all-equal codes. Scales stay in 100..154, where the exact
// result is zero or a normal FP32 (the restriction of mxfp4_dot.v): no stimulus is skipped.
//
// Each block pair is compared with hwsim_dot_mx_fp32(ctx, 32, HWSIM_MX_MXFP4_E2M1,
// HWSIM_MX_MXFP4_E2M1, ...) on the reference profile (RNE; exact here): the DUT's FP32 bits y
// must equal the golden bits, and where the golden result is not NaN the DUT's integer outputs
// must agree with it: sum * 2^exp is the golden value. Ends with "TB PASS ..." and $finish, or
// "TB FAIL ..." and $fatal.
module tb_mxfp4 #(
    parameter string NAME = "mxfp4"
) (
    input logic clk,
    output logic [7:0] a_scale,
    output logic [7:0] b_scale,
    output logic [127:0] a_codes,
    output logic [127:0] b_codes,
    input logic signed [13:0] sum,
    input logic signed [9:0] exp,
    input logic [31:0] y
);
  import hwsim_pkg::*;
  // One block per operand: sized arrays, which DPI-C passes as C pointers (hwsim.h's layout:
  // scales[1], codes[32], one code per byte), so the C function is imported directly.
  import "DPI-C" function int hwsim_dot_mx_fp32(
      input chandle ctx, input longint unsigned m, input int unsigned format_a,
      input int unsigned format_b, input byte unsigned a_scales[1],
      input byte unsigned a_codes[32], input byte unsigned b_scales[1],
      input byte unsigned b_codes[32], input int unsigned rounding, output int unsigned out[1],
      output int unsigned flags[1]);

  localparam int unsigned RANDOM = 1 << 17;
  localparam int MAX_REPORTS = 10;
  // Directed: 256 code pairs, 8 largest-code blocks, 16 -0 blocks, 16 cancelling blocks,
  // 12 NaN-scale blocks.
  localparam int unsigned N_PAIRS = 256, N_MAX = 8, N_NEGZERO = 16, N_CANCEL = 16, N_NAN = 12;
  localparam int unsigned D_MAX = N_PAIRS, D_NEGZERO = D_MAX + N_MAX;
  localparam int unsigned D_CANCEL = D_NEGZERO + N_NEGZERO, D_NAN = D_CANCEL + N_CANCEL;
  localparam int unsigned DIRECTED = D_NAN + N_NAN;

  bit active;
  chandle ctx;
  longint unsigned rng;
  int unsigned index = 0, errors = 0;
  int unsigned n_zero = 0, n_nan = 0, n_neg = 0, n_max = 0;

  function automatic longint unsigned splitmix64();
    longint unsigned z;
    rng += 64'h9E37_79B9_7F4A_7C15;
    z = rng;
    z = (z ^ (z >> 30)) * 64'hBF58_476D_1CE4_E5B9;
    z = (z ^ (z >> 27)) * 64'h94D0_49BB_1331_11EB;
    return z ^ (z >> 31);
  endfunction

  function automatic logic [7:0] rand_scale();
    return 8'(100 + splitmix64() % 55);  // 100..154
  endfunction

  function automatic logic [127:0] rand_codes();
    return {splitmix64(), splitmix64()};
  endfunction

  // Stimulus i: {a_scale, b_scale, a_codes, b_codes}.
  function automatic logic [271:0] stimulus(int unsigned i);
    logic [7:0] sa, sb;
    logic [127:0] ca, cb;
    longint unsigned r;
    int unsigned j;
    ca = '0;
    cb = '0;
    sa = 8'd127;
    sb = 8'd127;
    if (i < N_PAIRS) begin  // code pair (i / 16, i % 16) at element i % 32
      ca[4*(i%32)+:4] = 4'(i / 16);
      cb[4*(i%32)+:4] = 4'(i % 16);
    end else if (i < D_NEGZERO) begin
      j = i - D_MAX;  // +-6 everywhere, smallest/largest scales
      for (int k = 0; k < 32; k++) begin
        ca[4*k+:4] = {j[0], 3'b111};
        cb[4*k+:4] = {j[1], 3'b111};
      end
      sa = j[2] ? 8'd154 : 8'd100;
      sb = j[2] ? 8'd154 : 8'd100;
    end else if (i < D_CANCEL) begin  // -0 in a (all, or every other element)
      j = i - D_NEGZERO;
      cb = rand_codes();
      for (int k = 0; k < 32; k++) ca[4*k+:4] = (j[0] || k % 2 == 0) ? 4'h8 : 4'h0;
      if (j[1]) {ca, cb} = {cb, ca};
      if (j[2]) cb = ca;  // -0 * -0 and -0 * +0
      sa = rand_scale();
      sb = rand_scale();
    end else if (i < D_NAN) begin  // x . y + (-x) . y = 0, in halves
      ca = rand_codes();
      cb = rand_codes();
      for (int k = 0; k < 16; k++) begin
        ca[4*(k+16)+:4] = ca[4*k+:4] ^ 4'h8;
        cb[4*(k+16)+:4] = cb[4*k+:4];
      end
      sa = rand_scale();
      sb = rand_scale();
    end else if (i < DIRECTED) begin  // 0xff on a, b or both
      j = i - D_NAN;
      ca = rand_codes();
      cb = rand_codes();
      if (j >= 8) ca = '0;  // NaN times zero codes is still NaN
      sa = (j % 3 != 1) ? 8'hff : rand_scale();
      sb = (j % 3 != 0) ? 8'hff : rand_scale();
    end else begin
      sa = rand_scale();
      sb = rand_scale();
      ca = rand_codes();
      cb = rand_codes();
      r = splitmix64();
      case (i % 4)
        0: ;
        1: begin  // small codes: 0, 0.5, 1, 1.5 with signs
          ca &= {32{4'b1001}};
          cb &= {32{4'b1001}};
          ca |= {32{4'b0010}} & {r, r};
          cb |= {32{4'b0010}} & {r[31:0], r[63:32], r[31:0], r[63:32]};
        end
        2: begin  // sparse: about one element in eight nonzero, the rest +-0
          logic [127:0] keep = rand_codes() & rand_codes() & rand_codes();
          for (int k = 0; k < 32; k++)
            if (!keep[4*k]) begin
              ca[4*k+:3] = 3'b000;
              cb[4*k+:3] = 3'b000;
            end
        end
        default: begin  // one code repeated in each block
          ca = {32{ca[3:0]}};
          cb = {32{cb[3:0]}};
        end
      endcase
    end
    return {sa, sb, ca, cb};
  endfunction

  // The value of a finite FP32 pattern as a real (exact: 24 significant bits).
  function automatic real fp32_value(logic [31:0] f);
    int e;
    real v;
    e = int'({24'h0, f[30:23]});
    if (e == 0) v = real'(int'({9'h0, f[22:0]})) * (2.0 ** -149);
    else v = real'(int'({8'h0, 1'b1, f[22:0]})) * (2.0 ** (e - 150));
    return f[31] ? -v : v;
  endfunction

  initial begin
    string want;
    longint unsigned seed;
    {a_scale, b_scale, a_codes, b_codes} = '0;
    active = $value$plusargs("dut=%s", want) && want == NAME;
    if (active) begin
      if (!$value$plusargs("seed=%d", seed)) seed = 1;
      rng = seed;
      ctx = hwsim_open("reference");
      if (ctx == null) $fatal(1, "TB FAIL hwsim_open: %s", hwsim_last_error());
      $display("tb_mxfp4: DUT %s, libhwsim %s, profile %s", NAME, hwsim_version(),
               hwsim_config_name(ctx));
      {a_scale, b_scale, a_codes, b_codes} = stimulus(0);
    end
  end

  always @(posedge clk) if (active) begin
    byte unsigned a_s[1], b_s[1], a_c[32], b_c[32];
    int unsigned out[1], flags[1];
    int rc, e2, dut_sum;
    bit bad;
    real golden, max_mag, dut_value;
    a_s[0] = a_scale;
    b_s[0] = b_scale;
    for (int k = 0; k < 32; k++) begin
      a_c[k] = {4'h0, a_codes[4*k+:4]};
      b_c[k] = {4'h0, b_codes[4*k+:4]};
    end
    rc = hwsim_dot_mx_fp32(ctx, 32, HWSIM_MX_MXFP4_E2M1, HWSIM_MX_MXFP4_E2M1, a_s, a_c, b_s, b_c,
                           HWSIM_ROUND_NEAREST_EVEN, out, flags);
    if (rc != HWSIM_OK) $fatal(1, "TB FAIL hwsim_dot_mx_fp32 (%0d): %s", rc, hwsim_last_error());
    if (out[0] == 32'h7fc0_0000) n_nan++;
    else if (out[0][30:0] == 0) n_zero++;
    else if (out[0][31]) n_neg++;
    golden = fp32_value(out[0]);
    e2 = {24'h0, a_scale} + {24'h0, b_scale} - 254;
    max_mag = 1152.0 * (2.0 ** e2);
    if (out[0] != 32'h7fc0_0000 && (golden == max_mag || golden == -max_mag))
      n_max++;  // +-1152 * 2^(Sa + Sb - 254): a block of +-6 * +-6
    bad = y !== out[0];
    e2 = int'(exp);  // signed: sign-extended
    dut_sum = int'(sum);
    dut_value = real'(dut_sum) * (2.0 ** e2);
    if (!bad && out[0] != 32'h7fc0_0000) bad = dut_value != golden;
    if (bad) begin
      if (errors < MAX_REPORTS)
        $display("MISMATCH mxfp4 #%0d scales %02h %02h a=%032h b=%032h: dut %08h (sum %0d exp %0d), golden %08h",
                 index, a_scale, b_scale, a_codes, b_codes, y, sum, exp, out[0]);
      errors++;
    end
    index <= index + 1;
    if (index + 1 == DIRECTED + RANDOM) begin
      if (errors != 0)
        $fatal(1, "TB FAIL mxfp4: %0d of %0d block products mismatched", errors, index + 1);
      $display("TB PASS mxfp4: %0d block products checked (%0d directed, %0d random): zero %0d, negative %0d, nan %0d, max-magnitude %0d",
               index + 1, DIRECTED, RANDOM, n_zero, n_neg, n_nan, n_max);
      hwsim_close(ctx);
      $finish;
    end
    {a_scale, b_scale, a_codes, b_codes} <= stimulus(index + 1);
  end
endmodule
