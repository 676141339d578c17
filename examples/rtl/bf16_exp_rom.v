// bf16_exp_rom: y = e^x for a BF16 x by ROM lookup, one registered read per clock.
//
// The ROM holds what `sim export-lut --unit exp` writes for a profile whose exp unit is `exact`
// (the reference): 65,536 16-bit words, entry x = RNE_bf16(e^x) for the BF16 bit pattern x
// (docs/microarchitecture.md; exp_lut.json describes the words). The file is loaded with
// $readmemh, so the RTL and the golden model share one table.
//
// Timing: x is sampled on the rising edge when `valid_in` is high; y and `valid_out` follow one
// cycle later (a synchronous-read ROM, as block RAMs and ROM macros provide).
module bf16_exp_rom #(
    parameter ROM_FILE = "exp_lut.hex"
) (
    input  wire        clk,
    input  wire        valid_in,
    input  wire [15:0] x,
    output reg         valid_out,
    output reg  [15:0] y
);
    reg [15:0] rom [0:65535];

    initial begin
        $readmemh(ROM_FILE, rom);
        valid_out = 1'b0;
        y = 16'h0000;
    end

    always @(posedge clk) begin
        valid_out <= valid_in;
        if (valid_in)
            y <= rom[x];
    end
endmodule
