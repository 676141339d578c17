// tb_softmax_out: checks stage 6 of softmax_v (docs/numerics.md) on a case folder written by
// `sim run`: out[h, d] = RNE_bf16(scaled_v[h, d] * inv[h]), one bf16_mul_rne lane per column.
//
// It also loads exp's quantization softmaxed_v.exp_<F> (F = EXP_FMT, any MX format of
// docs/numerics.md section 8: a (8 + 32w)-bit word a line, w = 8, 6 or 4) and requires each word to
// equal the section 8.2 quantization of the matching 32 values of softmaxed_v.exp-bf16 (scale rule
// SCALE_RULE, element rounding ELEM_RNE), so a truncated word, a misplaced scale byte, a wrong
// element order, a wrong code or nonzero padding all fail. For MXINT8 + floor this is section 4.
//
// And it loads softmaxed_v.v (format V_FMT, blocked on the kv axis: line h*ceil(N/32)*D + b*D + d
// + 1 is block b of head h, column d): every line must load, and in each head's last partial block
// every element past kv_size must be the +0 code (docs/dump-format.md, Padding). Any scale byte
// and any code is a valid v element (0xff scales, NaN codes, -128 and -0 included), so the rest is
// only counted. v takes part in gevm (stage 4), which this testbench does not recompute.
//
// Every file is first read line by line with $fgets: the line count must be the expected one and
// every line exactly the word width in lowercase hex plus "\n" (docs/dump-format.md): 4 digits for
// BF16, 66 for MXINT8 and MXFP8, 50 for MXFP6, 34 for MXFP4.
//
// Compile-time sizes (iverilog -D...; run_tb.sh passes them from the case's manifest.json):
//   HEADS       number of heads                 (lines of softmaxed_v.inv)
//   HEAD_DIM    columns per head                (scaled_v/out have HEADS*HEAD_DIM lines)
//   KV_SIZE     kv length N                     (exp-bf16 has HEADS*KV_SIZE lines)
//   KV_LINES    lines of softmaxed_v.exp_<F>    (must equal HEADS*ceil(KV_SIZE/32))
//   V_LINES     lines of softmaxed_v.v          (must equal HEADS*ceil(KV_SIZE/32)*HEAD_DIM)
//   EXP_FMT     exp's format F, V_FMT v's format G: 0 mxint8, 1 mxfp8-e4m3, 2 mxfp8-e5m2,
//               3 mxfp6-e3m2, 4 mxfp6-e2m3, 5 mxfp4-e2m1 (default 0, 0)
//   SCALE_RULE  0 floor (default), 1 ceil, 2 even, 3 rceil (docs/numerics.md section 8.2)
//   ELEM_RNE    1 for element rounding nearest-even, 0 for nearest-away
// Run time: +case_dir=PATH (the case folder).
//
// Result: prints "TB PASS" and finishes, or prints the first mismatch of each kind, a summary,
// "TB FAIL" and stops with $fatal (vvp exit status 1).

`ifndef HEADS
`define HEADS 32
`endif
`ifndef HEAD_DIM
`define HEAD_DIM 128
`endif
`ifndef KV_SIZE
`define KV_SIZE 1
`endif
`ifndef KV_LINES
`define KV_LINES 32
`endif
`ifndef V_LINES
`define V_LINES (`HEADS * ((`KV_SIZE + 31) / 32) * `HEAD_DIM)
`endif
`ifndef EXP_FMT
`define EXP_FMT 0
`endif
`ifndef V_FMT
`define V_FMT 0
`endif
`ifndef SCALE_RULE
`define SCALE_RULE 0
`endif
`ifndef ELEM_RNE
`define ELEM_RNE 0
`endif

