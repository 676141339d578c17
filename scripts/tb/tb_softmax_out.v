// tb_softmax_out: checks stage 6 of softmax_v (docs/numerics.md) on a case folder written by
// `sim run`: out[h, d] = RNE_bf16(scaled_v[h, d] * inv[h]), one bf16_mul_rne lane per column.
//
// It also loads the 264-bit MXINT8 words of softmaxed_v.exp_mxint8 and requires each to equal the
// quantization (docs/numerics.md section 4) of the matching 32 values of softmaxed_v.exp-bf16, so a
// truncated word, a misplaced scale byte, a wrong element order or nonzero padding all fail.
//
// Every file is first read line by line with $fgets: the line count must be the expected one and
// every line exactly the word width in lowercase hex plus "\n" (docs/dump-format.md).
//
// Compile-time sizes (iverilog -D...; run_tb.sh passes them from the case's manifest.json):
//   HEADS       number of heads                 (lines of softmaxed_v.inv)
//   HEAD_DIM    columns per head                (scaled_v/out have HEADS*HEAD_DIM lines)
//   KV_SIZE     kv length N                     (exp-bf16 has HEADS*KV_SIZE lines)
//   KV_LINES    lines of softmaxed_v.exp_mxint8 (must equal HEADS*ceil(KV_SIZE/32))
//   ELEM_RNE    1 if the manifest says element_rounding = nearest-even, 0 for nearest-away
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
`ifndef ELEM_RNE
`define ELEM_RNE 0
`endif

module tb_softmax_out;
    localparam integer H      = `HEADS;
    localparam integer D      = `HEAD_DIM;
    localparam integer N      = `KV_SIZE;
    localparam integer KVL    = `KV_LINES;
    localparam integer NB     = (N + 31) / 32;   // blocks per head along kv
    localparam integer HD     = H * D;
    localparam integer HN     = H * N;
    localparam integer ELEM_RNE = `ELEM_RNE;

    reg [15:0]  scaled_v  [0:HD-1];
    reg [15:0]  inv       [0:H-1];
    reg [15:0]  out_gold  [0:HD-1];
    reg [15:0]  exp_bf16  [0:HN-1];
    reg [263:0] exp_mx    [0:KVL-1];

    reg [8*1024-1:0] case_dir;
    reg [8*1100-1:0] path;

    integer errors;          // every problem found, of any kind
    integer mism;            // out mismatches
    integer mx_mism;         // exp_mxint8 word mismatches
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
    reg [8*128-1:0] line_buf;
    task check_lines;
        input [8*1100-1:0] fname;
        input integer      digits;
        input integer      want;
        integer fd, n, lines, bad, c;
        reg [7:0] ch;
        begin
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
                        for (c = 1; c <= digits; c = c + 1) begin
                            ch = line_buf[8*c +: 8];
                            if (!((ch >= "0" && ch <= "9") || (ch >= "a" && ch <= "f"))) begin
                                if (bad == 0)
                                    $display("ERROR: %0s line %0d: character '%c' is not lowercase hex",
                                             fname, lines, ch);
                                bad = bad + 1;
                                c = digits + 1;
                            end
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

    // ---- MXINT8 quantization of one block of exp-bf16 (docs/numerics.md section 4) -------------
    function [7:0] elem;        // one element: round(x * 2^(6-E)), clamped to +-127
        input [15:0]  x;
        input integer e_blk;    // block exponent E
        integer fld, m, ex, s, q, rem, half;
        begin
            fld = x[14:7];
            m   = (fld != 0) ? (128 + x[6:0]) : x[6:0];
            ex  = ((fld != 0) ? fld : 1) - 134;        // |x| = m * 2^ex
            s   = e_blk - 6 - ex;                      // q = m / 2^s
            if (s <= 0) begin
                q = m * (1 << (-s));
            end else if (s > 10) begin
                q = 0;                                 // m < 2^9 <= half a step
            end else begin
                q    = m >> s;
                rem  = m - (q << s);
                half = 1 << (s - 1);
                if (rem > half || (rem == half && (ELEM_RNE == 0 || q % 2 == 1)))
                    q = q + 1;
            end
            if (q > 127) q = 127;
            if (x[15]) q = -q;
            elem = q[7:0];
        end
    endfunction

    function [263:0] quant_block;
        input integer hh;
        input integer bb;
        integer i2, k, nonfinite, amax, fld, e_blk;
        reg [15:0] x;
        reg [263:0] w;
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
            w = 264'd0;
            if (nonfinite) begin
                w[263:256] = 8'hff;
            end else if (amax != 0) begin
                fld = amax >> 7;
                if (fld != 0) begin
                    e_blk = fld - 127;
                end else begin                          // subnormal amax: floor(log2) < -126
                    e_blk = -134;
                    for (i2 = 0; i2 < 7; i2 = i2 + 1)
                        if (amax[i2]) e_blk = -133 + i2;
                end
                if (e_blk < -127) e_blk = -127;
                w[263:256] = e_blk + 127;
                for (i2 = 0; i2 < 32; i2 = i2 + 1) begin
                    k = 32 * bb + i2;
                    if (k < N)
                        w[8*i2 +: 8] = elem(exp_bf16[hh * N + k], e_blk);
                end
            end
            quant_block = w;
        end
    endfunction

    // ---- the run -----------------------------------------------------------------------------
    integer n_norm, n_sub, n_zero, n_inf, n_nan;
    integer mx_nan, mx_zero, mx_pad, mx_smin, mx_smax, mx_nonzero_elems;
    reg [263:0] want_w, got_w;
    reg [15:0]  yv;
    integer     first_i;

    initial begin
        errors = 0; mism = 0; mx_mism = 0;
        n_norm = 0; n_sub = 0; n_zero = 0; n_inf = 0; n_nan = 0;
        mx_nan = 0; mx_zero = 0; mx_pad = 0; mx_smin = 255; mx_smax = 0; mx_nonzero_elems = 0;

        if (!$value$plusargs("case_dir=%s", case_dir)) begin
            $display("ERROR: missing +case_dir=PATH");
            $display("TB FAIL");
            $fatal(1, "no case folder");
        end
        $display("tb_softmax_out: case %0s", case_dir);
        $display("tb_softmax_out: heads %0d, head_dim %0d, kv_size %0d, exp_mxint8 lines %0d, element rounding %0s",
                 H, D, N, KVL, ELEM_RNE ? "nearest-even" : "nearest-away");

        if (KVL != H * NB) begin
            $display("ERROR: KV_LINES = %0d but heads * ceil(kv_size/32) = %0d", KVL, H * NB);
            errors = errors + 1;
        end

        // format and line counts
        $sformat(path, "%0s/softmaxed_v.scaled_v", case_dir);   check_lines(path, 4, HD);
        $sformat(path, "%0s/softmaxed_v.inv", case_dir);        check_lines(path, 4, H);
        $sformat(path, "%0s/softmaxed_v.out", case_dir);        check_lines(path, 4, HD);
        $sformat(path, "%0s/softmaxed_v.exp-bf16", case_dir);   check_lines(path, 4, HN);
        $sformat(path, "%0s/softmaxed_v.exp_mxint8", case_dir); check_lines(path, 66, KVL);
        if (errors != 0) begin
            $display("tb_softmax_out: %0d format errors, not comparing", errors);
            $display("TB FAIL");
            $fatal(1, "malformed dumps");
        end

        // load; start from x so a word $readmemh did not fill is caught
        for (i = 0; i < HD; i = i + 1) begin scaled_v[i] = 16'hxxxx; out_gold[i] = 16'hxxxx; end
        for (i = 0; i < H;  i = i + 1) inv[i] = 16'hxxxx;
        for (i = 0; i < HN; i = i + 1) exp_bf16[i] = 16'hxxxx;
        for (i = 0; i < KVL; i = i + 1) exp_mx[i] = {264{1'bx}};
        $sformat(path, "%0s/softmaxed_v.scaled_v", case_dir);   $readmemh(path, scaled_v);
        $sformat(path, "%0s/softmaxed_v.inv", case_dir);        $readmemh(path, inv);
        $sformat(path, "%0s/softmaxed_v.out", case_dir);        $readmemh(path, out_gold);
        $sformat(path, "%0s/softmaxed_v.exp-bf16", case_dir);   $readmemh(path, exp_bf16);
        $sformat(path, "%0s/softmaxed_v.exp_mxint8", case_dir); $readmemh(path, exp_mx);
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
                if (errors == 0) $display("ERROR: exp_mxint8 word %0d did not load (all 264 bits)", i);
                errors = errors + 1;
            end

        // exp_mxint8: every 264-bit word against the quantization of exp-bf16
        if (errors == 0) begin
            for (h = 0; h < H; h = h + 1)
                for (j = 0; j < NB; j = j + 1) begin
                    got_w  = exp_mx[h * NB + j];
                    want_w = quant_block(h, j);
                    if (got_w[263:256] == 8'hff) mx_nan = mx_nan + 1;
                    else begin
                        if (got_w[263:256] < mx_smin) mx_smin = got_w[263:256];
                        if (got_w[263:256] > mx_smax) mx_smax = got_w[263:256];
                    end
                    if (got_w == 264'd0) mx_zero = mx_zero + 1;
                    for (i = 0; i < 32; i = i + 1) begin
                        if (got_w[8*i +: 8] != 8'd0) mx_nonzero_elems = mx_nonzero_elems + 1;
                        if (32 * j + i >= N) mx_pad = mx_pad + 1;
                    end
                    if (got_w !== want_w) begin
                        if (mx_mism == 0) begin
                            $display("MISMATCH exp_mxint8 line %0d (head %0d, block %0d):", h * NB + j + 1, h, j);
                            $display("  expected %h", want_w);
                            $display("  got      %h", got_w);
                            if (got_w[263:256] != want_w[263:256])
                                $display("  scale byte: expected %h, got %h", want_w[263:256], got_w[263:256]);
                            first_i = -1;
                            for (i = 31; i >= 0; i = i - 1)
                                if (got_w[8*i +: 8] != want_w[8*i +: 8]) first_i = i;
                            if (first_i >= 0)
                                $display("  element %0d (kv %0d%0s): expected %0d, got %0d", first_i,
                                         32 * j + first_i, (32 * j + first_i >= N) ? ", padding" : "",
                                         $signed(want_w[8*first_i +: 8]), $signed(got_w[8*first_i +: 8]));
                        end
                        mx_mism = mx_mism + 1;
                    end
                end
            $display("tb_softmax_out: exp_mxint8: %0d blocks of 264 bits checked against quantize(exp-bf16): %0d mismatches (scale bytes %0d..%0d, %0d NaN blocks, %0d all-zero blocks, %0d nonzero elements, %0d padding elements)",
                     KVL, mx_mism, (mx_smin > mx_smax) ? 0 : mx_smin, mx_smax, mx_nan, mx_zero,
                     mx_nonzero_elems, mx_pad);
            errors = errors + mx_mism;

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
