# The two commands a newcomer needs: `make run` and `make test` (see README.md).
CARGO  ?= cargo
VENV   := .venv
PY     := $(VENV)/bin/python
KV     ?= 128
SEED   ?= 0
OUT    ?= out

.PHONY: run test build test-build venv fmt clippy msrv rust-test py-test cover-test tb-test capi-test \
        dpi-test header py-package py-package-test cocotb-test slurm-test golden bench mutants clean

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

## Everything CI checks: formatting, clippy -D warnings, the declared rust-version, Rust tests
## (release speed with overflow checks, incl. the cross-checks against the Python reference and
## the header check of libhwsim), the Python reference's own tests, coverage closure of the golden
## corpus, the Verilog testbench, libhwsim from C, the Verilator DPI-C testbench, the hwsim Python
## package's tests, its cocotb testbench and a sweep on a real Slurm cluster. No check is skipped
## silently: one that cannot run fails, naming the install command, unless SIM_SKIP
## (comma-separated: python, iverilog, verilator, cocotb, slurm) opts out of it explicitly.
test: venv fmt clippy msrv rust-test py-test cover-test tb-test capi-test dpi-test py-package-test \
      cocotb-test slurm-test

fmt:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets --quiet -- -D warnings

msrv:
	python3 scripts/check_msrv.py

# hwsim-py has no Rust tests (its tests are py-package-test); its PyO3 build is maturin's.
TEST_PROFILE := release-checked
## The fuzz targets (crates/sim/tests/fuzz.rs) run SIM_FUZZ_SECONDS each; the extremes of every
## config field are tested once more in plain release, where a wrapped sum would not panic.
SIM_FUZZ_SECONDS ?= 30
rust-test: venv
	SIM_PYTHON=$(abspath $(PY)) SIM_FUZZ_SECONDS=$(SIM_FUZZ_SECONDS) \
		$(CARGO) test --workspace --profile $(TEST_PROFILE) --exclude hwsim-py
	$(CARGO) test --release -p hw-units --test config_extremes

## scripts/test_dists.py runs the simulator binary (and fails without it), hence the build.
py-test: venv test-build
	SIM=$(abspath ./target/$(TEST_PROFILE)/sim) $(PY) -m pytest -q scripts

## The hwsim Python package (crates/hwsim-py), installed into the venv as a user would install it;
## maturin builds it in the workspace's target folder (maturin must be on PATH), here in the test
## profile (overflow checks on) so it shares the test build's dependencies; `make bench` installs
## the release build.
py-package: venv
	PATH=$(abspath $(VENV))/bin:$$PATH MATURIN_PEP517_ARGS="--profile $(TEST_PROFILE)" \
		$(PY) -m pip install --quiet --disable-pip-version-check --no-build-isolation \
		--force-reinstall --no-deps ./crates/hwsim-py

## The package against scripts/reference.py and the CLI's files.
py-package-test: py-package test-build
	SIM=$(abspath ./target/$(TEST_PROFILE)/sim) $(PY) -m pytest -q crates/hwsim-py/tests

## cocotb testbenches of examples/rtl scoreboarded against hwsim in-process: the good units pass,
## broken copies fail. Needs iverilog (installed when running as root); SIM_SKIP=cocotb skips it.
cocotb-test: py-package test-build
	SIM=$(abspath ./target/$(TEST_PROFILE)/sim) $(PY) examples/cocotb/run.py

## Benchmarks: one table of end-to-end and per-stage figures next to this machine's ceilings
## (with the release build of the hwsim package).
bench: venv build
	PATH=$(abspath $(VENV))/bin:$$PATH $(PY) -m pip install --quiet --disable-pip-version-check \
		--no-build-isolation --force-reinstall --no-deps ./crates/hwsim-py
	$(PY) scripts/bench.py

