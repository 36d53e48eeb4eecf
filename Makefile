# ruuvistream: `make help` lists the targets. `make test` is exactly what CI runs.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/python -m pip
# Everything the tests, lints and benchmarks import, in one virtualenv.
PY_DEPS := maturin>=1.9,<2 pyarrow>=14 pytest>=8 hypothesis>=6 pandas>=2 polars>=1 mypy>=1.10 ruff>=0.6 boto3>=1.34 awscli>=1.32 \
	nbformat>=5 nbclient>=0.10 nbconvert>=7 ipykernel>=6 matplotlib>=3.8
# The wheel is built once per run into dist/, in the same target directory as the Rust tests.
WHEEL_DIR := dist
# The Jupyter kernel the Rust notebook runs on.
EVCXR_VERSION := 0.22.0
NEXTEST := $(shell cargo nextest --version >/dev/null 2>&1 && echo yes)
# Where cargo builds: build logs and the Rust notebook's build cache go there too, so that
# `make clean` removes them with it.
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)

.PHONY: help
help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.deps: Makefile
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet $(foreach d,$(PY_DEPS),'$(d)')
	touch $@

.PHONY: venv
venv: $(VENV)/.deps ## Create the development virtualenv (.venv) with the test and lint tools

.PHONY: wheel
wheel: venv ## Build the wheel (debug profile) and install it into .venv
	rm -rf $(WHEEL_DIR)
	$(PYTHON) scripts/progress.py "Building the wheel (about 5 minutes the first time)" \
		$(TARGET_DIR)/logs/wheel.log -- $(VENV)/bin/maturin build --out $(WHEEL_DIR)
	$(PIP) install --quiet --force-reinstall --no-deps $(WHEEL_DIR)/ruuvistream-*.whl

.PHONY: evcxr-kernel
evcxr-kernel: ## Install and register the evcxr Jupyter kernel for the Rust notebook (once; ~10 minutes)
	bash scripts/evcxr-kernel.sh $(EVCXR_VERSION)

.PHONY: test
# lint before test-python: on a fresh machine it runs while the evcxr kernel is still building.
test: test-rust lint test-python ## Run every test and lint, both notebooks included (what CI runs)

.PHONY: test-rust
test-rust: ## Rust unit, integration and doc tests
ifeq ($(NEXTEST),yes)
	RUUVISTREAM_REQUIRE_MOSQUITTO=1 cargo nextest run --all-features --no-fail-fast
else
	RUUVISTREAM_REQUIRE_MOSQUITTO=1 cargo test --all-features --no-fail-fast --lib --bins --tests
endif
	cargo test --all-features --doc

.PHONY: test-python
test-python: wheel evcxr-kernel ## Python tests, the notebooks, docstring and README examples, against the built wheel
	RUUVISTREAM_REQUIRE_RUST_KERNEL=1 RUUVISTREAM_REQUIRE_MOSQUITTO=1 PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m pytest -q tests/python README.md --doctest-glob=README.md \
		--doctest-modules --pyargs ruuvistream

.PHONY: lint
lint: venv ## rustfmt, clippy, ruff and mypy; warnings fail
	cargo fmt --check
	cargo clippy --all-features --all-targets --quiet -- -D warnings
	$(VENV)/bin/ruff check python tests benches scripts
	$(VENV)/bin/ruff format --check python tests benches scripts
	$(VENV)/bin/mypy

.PHONY: demo
# The kernel builds (mostly on one core) beside the wheel; the evcxr-kernel step waits for it.
demo: venv ## The main job: the walkthrough on the embedded engine (tables, out/walkthrough.png, executed notebooks)
	bash scripts/evcxr-kernel.sh --background $(EVCXR_VERSION)
	$(MAKE) --no-print-directory wheel evcxr-kernel
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) scripts/demo.py

.PHONY: lab
# Each Rust kernel opened there builds in a temporary directory of its own (evcxr's default: two
# kernels must not share one), deleted when the kernel exits.
lab: wheel evcxr-kernel ## Open the notebooks in JupyterLab, on the project's .venv (installs jupyterlab into it)
	$(PIP) install --quiet 'jupyterlab>=4'
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/jupyter lab notebooks/

.PHONY: notebooks
notebooks: wheel evcxr-kernel ## Execute both walkthrough notebooks into out/notebooks (.ipynb and .html)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) scripts/notebooks.py --out out/notebooks

.PHONY: bench
bench: venv ## Benchmarks (release build): criterion, ruuvistream vs ruuvitag-sensor, the engine vs DuckDB
	cargo bench --bench decode
	cargo bench --bench datum
	cargo bench --features engine,mimalloc --bench write_records
	cargo bench --features bridge,engine,mimalloc --bench bridge
	BRIDGE_SINK=http cargo bench --features bridge,engine,mimalloc --bench bridge
	rm -rf $(WHEEL_DIR)
	$(VENV)/bin/maturin build --release --quiet --out $(WHEEL_DIR)
	$(PIP) install --quiet --force-reinstall --no-deps $(WHEEL_DIR)/ruuvistream-*.whl
	$(PIP) install --quiet 'ruuvitag-sensor==4.1.0' 'duckdb>=1.1' 'awswrangler>=3.17'
	$(PY) benches/compare_ruuvitag_sensor.py
	$(PY) benches/compare_duckdb.py --duckdb-threads 2
	$(PY) benches/compare_awswrangler.py
	$(PY) benches/write_cost.py

.PHONY: bench-scale
bench-scale: venv ## A year of 100 sensors through the engine (release build; ~20 minutes, 5 GB free in out/), then DuckDB on its files
	cargo bench --features engine,mimalloc --bench scale
	$(PIP) install --quiet 'duckdb>=1.1'
	$(PY) benches/compare_scale.py out/bench-scale --duckdb-threads 2

.PHONY: clean
clean: ## Remove build outputs (the target directory, with build logs and the Rust notebook's build cache) and the virtualenv
	cargo clean
	rm -rf $(VENV) $(WHEEL_DIR) .pytest_cache .mypy_cache .ruff_cache
