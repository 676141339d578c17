// mxfp4_dot: the dot product of two MXFP4 (E2M1) blocks, combinational, Verilog-2005,
// synthesizable style.
//
// Operands: one block each, an E8M0 scale byte (2^(S - 127); 0xff is NaN) and 32 E2M1 element
// codes, element i in bits 4i+3:4i. An E2M1 code is S.EE.M with exponent bias 1: field 0 is the
// subnormal 0.M * 2^0, fields 1..3 are 1.M * 2^(E-1), so the magnitudes are 0, 0.5, 1, 1.5, 2, 3,
// 4, 6 (no inf, no NaN; -0 is the code 0x8 and is zero).
//
// Datapath:
//   every element is an integer number of halves: h = 0, 1, 2, 3, 4, 6, 8, 12 (a table);
//   every product ha * hb is an integer number of quarters, at most 144 in magnitude;
//   sum  = sum_i +-ha_i * hb_i, exact, signed, |sum| <= 32 * 144 = 4608 (14-bit two's complement)
//   exp  = Sa + Sb - 254 - 2, so the exact dot product is sum * 2^exp.
//   y    = the FP32 bits of sum * 2^exp: +0 when sum = 0 (either sign of zero elements); else the
//          leading one of |sum| (position p, 0..12) gives the biased exponent p + exp + 127 and
//          the 23 fraction bits are |sum| << (23 - p) below the leading one. |sum| has at most 13
//          significant bits, so the value is exact in FP32's 24: no rounding.
//   Either scale 0xff: y = the canonical NaN 32'h7fc00000 (sum and exp are then meaningless).
//
// RESTRICTION: y is correct only where sum * 2^exp is zero or a normal FP32, i.e.
// -126 <= p + exp <= 127. Scale bytes in 100..154 on both sides keep every block in that range
// (exp in -56..52, p + exp in -56..64); outside it this unit has no underflow or overflow logic
// and y is not meaningful. examples/verilator/tb_mxfp4.sv drives only such scales (and 0xff).
// The golden model (hwsim_dot_mx_fp32, any rounding) agrees bit for bit on that domain, where
// its single rounding is exact.
module mxfp4_dot (
    input  wire [7:0]         a_scale,
    input  wire [7:0]         b_scale,
    input  wire [127:0]       a_codes,
    input  wire [127:0]       b_codes,
    output reg  signed [13:0] sum,
    output wire signed [9:0]  exp,
    output reg  [31:0]        y
);
    // An E2M1 magnitude (code bits 2:0) in halves.
    function [3:0] e2m1_halves;
        input [2:0] em;
        begin
            case (em)
                3'd0: e2m1_halves = 4'd0;   // 0
                3'd1: e2m1_halves = 4'd1;   // 0.5, the subnormal
                3'd2: e2m1_halves = 4'd2;   // 1
                3'd3: e2m1_halves = 4'd3;   // 1.5
                3'd4: e2m1_halves = 4'd4;   // 2
                3'd5: e2m1_halves = 4'd6;   // 3
                3'd6: e2m1_halves = 4'd8;   // 4
                default: e2m1_halves = 4'd12;  // 6
            endcase
        end
    endfunction

    wire nan = (a_scale == 8'hff) || (b_scale == 8'hff);
    assign exp = $signed({2'b00, a_scale}) + $signed({2'b00, b_scale}) - 10'sd256;

    integer i, p;
    reg [7:0]  prod;      // |product| in quarters, <= 144
    reg [12:0] mag;       // |sum|, <= 4608
    reg [9:0]  be;        // biased FP32 exponent
    reg [35:0] norm;

    always @* begin
        sum = 14'sd0;
        for (i = 0; i < 32; i = i + 1) begin
            prod = e2m1_halves(a_codes[4*i +: 3]) * e2m1_halves(b_codes[4*i +: 3]);
            if (a_codes[4*i+3] ^ b_codes[4*i+3]) sum = sum - $signed({6'b0, prod});
            else sum = sum + $signed({6'b0, prod});
        end
        mag = sum[13] ? -sum[12:0] : sum[12:0];
        p = 0;
        for (i = 0; i < 13; i = i + 1)
            if (mag[i]) p = i;
        be = p[9:0] + exp + 10'sd127;
        norm = {23'b0, mag} << (23 - p);
        if (nan) y = 32'h7fc00000;
        else if (mag == 13'd0) y = 32'h00000000;
        else y = {sum[13], be[7:0], norm[22:0]};
    end
endmodule