## Mutation testing (not part of `make test`: hours on two cores). cargo-mutants mutates hw-types
## and hw-units one change at a time and runs each crate's own tests (release profile, exclusions
## with their reasons in .cargo/mutants.toml); a mutant the tests miss is a gap in them. Fails if
## either crate has a missed mutant, or if cargo-mutants could not run (exit 2 is "missed",
## 3 "timeouts", which count as caught; anything else, such as a failing baseline, is an error).
## Full reports: target/mutants/<crate>/mutants.out; the figures are in docs/testing.md.
MUTANTS_JOBS ?= 1
MUTANTS_ARGS ?=
mutants:
	@$(CARGO) mutants --version > /dev/null 2>&1 || $(CARGO) install --locked cargo-mutants
	@for c in hw-types hw-units; do \
	  mkdir -p target/mutants/$$c; $(CARGO) mutants -p $$c --jobs $(MUTANTS_JOBS) $(MUTANTS_ARGS) --output target/mutants/$$c; \
	  rc=$$?; case $$rc in 0|2|3) ;; *) echo "cargo mutants -p $$c did not run (exit $$rc)"; exit 1;; esac; \
	done
	@for c in hw-types hw-units; do \
	  d=target/mutants/$$c/mutants.out; \
	  printf '%-9s caught %4s  missed %4s  unviable %4s  timeout %4s\n' $$c \
	    $$(cat $$d/caught.txt | wc -l) $$(cat $$d/missed.txt | wc -l) \
	    $$(cat $$d/unviable.txt | wc -l) $$(cat $$d/timeout.txt | wc -l); \
	  sed 's/^/    missed: /' $$d/missed.txt; \
	done
	@test ! -s target/mutants/hw-types/mutants.out/missed.txt && test ! -s target/mutants/hw-units/mutants.out/missed.txt

## Rewrite the checked-in golden corpus (the only way it changes; review the diff before committing).
SIM := ./target/release/sim
GOLDEN_BUDGET_MB := 20
MX_FP_FORMATS := mxfp8-e4m3 mxfp8-e5m2 mxfp6-e3m2 mxfp6-e2m3 mxfp4-e2m1
golden: build
	rm -rf golden.new
	$(SIM) gen --kv-sizes 1,4,31,32,33,64,100,128,257 --seeds 0,1 --out golden.new/softmax > /dev/null
	$(SIM) op dot --m 33 --seed 0 --out golden.new/ops > /dev/null
	$(SIM) op dot --m 1 --seed 1 --out-dtype fp32 --out golden.new/ops > /dev/null
	$(SIM) op gevm --m 70 --k 9 --seed 0 --out golden.new/ops > /dev/null
	$(SIM) op gemm --m 5 --k 33 --n 7 --seed 0 --out golden.new/ops > /dev/null
	$(SIM) op gemm --m 8 --k 64 --n 8 --seed 2 --out-dtype fp32 --rounding toward-zero --out golden.new/ops > /dev/null
	$(SIM) run --kv-size 33 --seed 3 --dist corners --heads 8 --head-dim 16 --out golden.new/dist > /dev/null
	$(SIM) run --kv-size 259 --seed 3 --dist corners --heads 8 --head-dim 16 --out golden.new/dist > /dev/null
	$(SIM) run --kv-size 100 --seed 4 --dist mixed --out golden.new/dist > /dev/null
	$(SIM) op gemm --m 9 --k 70 --n 5 --seed 1 --dist corners --out golden.new/dist > /dev/null
	$(SIM) op gevm --m 100 --k 7 --seed 2 --dist mixed --out-dtype fp32 --out golden.new/dist > /dev/null
	$(SIM) op dot --m 200 --seed 3 --dist corners --rounding toward-neg --out golden.new/dist > /dev/null
	$(SIM) op quantize --m 300 --seed 1 --dist corners --out golden.new/dist > /dev/null
	$(SIM) op quantize --m 70 --seed 2 --dist mixed --element-rounding nearest-even --out golden.new/dist > /dev/null
	$(SIM) corners --out golden.new/corners > /dev/null
	for f in $(MX_FP_FORMATS); do for r in floor ceil even rceil; do \
	  $(SIM) op quantize --m 300 --seed 1 --dist corners --mx-format $$f --scale-rule $$r --out golden.new/mx > /dev/null || exit 1; \
	done; \
	  $(SIM) op quantize --m 70 --seed 2 --dist mixed --mx-format $$f --element-rounding nearest-away --out golden.new/mx > /dev/null || exit 1; \
	  $(SIM) op gemm --m 9 --k 70 --n 5 --seed 1 --dist corners --mx-format $$f --out golden.new/mx > /dev/null || exit 1; \
	done
	for r in ceil even rceil; do \
	  $(SIM) op quantize --m 300 --seed 1 --dist corners --scale-rule $$r --out golden.new/mx > /dev/null || exit 1; \
	done
	$(SIM) op gemm --m 9 --k 70 --n 5 --seed 1 --dist corners --mx-format mxfp8-e4m3,mxfp4-e2m1 --out golden.new/mx > /dev/null
	$(SIM) op gemm --m 9 --k 70 --n 5 --seed 3 --mx-format mxfp8-e4m3,mxfp4-e2m1 --out golden.new/mx > /dev/null
	$(SIM) op gemm --m 9 --k 70 --n 5 --seed 1 --dist corners --mx-format mxint8,mxfp4-e2m1 --out golden.new/mx > /dev/null
	$(SIM) op gemm --m 8 --k 64 --n 8 --seed 2 --mx-format mxfp8-e5m2,mxfp8-e4m3 --scale-rule rceil --out-dtype fp32 --rounding toward-zero --out golden.new/mx > /dev/null
	$(SIM) op dot --m 200 --seed 3 --dist corners --mx-format mxfp8-e5m2 --out golden.new/mx > /dev/null
	$(SIM) op gevm --m 100 --k 7 --seed 2 --dist mixed --mx-format mxfp6-e2m3,mxfp6-e3m2 --out-dtype fp32 --out golden.new/mx > /dev/null
	for p in mxfp8-e4m3/mxfp8-e4m3 mxfp8-e4m3/mxfp4-e2m1 mxfp6-e2m3/mxfp6-e3m2 mxint8/mxfp4-e2m1; do \
	  $(SIM) run --kv-size 100 --seed 3 --heads 8 --head-dim 16 --exp-format $${p%/*} --v-format $${p#*/} --out golden.new/mx-softmax > /dev/null || exit 1; \
	  $(SIM) run --kv-size 33 --seed 3 --heads 8 --head-dim 16 --dist corners --exp-format $${p%/*} --v-format $${p#*/} --out golden.new/mx-softmax > /dev/null || exit 1; \
	done
	$(SIM) run --kv-size 70 --seed 1 --heads 4 --head-dim 16 --dist mixed --exp-format mxfp8-e5m2 --v-format mxfp8-e4m3 --scale-rule rceil --out golden.new/mx-softmax > /dev/null
	$(SIM) rope --out golden.new/tmp > /dev/null
	mkdir -p golden.new/rope && mv golden.new/tmp/rope/manifest.json golden.new/rope/ && rm -rf golden.new/tmp
	cp golden/README.md golden.new/ 2>/dev/null || true
	rm -rf golden && mv golden.new golden
	@du -sh golden
	@test $$(du -sm golden | cut -f1) -le $(GOLDEN_BUDGET_MB) || { echo "golden/ is over its $(GOLDEN_BUDGET_MB) MB budget"; exit 1; }

