// bf16_mul_rne: y = RNE_bf16(a * b), combinational, Verilog-2005, synthesizable style.
//
// Follows docs/numerics.md (stage 6 and section 2): the exact product rounded once to BF16 with
// roundTiesToEven; subnormal inputs and outputs are kept (nothing flushed); a rounded magnitude of
// 2^128 or more overflows to +-inf; any NaN input, and inf * 0, give the canonical NaN 16'h7fc0;
// the sign of every other result, zeros included, is sign(a) xor sign(b). No status flags.
//
// Datapath (finite, nonzero operands):
//   significands  ma, mb  (8 bits, hidden bit = 1 for normals, 0 for subnormals)
//   exponents     ea, eb  (biased field, a subnormal's field 0 counts as 1)
//   exact product  |a*b| = P * 2^(ea + eb - 254 - 14),  P = ma * mb  (16 bits, nonzero)
//   Subnormal operands need no pre-normalisation: the leading one of P (position msb) gives the
//   exponent of the exact product, e = ea + eb - 254 - 14 + msb (unbiased), biased be = e + 127.
//   Pn = P << (15 - msb) puts the leading one at bit 15: |a*b| = Pn * 2^(e - 15).
//   Result exponent (biased) rb = max(be, 1); the product is right-shifted by d = rb - be >= 0
//   (d > 0 only for a tiny result, which becomes subnormal or rounds up to the smallest normal).
//   After the shift, bits 15:8 are the 8-bit significand sig, bit 7 is the guard bit, bits 6:0
//   and everything shifted out form the sticky bit. RNE: sig += guard & (sticky | sig[0]).
//   Encoding: mag = (rb - 1) * 128 + sig_rounded. This single formula covers a normal result
//   (sig has its hidden bit, worth one exponent step), a carry out of the rounding (sig = 256
//   bumps the exponent), a subnormal (rb = 1, sig < 128) and a subnormal rounding up to the
//   smallest normal (sig = 128 gives 0x0080). mag >= 0x7f80 is an overflow to infinity.
module bf16_mul_rne (
    input  wire [15:0] a,
    input  wire [15:0] b,
    output reg  [15:0] y
);
    // ---- field decode ------------------------------------------------------------------------
    wire       sa = a[15];
    wire       sb = b[15];
    wire [7:0] fa_e = a[14:7];
    wire [7:0] fb_e = b[14:7];
    wire [6:0] fa_m = a[6:0];
    wire [6:0] fb_m = b[6:0];

    wire sy = sa ^ sb;

    wire a_nan  = (fa_e == 8'hff) && (fa_m != 7'd0);
    wire b_nan  = (fb_e == 8'hff) && (fb_m != 7'd0);
    wire a_inf  = (fa_e == 8'hff) && (fa_m == 7'd0);
    wire b_inf  = (fb_e == 8'hff) && (fb_m == 7'd0);
    wire a_zero = (fa_e == 8'h00) && (fa_m == 7'd0);
    wire b_zero = (fb_e == 8'h00) && (fb_m == 7'd0);

    // significands with hidden bit, exponents with subnormal field 0 read as 1
    wire [7:0] ma = {(fa_e != 8'h00), fa_m};
    wire [7:0] mb = {(fb_e != 8'h00), fb_m};
    wire [8:0] ea = (fa_e == 8'h00) ? 9'd1 : {1'b0, fa_e};
    wire [8:0] eb = (fb_e == 8'h00) ? 9'd1 : {1'b0, fb_e};

    // ---- exact product -----------------------------------------------------------------------
    wire [15:0] p = ma * mb;

    // leading-one position of p (p != 0 whenever this path is used)
    reg  [3:0] msb;
    integer    k;
    always @* begin
        msb = 4'd0;
        for (k = 0; k < 16; k = k + 1)
            if (p[k]) msb = k[3:0];
    end

    wire [15:0] pn = p << (4'd15 - msb);

    // be = ea + eb - 127 - 14 + msb, as a signed 12-bit number (range -266+127 .. 255+127)
    wire signed [11:0] be = $signed({3'b000, ea}) + $signed({3'b000, eb})
                          + $signed({8'b0000_0000, msb}) - 12'sd141;

    // right shift for a tiny result; 31 is enough: pn[15] stays inside the 32-bit window for any
    // shift <= 31, so the sticky bit is right whenever the guard bit is already gone (d > 8)
    wire        tiny = (be < 12'sd1);
    wire signed [11:0] d_full = 12'sd1 - be;
    wire [4:0]  d = !tiny ? 5'd0 : ((d_full > 12'sd31) ? 5'd31 : d_full[4:0]);
    wire [8:0]  rb = tiny ? 9'd1 : be[8:0];   // not tiny: 1 <= be <= 382, fits in 9 bits

    wire [31:0] win = {pn, 16'h0000} >> d;
    wire [7:0]  sig    = win[31:24];
    wire        guard  = win[23];
    wire        sticky = |win[22:0];
    wire        inc    = guard & (sticky | sig[0]);
    wire [8:0]  sig_r  = {1'b0, sig} + {8'd0, inc};

    // (rb - 1) * 128 + sig_r, at most 381 * 128 + 256 < 2^16
    wire [16:0] mag = {1'b0, rb - 9'd1, 7'd0} + {8'd0, sig_r};
    wire        ovf = (mag >= 17'h07f80);

    // ---- result select -----------------------------------------------------------------------
    always @* begin
        if (a_nan || b_nan || (a_inf && b_zero) || (a_zero && b_inf))
            y = 16'h7fc0;
        else if (a_inf || b_inf)
            y = {sy, 15'h7f80};
        else if (a_zero || b_zero)
            y = {sy, 15'h0000};
        else if (ovf)
            y = {sy, 15'h7f80};
        else
            y = {sy, mag[14:0]};
    end
endmodule
