# xnas — two commands for a fresh machine:
#   make demo   sets up, builds and runs the main job on the bundled benchmark
#   make test   sets up, builds and runs every test
# Both are idempotent; downloads and converted data are cached outside the clone (XNAS_CACHE).

XNAS_CACHE    ?= $(HOME)/.cache/xnas
XNAS_DATA_DIR ?= $(XNAS_CACHE)/data
PIP_TARGET    := $(XNAS_CACHE)/pip/nas-bench-graph-1.4.0
NBG_DATA      := $(XNAS_DATA_DIR)/nasbench-graph/nasbench-graph.bin
CARGO         ?= cargo
export XNAS_DATA_DIR

.PHONY: demo test data build build-release lint bench clean-runs help

help:
	@echo "make demo   - set up, build and run the demo search on NAS-Bench-Graph"
	@echo "make test   - set up, build and run the whole test suite"
	@echo "make data   - download and convert the NAS-Bench-Graph table (cached in $(XNAS_CACHE))"
	@echo "make bench  - host-overhead benchmark (trials per second), results in bench/RESULTS.md"
	@echo "make lint   - cargo fmt --check and clippy -D warnings"

# --- set-up ------------------------------------------------------------------------------------

$(PIP_TARGET)/.installed:
	python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
		--target $(PIP_TARGET) nas-bench-graph==1.4.0 numpy
	touch $@

$(NBG_DATA): plugins/nasbench-graph/convert.py $(PIP_TARGET)/.installed
	PYTHONPATH=$(PIP_TARGET) python3 plugins/nasbench-graph/convert.py --out $(dir $@)

data: $(NBG_DATA)

build:
	$(CARGO) build --workspace

build-release:
	$(CARGO) build --release --workspace

# --- the two commands --------------------------------------------------------------------------

demo: data build-release
	rm -rf runs/demo
	./target/release/xnas run examples/demo.toml --out runs/demo
	@echo "results: runs/demo/summary.json, runs/demo/trials.csv, runs/demo/best_so_far.png"

test: data build
	$(CARGO) test --workspace --no-fail-fast
	$(CARGO) test -p xnas-host --features builtin-plugins --lib

# --- for developers ----------------------------------------------------------------------------

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

bench: data build-release
	bench/host_overhead.sh

clean-runs:
	rm -rf runs
