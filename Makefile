# The two commands a newcomer needs: `make run` and `make test` (see README.md).
CARGO  ?= cargo
VENV   := .venv
PY     := $(VENV)/bin/python
KV     ?= 128
SEED   ?= 0
OUT    ?= out

.PHONY: run test build venv fmt clippy rust-test py-test clean

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
## against the Python reference), and the Python reference's own tests.
test: venv fmt clippy rust-test py-test

fmt:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets --quiet -- -D warnings

rust-test: venv
	SIM_PYTHON=$(abspath $(PY)) $(CARGO) test --workspace

py-test: venv
	$(PY) -m pytest -q scripts

clean:
	$(CARGO) clean
	rm -rf $(VENV) $(OUT)
