// sim_main.cpp: the clock of the DPI-C testbenches (tb_exp.sv, tb_mul.sv). Verilated as the
// model `Vtb`; runs until the testbench calls $finish. The testbench decides pass or fail
// ($fatal makes the process exit nonzero).
#include <memory>

#include "Vtb.h"
#include "verilated.h"

int main(int argc, char** argv) {
    const auto context = std::make_unique<VerilatedContext>();
    context->commandArgs(argc, argv);
    const auto top = std::make_unique<Vtb>(context.get(), "tb");
    top->clk = 0;
    while (!context->gotFinish()) {
        top->clk = !top->clk;
        top->eval();
        context->timeInc(1);
    }
    top->final();
    return 0;
}