clean:
	$(CARGO) clean
	rm -rf $(VENV) $(OUT)

## A `sim gen` sweep as a Slurm job array on a throwaway one-node cluster (scripts/slurm/test.sh):
## a task cancelled, one timed out, the merge naming them, a rerun of just those, and the merged
## index.json equal to a single-process sweep's. Root installs slurm-wlm and munge; SIM_SKIP=slurm
## skips it. About 40 s, most of it Slurm's 30 s time-limit sweep.
slurm-test: test-build
	SIM=./target/$(TEST_PROFILE)/sim scripts/slurm/test.sh

## Verilog testbench self-test (needs iverilog; skips without it unless CI=true, which installs it):
## stage 6 (out = RNE_bf16(scaled_v * inv)) through examples/rtl/bf16_mul_rne.v on simulator and
## hand-made cases, plus broken copies that must fail.
tb-test: test-build
	SIM=./target/$(TEST_PROFILE)/sim scripts/tb/test_tb.sh

## Coverage closure of the golden corpus: every bin of docs/coverage.md is hit.
cover-test: test-build
	./target/$(TEST_PROFILE)/sim cover golden --require all > /dev/null && echo "cover: golden hits every bin"

## The sim binary and libhwsim of the test profile (the testbenches run them).
test-build:
	$(CARGO) build --profile $(TEST_PROFILE) -p sim -p hwsim-capi

## libhwsim from C (docs/dpi.md): a C program linked against the static library reproduces
## `sim run` dumps bit for bit, and bad input is an error, never a crash.
capi-test: test-build venv
	SIM=./target/$(TEST_PROFILE)/sim HWSIM_LIB_DIR=target/$(TEST_PROFILE) crates/hwsim-capi/c/test.sh

## The golden model inside a Verilator testbench through DPI-C: examples/rtl units, good and
## broken copies, every transaction checked (installs Verilator 5.48.0 into .venv if needed;
## SIM_SKIP=verilator skips it).
dpi-test: test-build venv
	SIM=./target/$(TEST_PROFILE)/sim HWSIM_LIB_DIR=target/$(TEST_PROFILE) examples/verilator/run.sh

## Regenerate crates/hwsim-capi/include/hwsim.h with cbindgen (a test fails while it is stale).
header:
	HWSIM_WRITE_HEADER=1 $(CARGO) test --release -p hwsim-capi --test header
