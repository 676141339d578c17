# The two commands a newcomer needs: `make run` and `make test` (see README.md).
CARGO  ?= cargo
VENV   := .venv
PY     := $(VENV)/bin/python
KV     ?= 128
SEED   ?= 0
OUT    ?= out

.PHONY: run test build venv fmt clippy rust-test py-test tb-test py-package py-package-test \
        cocotb-test golden bench clean

## Build and run softmax_v on the default case; prints where the dumps went.
run:
	$(CARGO) run --release --quiet -p sim -- run --kv-size $(KV) --seed $(SEED) --out $(OUT)

build:
	$(CARGO) build --release

## Python venv for the independent reference (numpy + ml_dtypes + mpmath + pytest).
venv: $(VENV)/.installed
$(VENV)/.installed: scripts/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements.txt
	touch $@

## Everything CI checks: formatting, clippy -D warnings, Rust tests (incl. the cross-check
## against the Python reference), the Python reference's own tests, the Verilog testbench, the
## hwsim Python package's tests and its cocotb testbench.
test: venv fmt clippy rust-test py-test tb-test py-package-test cocotb-test

fmt:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets --quiet -- -D warnings

# hwsim-py has no Rust tests (its tests are py-package-test); its PyO3 build is maturin's.
rust-test: venv
	SIM_PYTHON=$(abspath $(PY)) $(CARGO) test --workspace --release --exclude hwsim-py

py-test: venv
	$(PY) -m pytest -q scripts

## The hwsim Python package (crates/hwsim-py), installed into the venv as a user would install it;
## maturin builds it in release mode in the workspace's target folder (maturin must be on PATH).
py-package: venv
	PATH=$(abspath $(VENV))/bin:$$PATH $(PY) -m pip install --quiet --disable-pip-version-check \
		--no-build-isolation ./crates/hwsim-py

## The package against scripts/reference.py and the CLI's files.
py-package-test: py-package build
	SIM=$(abspath $(SIM)) $(PY) -m pytest -q crates/hwsim-py/tests

## cocotb testbenches of examples/rtl scoreboarded against hwsim in-process: the good units pass,
## broken copies fail. Needs iverilog (installed when CI=true); SIM_SKIP=cocotb skips it.
cocotb-test: py-package build
	SIM=$(abspath $(SIM)) $(PY) examples/cocotb/run.py

## Benchmarks: one table of end-to-end and per-stage figures next to this machine's ceilings.
bench: venv py-package
	$(PY) scripts/bench.py

## Rewrite the checked-in golden corpus (the only way it changes; review the diff before committing).
SIM := ./target/release/sim
golden: build
	rm -rf golden.new
	$(SIM) gen --kv-sizes 1,4,31,32,33,64,100,128,257 --seeds 0,1 --out golden.new/softmax > /dev/null
	$(SIM) op dot --m 33 --seed 0 --out golden.new/ops > /dev/null
	$(SIM) op dot --m 1 --seed 1 --out-dtype fp32 --out golden.new/ops > /dev/null
	$(SIM) op gevm --m 70 --k 9 --seed 0 --out golden.new/ops > /dev/null
	$(SIM) op gemm --m 5 --k 33 --n 7 --seed 0 --out golden.new/ops > /dev/null
	$(SIM) op gemm --m 8 --k 64 --n 8 --seed 2 --out-dtype fp32 --rounding toward-zero --out golden.new/ops > /dev/null
	$(SIM) rope --out golden.new/tmp > /dev/null
	mkdir -p golden.new/rope && mv golden.new/tmp/rope/manifest.json golden.new/rope/ && rm -rf golden.new/tmp
	cp golden/README.md golden.new/ 2>/dev/null || true
	rm -rf golden && mv golden.new golden
	@du -sh golden

clean:
	$(CARGO) clean
	rm -rf $(VENV) $(OUT)

## Verilog testbench self-test (needs iverilog; skips without it unless CI=true, which installs it):
## stage 6 (out = RNE_bf16(scaled_v * inv)) through examples/rtl/bf16_mul_rne.v on simulator and
## hand-made cases, plus broken copies that must fail.
tb-test: build
	SIM=$(SIM) scripts/tb/test_tb.sh