module tb_softmax_out;
    // ---- the MX formats (docs/numerics.md section 8.1), by code ----------------------------------
    //   code  name         w  mbits bias emax  max normal        +max code
    //   0     mxint8       8  6     -    0     127 * 2^-6        7f
    //   1     mxfp8-e4m3   8  3     7    8     7 * 2^6  = 448    7e  (NaN: S.1111.111)
    //   2     mxfp8-e5m2   8  2     15   15    7 * 2^13 = 57344  7b  (inf: S.11111.00, NaN: S.11111.xx)
    //   3     mxfp6-e3m2   6  2     3    4     7 * 2^2  = 28     1f
    //   4     mxfp6-e2m3   6  3     1    2     15 * 2^-1 = 7.5   1f
    //   5     mxfp4-e2m1   4  1     1    2     3 * 2^1  = 6      7
    function integer fmt_w;     input integer f; begin
        case (f) 3, 4: fmt_w = 6; 5: fmt_w = 4; default: fmt_w = 8; endcase end endfunction
    function integer fmt_mbits; input integer f; begin
        case (f) 0: fmt_mbits = 6; 1, 4: fmt_mbits = 3; 2, 3: fmt_mbits = 2; default: fmt_mbits = 1; endcase end endfunction
    function integer fmt_bias;  input integer f; begin
        case (f) 0: fmt_bias = 0; 1: fmt_bias = 7; 2: fmt_bias = 15; 3: fmt_bias = 3; default: fmt_bias = 1; endcase end endfunction
    function integer fmt_emax;  input integer f; begin
        case (f) 0: fmt_emax = 0; 1: fmt_emax = 8; 2: fmt_emax = 15; 3: fmt_emax = 4; default: fmt_emax = 2; endcase end endfunction
    function integer fmt_mn_int; input integer f; begin     // max normal = mn_int * 2^mn_exp
        case (f) 0: fmt_mn_int = 127; 1, 2, 3: fmt_mn_int = 7; 4: fmt_mn_int = 15; default: fmt_mn_int = 3; endcase end endfunction
    function integer fmt_mn_exp; input integer f; begin
        case (f) 0: fmt_mn_exp = -6; 1: fmt_mn_exp = 6; 2: fmt_mn_exp = 13; 3: fmt_mn_exp = 2; 4: fmt_mn_exp = -1; default: fmt_mn_exp = 1; endcase end endfunction
    function integer fmt_maxcode; input integer f; begin
        case (f) 0: fmt_maxcode = 8'h7f; 1: fmt_maxcode = 8'h7e; 2: fmt_maxcode = 8'h7b; 3, 4: fmt_maxcode = 6'h1f; default: fmt_maxcode = 4'h7; endcase end endfunction
    function [8*10-1:0] fmt_name; input integer f; begin
        case (f)
            0: fmt_name = "mxint8";     1: fmt_name = "mxfp8-e4m3"; 2: fmt_name = "mxfp8-e5m2";
            3: fmt_name = "mxfp6-e3m2"; 4: fmt_name = "mxfp6-e2m3"; default: fmt_name = "mxfp4-e2m1";
        endcase end endfunction
    function [8*5-1:0] rule_name; input integer r; begin
        case (r) 0: rule_name = "floor"; 1: rule_name = "ceil"; 2: rule_name = "even"; default: rule_name = "rceil"; endcase
    end endfunction

    localparam integer H      = `HEADS;
    localparam integer D      = `HEAD_DIM;
    localparam integer N      = `KV_SIZE;
    localparam integer KVL    = `KV_LINES;
    localparam integer VL     = `V_LINES;
    localparam integer NB     = (N + 31) / 32;   // blocks per head along kv
    localparam integer HD     = H * D;
    localparam integer HN     = H * N;
    localparam integer ELEM_RNE = `ELEM_RNE;
    localparam integer RULE   = `SCALE_RULE;

    // exp's format F
    localparam integer XF     = `EXP_FMT;
    localparam integer XW     = fmt_w(XF);          // element width w
    localparam integer XBITS  = 8 + 32 * XW;        // 264, 200 or 136
    localparam integer XINT   = (XF == 0);
    localparam integer XMB    = fmt_mbits(XF);
    localparam integer XBIAS  = fmt_bias(XF);
    localparam integer XEMAX  = fmt_emax(XF);
    localparam integer XEMIN  = 1 - XBIAS;          // fp: exponent of the smallest normal
    localparam integer XMNI   = fmt_mn_int(XF);
    localparam integer XMNE   = fmt_mn_exp(XF);
    localparam integer XMAXC  = fmt_maxcode(XF);
    localparam integer XSIGN  = 1 << (XW - 1);      // the sign bit of a code

    // v's format G
    localparam integer VF     = `V_FMT;
    localparam integer VW     = fmt_w(VF);
    localparam integer VBITS  = 8 + 32 * VW;
    localparam integer VMAXC  = fmt_maxcode(VF);
    localparam integer VSIGN  = 1 << (VW - 1);

    reg [15:0]      scaled_v  [0:HD-1];
    reg [15:0]      inv       [0:H-1];
    reg [15:0]      out_gold  [0:HD-1];
    reg [15:0]      exp_bf16  [0:HN-1];
    reg [XBITS-1:0] exp_mx    [0:KVL-1];
    reg [VBITS-1:0] v_mx      [0:VL-1];

    reg [8*1024-1:0] case_dir;
    reg [8*1100-1:0] path;
    reg [8*1100-1:0] exp_path;
    reg [8*1100-1:0] v_path;
    reg [8*10-1:0]   xname, vname;

    integer errors;          // every problem found, of any kind
    integer mism;            // out mismatches
    integer mx_mism;         // exp_<F> word mismatches
    integer v_pad_bad;       // nonzero v padding elements
    integer i, h, d, j;

    // ---- the device under test: D multiplier lanes, one head per step ------------------------
    reg  [16*D-1:0] lane_a;
    reg  [15:0]     lane_b;
    wire [16*D-1:0] lane_y;

    genvar g;
    generate
        for (g = 0; g < D; g = g + 1) begin : lane
            bf16_mul_rne u_mul (
                .a(lane_a[16*g +: 16]),
                .b(lane_b),
                .y(lane_y[16*g +: 16])
            );
        end
    endgenerate

    // ---- file format check: line count, width, lowercase hex, "\n" after every line -----------
    // $fgets leaves a line right-aligned in line_buf (the "\n" in bits 7:0, zeros above the line).
    // The hex test works on all the digits at once (bytes with bit 7 clear, lanes that cannot
    // borrow from each other); a line it rejects is scanned character by character for the message.
    reg [8*128-1:0] line_buf, m80, m7f, k30, k39, k61, k66, lo, hexok;
    task check_lines;
        input [8*1100-1:0] fname;
        input integer      digits;
        input integer      want;
        integer fd, n, lines, bad, c;
        reg [7:0] ch;
        begin
            m80 = 0; m7f = 0; k30 = 0; k39 = 0; k61 = 0; k66 = 0;
            for (c = 1; c <= digits; c = c + 1) begin
                m80[8*c +: 8] = 8'h80; m7f[8*c +: 8] = 8'h7f;
                k30[8*c +: 8] = "0";   k39[8*c +: 8] = "9";   k61[8*c +: 8] = "a";   k66[8*c +: 8] = "f";
            end
            fd = $fopen(fname, "r");
            if (fd == 0) begin
                $display("ERROR: cannot open %0s", fname);
                errors = errors + 1;
            end else begin
                lines = 0;
                bad = 0;
                n = $fgets(line_buf, fd);
                while (n > 0) begin
                    lines = lines + 1;
                    if (n != digits + 1 || line_buf[7:0] != 8'h0a) begin
                        if (bad == 0)
                            $display("ERROR: %0s line %0d: %0d characters, expected %0d hex digits and a newline",
                                     fname, lines, (line_buf[7:0] == 8'h0a) ? n - 1 : n, digits);
                        bad = bad + 1;
                    end else begin
                        // per digit byte: bit 7 set in hexok iff "0" <= c <= "9" or "a" <= c <= "f"
                        lo = line_buf & m7f;
                        hexok = (((lo | m80) - k30) & ((k39 | m80) - lo))
                              | (((lo | m80) - k61) & ((k66 | m80) - lo));
                        if ((line_buf & m80) != 0 || (hexok & m80) != m80) begin
                            for (c = 1; c <= digits; c = c + 1) begin
                                ch = line_buf[8*c +: 8];
                                if (!((ch >= "0" && ch <= "9") || (ch >= "a" && ch <= "f"))) begin
                                    if (bad == 0)
                                        $display("ERROR: %0s line %0d: character '%c' is not lowercase hex",
                                                 fname, lines, ch);
                                    c = digits + 1;
                                end
                            end
                            bad = bad + 1;
                        end
                    end
                    n = $fgets(line_buf, fd);
                end
                $fclose(fd);
                if (lines != want) begin
                    $display("ERROR: %0s has %0d lines, expected %0d", fname, lines, want);
                    errors = errors + 1;
                end
                if (bad != 0) begin
                    $display("ERROR: %0s: %0d malformed lines", fname, bad);
                    errors = errors + 1;
                end
            end
        end
    endtask

    // ---- the section 8.2 quantizer of exp-bf16 into F (section 4 for mxint8 + floor) -----------
    // A finite nonzero BF16 magnitude is m * 2^ex with 1 <= m < 256 (normal: m = 128 + fraction,
    // ex = field - 134; subnormal: m = fraction, ex = -133); msb(m) is its leading bit's position.
    function integer bf_m;  input [15:0] x; begin bf_m  = (x[14:7] != 0) ? 128 + x[6:0] : x[6:0]; end endfunction
    function integer bf_ex; input [15:0] x; begin bf_ex = ((x[14:7] != 0) ? x[14:7] : 1) - 134; end endfunction
    function integer msb8;
        input integer m;
        integer k;
        begin
            msb8 = 0;
            for (k = 1; k < 8; k = k + 1)
                if (m >= (1 << k)) msb8 = k;
        end
    endfunction

    // round m / 2^s to an integer in the element rounding mode (m < 256)
    function integer rshift_round;
        input integer m;
        input integer s;
        integer q, rem, half;
        begin
            if (s <= 0) begin
                q = m * (1 << (-s));
            end else if (s > 10) begin
                q = 0;                                 // m < 2^8 < half a step
            end else begin
                q    = m >> s;
                rem  = m - (q << s);
                half = 1 << (s - 1);
                if (rem > half || (rem == half && (ELEM_RNE == 0 || q % 2 == 1)))
                    q = q + 1;
            end
            rshift_round = q;
        end
    endfunction

    // the block exponent E of a finite nonzero amax (BF16 magnitude bits), before the clamp
    function integer scale_exp;
        input [14:0] amax;
        integer m, ex, p, fl, k, r, t, e0;
        begin
            m  = bf_m({1'b0, amax});
            ex = bf_ex({1'b0, amax});
            p  = msb8(m);
            fl = p + ex;                                   // floor(log2 amax)
            e0 = fl - XEMAX;                               // the floor rule
            case (RULE)
                1: scale_exp = e0 + ((m != (1 << p)) ? 1 : 0);           // ceil(log2 amax) - emax
                2: begin                                   // even: amax rounded to 1 + mbits bits, ties away
                    k = p - XMB;
                    r = 0;
                    if (k > 0) r = (m + (1 << (k - 1))) >> k;
                    scale_exp = e0 + ((k > 0 && r == (1 << (XMB + 1))) ? 1 : 0);
                end
                3: begin                                   // rceil: smallest E with amax <= max_normal * 2^E
                    t = ex - XMNE - e0;                    // amax <= mn_int * 2^(mn_exp + e0) ?
                    if (t >= 0) scale_exp = ((m << t) <= XMNI) ? e0 : e0 + 1;
                    else        scale_exp = (m <= (XMNI << (-t))) ? e0 : e0 + 1;
                end
                default: scale_exp = e0;
            endcase
        end
    endfunction

    // one element's code: x / 2^E rounded once to F, saturating (section 8.2 step 4)
    function [7:0] elem_code;
        input [15:0]  x;
        input integer e_blk;
        integer m, ex, p, q, e, gq, s, t, sat, fld;
        reg [7:0] mag;
        begin
            if (x[14:0] == 0) begin
                mag = 0;                                   // +-0: the +-0 code (mxint8: 0)
                q = 0;
            end else if (XINT) begin                       // q = round(x * 2^(6-E)), clamped to +-127
                q = rshift_round(bf_m(x), e_blk - 6 - bf_ex(x));
                if (q > 127) q = 127;
                mag = q;
            end else begin
                m  = bf_m(x);
                ex = bf_ex(x);
                p  = msb8(m);
                e  = p + ex - e_blk;                       // floor(log2 |y|), y = x / 2^E
                if (e < XEMIN) e = XEMIN;                  // subnormal spacing below 2^emin
                gq = e - XMB;                              // the grid: multiples of 2^gq
                q  = rshift_round(m, e_blk + gq - ex);     // |y| / 2^gq rounded
                t  = gq - XMNE;                            // q * 2^gq > mn_int * 2^mn_exp ?
                if (q == 0)       sat = 0;
                else if (t >= 0)  sat = (t > 16) || ((q << t) > XMNI);
                else              sat = (-t <= 24) && (q > (XMNI << (-t)));
                if (sat) begin
                    mag = XMAXC;
                end else if (q == 0) begin
                    mag = 0;
                end else begin
                    if (q == (1 << (XMB + 1))) begin       // rounded up into the next binade
                        q = q >> 1;
                        gq = gq + 1;
                    end
                    if (q < (1 << XMB)) fld = 0;           // subnormal (gq = emin - mbits)
                    else begin
                        fld = gq + XMB + XBIAS;
                        q = q - (1 << XMB);
                    end
                    mag = (fld << XMB) | q;
                end
            end
            if (!x[15])    elem_code = mag;
            else if (XINT) elem_code = -mag;              // two's complement byte
            else           elem_code = mag | XSIGN;       // -0 stays -0
        end
    endfunction

    function [XBITS-1:0] quant_block;
        input integer hh;
        input integer bb;
        integer i2, k, nonfinite, amax, e_blk;
        reg [15:0] x;
        reg [7:0] code;
        reg [XBITS-1:0] w;
        begin
            nonfinite = 0;
            amax = 0;
            for (i2 = 0; i2 < 32; i2 = i2 + 1) begin
                k = 32 * bb + i2;
                if (k < N) begin
                    x = exp_bf16[hh * N + k];
                    if (x[14:7] == 8'hff) nonfinite = 1;
                    if (x[14:0] > amax) amax = x[14:0];   // magnitude order = bit order
                end
            end
            w = {XBITS{1'b0}};
            if (nonfinite) begin
                w[XBITS-1 -: 8] = 8'hff;                  // every code 0
            end else begin
                if (amax == 0) e_blk = -127;               // scale byte 00, codes +-0
                else begin
                    e_blk = scale_exp(amax[14:0]);
                    if (e_blk < -127) e_blk = -127;
                    if (e_blk > 127) e_blk = 127;
                end
                w[XBITS-1 -: 8] = e_blk + 127;
                for (i2 = 0; i2 < 32; i2 = i2 + 1) begin
                    k = 32 * bb + i2;
                    if (k < N) begin                       // padding stays the +0 code
                        code = elem_code(exp_bf16[hh * N + k], e_blk);
                        w[XW*i2 +: XW] = code[XW-1:0];
                    end
                end
            end
            quant_block = w;
        end
    endfunction

    // ---- the run -----------------------------------------------------------------------------
    integer n_norm, n_sub, n_zero, n_inf, n_nan;
    integer mx_nan, mx_zero, mx_pad, mx_smin, mx_smax, mx_nonzero_elems, mx_sat, mx_subn, mx_negz;
    integer v_nan, v_smin, v_smax, v_pad;
    reg [XBITS-1:0] want_w, got_w;
    reg [VBITS-1:0] vw;
    reg [7:0]   cg, cw;
    reg [15:0]  yv;
    integer     first_i;

    initial begin
        errors = 0; mism = 0; mx_mism = 0; v_pad_bad = 0;
        n_norm = 0; n_sub = 0; n_zero = 0; n_inf = 0; n_nan = 0;
        mx_nan = 0; mx_zero = 0; mx_pad = 0; mx_smin = 255; mx_smax = 0; mx_nonzero_elems = 0;
        mx_sat = 0; mx_subn = 0; mx_negz = 0;
        v_nan = 0; v_smin = 255; v_smax = 0; v_pad = 0;
        xname = fmt_name(XF);
        vname = fmt_name(VF);

        if (!$value$plusargs("case_dir=%s", case_dir)) begin
            $display("ERROR: missing +case_dir=PATH");
            $display("TB FAIL");
            $fatal(1, "no case folder");
        end
        $display("tb_softmax_out: case %0s", case_dir);
        $display("tb_softmax_out: heads %0d, head_dim %0d, kv_size %0d, exp_%0s lines %0d (%0d hex digits), v %0s lines %0d (%0d hex digits), scale rule %0s, element rounding %0s",
                 H, D, N, xname, KVL, XBITS / 4, vname, VL, VBITS / 4, rule_name(RULE),
                 ELEM_RNE ? "nearest-even" : "nearest-away");

        // format and line counts
        $sformat(exp_path, "%0s/softmaxed_v.exp_%0s", case_dir, xname);
        $sformat(v_path, "%0s/softmaxed_v.v", case_dir);
        $sformat(path, "%0s/softmaxed_v.scaled_v", case_dir);   check_lines(path, 4, HD);
        $sformat(path, "%0s/softmaxed_v.inv", case_dir);        check_lines(path, 4, H);
        $sformat(path, "%0s/softmaxed_v.out", case_dir);        check_lines(path, 4, HD);
        $sformat(path, "%0s/softmaxed_v.exp-bf16", case_dir);   check_lines(path, 4, HN);
        check_lines(exp_path, XBITS / 4, H * NB);
        check_lines(v_path, VBITS / 4, H * NB * D);
        // the memories are sized by the files' line counts (run_tb.sh): they must be the same
        if (errors == 0 && KVL != H * NB) begin
            $display("ERROR: KV_LINES = %0d but heads * ceil(kv_size/32) = %0d", KVL, H * NB);
            errors = errors + 1;
        end
        if (errors == 0 && VL != H * NB * D) begin
            $display("ERROR: V_LINES = %0d but heads * ceil(kv_size/32) * head_dim = %0d", VL, H * NB * D);
            errors = errors + 1;
        end
        if (errors != 0) begin
            $display("tb_softmax_out: %0d format errors, not comparing", errors);
            $display("TB FAIL");
            $fatal(1, "malformed dumps");
        end

        // load; start from x so a word $readmemh did not fill is caught
        for (i = 0; i < HD; i = i + 1) begin scaled_v[i] = 16'hxxxx; out_gold[i] = 16'hxxxx; end
        for (i = 0; i < H;  i = i + 1) inv[i] = 16'hxxxx;
        for (i = 0; i < HN; i = i + 1) exp_bf16[i] = 16'hxxxx;
        for (i = 0; i < KVL; i = i + 1) exp_mx[i] = {XBITS{1'bx}};
        for (i = 0; i < VL; i = i + 1) v_mx[i] = {VBITS{1'bx}};
        $sformat(path, "%0s/softmaxed_v.scaled_v", case_dir);   $readmemh(path, scaled_v);
        $sformat(path, "%0s/softmaxed_v.inv", case_dir);        $readmemh(path, inv);
        $sformat(path, "%0s/softmaxed_v.out", case_dir);        $readmemh(path, out_gold);
        $sformat(path, "%0s/softmaxed_v.exp-bf16", case_dir);   $readmemh(path, exp_bf16);
        $readmemh(exp_path, exp_mx);
        $readmemh(v_path, v_mx);
        for (i = 0; i < HD; i = i + 1)
            if (^scaled_v[i] === 1'bx || ^out_gold[i] === 1'bx) begin
                if (errors == 0) $display("ERROR: scaled_v/out word %0d did not load", i);
                errors = errors + 1;
            end
        for (i = 0; i < H; i = i + 1)
            if (^inv[i] === 1'bx) begin
                if (errors == 0) $display("ERROR: inv word %0d did not load", i);
                errors = errors + 1;
            end
        for (i = 0; i < HN; i = i + 1)
            if (^exp_bf16[i] === 1'bx) begin
                if (errors == 0) $display("ERROR: exp-bf16 word %0d did not load", i);
                errors = errors + 1;
            end
        for (i = 0; i < KVL; i = i + 1)
            if (^exp_mx[i] === 1'bx) begin
                if (errors == 0) $display("ERROR: exp_%0s word %0d did not load (all %0d bits)", xname, i, XBITS);
                errors = errors + 1;
            end
        for (i = 0; i < VL; i = i + 1)
            if (^v_mx[i] === 1'bx) begin
                if (errors == 0) $display("ERROR: v word %0d did not load (all %0d bits)", i, VBITS);
                errors = errors + 1;
            end

        if (errors == 0) begin
            // exp_<F>: every word against the quantization of exp-bf16
            for (h = 0; h < H; h = h + 1)
                for (j = 0; j < NB; j = j + 1) begin
                    got_w  = exp_mx[h * NB + j];
                    want_w = quant_block(h, j);
                    if (got_w[XBITS-1 -: 8] == 8'hff) mx_nan = mx_nan + 1;
                    else begin
                        if (got_w[XBITS-1 -: 8] < mx_smin) mx_smin = got_w[XBITS-1 -: 8];
                        if (got_w[XBITS-1 -: 8] > mx_smax) mx_smax = got_w[XBITS-1 -: 8];
                    end
                    if (got_w == {XBITS{1'b0}}) mx_zero = mx_zero + 1;
                    for (i = 0; i < 32; i = i + 1) begin
                        cg = got_w[XW*i +: XW];
                        if (cg != 0) mx_nonzero_elems = mx_nonzero_elems + 1;
                        if (32 * j + i >= N) mx_pad = mx_pad + 1;
                        if (XINT ? (cg == XMAXC || cg == 8'h81) : ((cg & ~XSIGN) == XMAXC)) mx_sat = mx_sat + 1;
                        if (!XINT && cg == XSIGN) mx_negz = mx_negz + 1;
                        if (!XINT && (cg & ~XSIGN) != 0 && (cg & ~XSIGN) < (1 << XMB)) mx_subn = mx_subn + 1;
                    end
                    if (got_w !== want_w) begin
                        if (mx_mism == 0) begin
                            $display("MISMATCH exp_%0s line %0d (head %0d, block %0d):", xname, h * NB + j + 1, h, j);
                            $display("  expected %h", want_w);
                            $display("  got      %h", got_w);
                            if (got_w[XBITS-1 -: 8] != want_w[XBITS-1 -: 8])
                                $display("  scale byte: expected %h, got %h", want_w[XBITS-1 -: 8], got_w[XBITS-1 -: 8]);
                            first_i = -1;
                            for (i = 31; i >= 0; i = i - 1)
                                if (got_w[XW*i +: XW] != want_w[XW*i +: XW]) first_i = i;
                            if (first_i >= 0) begin
                                cw = want_w[XW*first_i +: XW];
                                cg = got_w[XW*first_i +: XW];
                                if (XINT)
                                    $display("  element %0d (kv %0d%0s): expected %0d, got %0d", first_i,
                                             32 * j + first_i, (32 * j + first_i >= N) ? ", padding" : "",
                                             $signed(cw), $signed(cg));
                                else
                                    $display("  element %0d (kv %0d%0s, exp-bf16 %h): expected code %h, got %h (%0d-bit %0s codes)",
                                             first_i, 32 * j + first_i, (32 * j + first_i >= N) ? ", padding" : "",
                                             (32 * j + first_i < N) ? exp_bf16[h * N + 32 * j + first_i] : 16'h0000,
                                             cw, cg, XW, xname);
                            end
                        end
                        mx_mism = mx_mism + 1;
                    end
                end
            $display("tb_softmax_out: exp_%0s: %0d blocks of %0d bits checked against quantize(exp-bf16): %0d mismatches (scale bytes %0d..%0d, %0d NaN blocks, %0d all-zero blocks, %0d nonzero elements, %0d saturated, %0d subnormal, %0d -0, %0d padding elements)",
                     xname, KVL, XBITS, mx_mism, (mx_smin > mx_smax) ? 0 : mx_smin, mx_smax, mx_nan, mx_zero,
                     mx_nonzero_elems, mx_sat, mx_subn, mx_negz, mx_pad);
            errors = errors + mx_mism;

            // v: scale bytes of every block; the padding of each head's last block
            for (i = 0; i < VL; i = i + 1) begin
                vw = v_mx[i];
                if (vw[VBITS-1 -: 8] == 8'hff) v_nan = v_nan + 1;
                else begin
                    if (vw[VBITS-1 -: 8] < v_smin) v_smin = vw[VBITS-1 -: 8];
                    if (vw[VBITS-1 -: 8] > v_smax) v_smax = vw[VBITS-1 -: 8];
                end
            end
            if (N % 32 != 0)
                for (h = 0; h < H; h = h + 1)
                    for (d = 0; d < D; d = d + 1) begin
                        vw = v_mx[(h * NB + NB - 1) * D + d];
                        for (i = N % 32; i < 32; i = i + 1) begin
                            v_pad = v_pad + 1;
                            cg = vw[VW*i +: VW];
                            if (cg != 0) begin
                                if (v_pad_bad == 0)
                                    $display("MISMATCH v line %0d (head %0d, block %0d, column %0d): element %0d (kv %0d, padding) is code %h, expected %h (+0)",
                                             (h * NB + NB - 1) * D + d + 1, h, NB - 1, d, i, 32 * (NB - 1) + i, cg, 8'h00);
                                v_pad_bad = v_pad_bad + 1;
                            end
                        end
                    end
            $display("tb_softmax_out: v: %0d blocks of %0d bits (%0s) loaded: scale bytes %0d..%0d, %0d NaN scales; %0d padding elements checked: %0d nonzero",
                     VL, VBITS, vname, (v_smin > v_smax) ? 0 : v_smin, v_smax, v_nan, v_pad, v_pad_bad);
            errors = errors + v_pad_bad;

            // out: D lanes per step, one head per step
            for (h = 0; h < H; h = h + 1) begin
                for (d = 0; d < D; d = d + 1)
                    lane_a[16*d +: 16] = scaled_v[h * D + d];
                lane_b = inv[h];
                #1;
                for (d = 0; d < D; d = d + 1) begin
                    yv = lane_y[16*d +: 16];
                    if (yv[14:7] == 8'hff) begin
                        if (yv[6:0] != 0) n_nan = n_nan + 1; else n_inf = n_inf + 1;
                    end else if (yv[14:7] == 8'h00) begin
                        if (yv[6:0] != 0) n_sub = n_sub + 1; else n_zero = n_zero + 1;
                    end else n_norm = n_norm + 1;
                    if (yv !== out_gold[h * D + d]) begin
                        if (mism == 0)
                            $display("MISMATCH out index %0d (line %0d, head %0d, column %0d): scaled_v %h * inv %h: expected %h, got %h",
                                     h * D + d, h * D + d + 1, h, d, scaled_v[h * D + d], inv[h],
                                     out_gold[h * D + d], yv);
                        mism = mism + 1;
                    end
                end
            end
            $display("tb_softmax_out: out: %0d elements (%0d heads x %0d columns) compared: %0d mismatches (results: %0d normal, %0d subnormal, %0d zero, %0d inf, %0d NaN)",
                     HD, H, D, mism, n_norm, n_sub, n_zero, n_inf, n_nan);
            errors = errors + mism;
        end

        if (errors != 0) begin
            $display("tb_softmax_out: %0d errors", errors);
            $display("TB FAIL");
            $fatal(1, "mismatch");
        end
        $display("TB PASS");
        $finish;
    end
endmodule
