# eqaug — `make help` lists the targets. Every target that needs Python depends on `install`,
# so on a fresh machine `make sweep` or `make test` alone sets everything up first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
LANES ?= 2
# time-to-threshold targets of the tables (Table 3): at CPU scale the CNN twins reach about 0.05 mIoU on
# rotated data within their 4,000 steps, so that is the matched target; 0.5 is the experiment's own
FIGURE_OPTS ?= --target seg_mnist1_small=0.05 --target seg_mnist1_small=0.5
SWEEP_DIR ?= results/sweep
# make gpu-check runs with the project's .venv where there is one, else with the machine's own Python and PyTorch
GPU_PYTHON ?= $(if $(wildcard $(PY)),$(PY),$(PYTHON))
# make gpu-wheels: the GPU machine's Python/platform for the wheels that are not pure Python, e.g.
# GPU_WHEEL_OPTS="--python-version 3.11 --platform manylinux_2_28_x86_64"
GPU_WHEEL_OPTS ?=
export WANDB_MODE ?= offline
export HYDRA_FULL_ERROR ?= 1

.PHONY: help install test test-fast lint format data sweep study baselines converge augstrength conventions study-status paper figures bench clean

help: ## Show this help
	@if [ -t 1 ]; then on='\033[36m'; off='\033[0m'; else on=; off=; fi; \
	grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) \
	| awk -v on="$$on" -v off="$$off" 'BEGIN {FS = ":.*?## "}; {printf "  %s%-14s%s %s\n", on, $$1, off, $$2}'

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade -c constraints.txt "pip>=23" "setuptools>=77" wheel
	$(PY) -m pip install -c constraints.txt torch torchvision
	$(PY) -m pip install -c constraints.txt -e '.[dev,slurm]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install eqaug (+ s2cnn) with the dev and slurm extras

test: install ## Run the test suite (CPU, no network)
	WANDB_MODE=disabled $(PY) -m pytest -q

test-fast: install ## The fast lane: every test but the slow end-to-end ones (about 2 min on 2 cores)
	WANDB_MODE=disabled $(PY) -m pytest -q -m "not slow"

lint: install ## ruff check + format check
	$(PY) -m ruff check src third_party tests scripts
	$(PY) -m ruff format --check src third_party tests scripts

format: install ## Apply ruff fixes and formatting
	$(PY) -m ruff check --fix src third_party tests scripts
	$(PY) -m ruff format src third_party tests scripts

data: install ## Fetch/install what datasets this machine can get, and report what is available
	$(PY) -m eqaug.data.sources --fetch

sweep: install ## The main job: experiment=seg_sweep (the S2CNN, the zonal CNN, the CNNs drawn at b = 16 and the sphere-aware CNN, each at its tuned rate, 10 runs, ~18 min on 2 idle cores) into results/sweep (SWEEP_DIR), then its figures and tables there
	$(PY) -m eqaug.study --set sweep --lanes $(LANES) --results-dir $(SWEEP_DIR) --log-dir $(SWEEP_DIR)/logs/study
	$(PY) -m eqaug.analysis figures --results-dir $(SWEEP_DIR) --out-dir $(SWEEP_DIR) --no-params
	@echo
	@if [ -f $(SWEEP_DIR)/tables/study_seg_sweep.md ]; then cat $(SWEEP_DIR)/tables/study_seg_sweep.md; \
	else echo "no results table ($(SWEEP_DIR)/tables/study_seg_sweep.md): no run finished, see the logs"; fi
	@echo
	@echo "figure: $(SWEEP_DIR)/figures/compute_seg_sweep.png (score against CPU time; also .pdf); all tables: $(SWEEP_DIR)/tables/"
	@echo "logs: $(SWEEP_DIR)/logs/study/*.log (one per job, a line per validation check)"

study: install ## The whole CPU-scale study (all _small experiments on LANES=2 lanes, hours; resumable), then the figures
	$(PY) -m eqaug.study --lanes $(LANES)
	$(PY) -m eqaug.analysis --results-dir results --out-dir results $(FIGURE_OPTS)

baselines: install ## Converged-baselines protocol, step 2: the learning-rate grid of every family (hours; resumable)
	$(PY) -m eqaug.study --set baselines --lanes $(LANES)

converge: install ## Converged-baselines protocol, step 4: C1/C2 to convergence at the tuned rates (tens of CPU-hours; resumable)
	$(PY) -m eqaug.study --set converge --lanes $(LANES)

augstrength: install ## Augmentation-strength axis: the b16 CNNs under none/z/tilt:30/tilt:90/so3 at the converged protocol (tens of CPU-hours; resumable)
	$(PY) -m eqaug.study --set augstrength --lanes $(LANES)

conventions: install ## Fidelity: the C1 pair under eqaug's and Gerken et al.'s data conventions, three seeds (about 2 CPU-hours; resumable)
	$(PY) -m eqaug.study --set conventions --lanes $(LANES)

paper: install ## Every claim at full scale on a SLURM GPU cluster (EQAUG_SLURM_* settings; cost: results/tables/paper_cost.md)
	$(PY) -m eqaug.study --set paper --lanes 6

study-status: install ## What make study (or SET=converge, augstrength, ...) has done and still has to do, per job, with the CPU-hours left and the part-trained runs (about a minute)
	$(PY) -m eqaug.study --status $(if $(SET),--set $(SET))

figures: install ## Regenerate results/summary.csv, figures, predictions and tables from the run records (no training)
	$(PY) -m eqaug.analysis --results-dir results --out-dir results $(FIGURE_OPTS)

bench: install ## Benchmarks: data, s2cnn layers, model latency/profiles (JSON/CSV in results/bench, tables in results/tables)
	$(PY) -m eqaug.bench data
	$(PY) -m eqaug.bench s2cnn
	$(PY) -m eqaug.bench models
	$(PY) -m eqaug.analysis latency --threads 1
	$(PY) -m eqaug.analysis profile --threads 1
	$(PY) scripts/equivariance_table.py
	$(PY) scripts/gscnn_complexity.py

scaling: install ## Time per sample vs bandwidth of every family, with fitted exponents (results/bench/scaling.json, tables/scaling.md, figures/scaling.png)
	$(PY) -m eqaug.bench scaling

gpu-wheels: install ## Download wheels of the dependencies but torch into wheelhouse/ (git-ignored), for an offline GPU machine
	$(PY) scripts/gpu_wheels.py download --dest wheelhouse $(GPU_WHEEL_OPTS)

gpu-check: ## On CUDA: GPU tests, equivariance, latency, short training -> results/bench/gpu_<device>.json (installs offline from wheelhouse/, never torch); without CUDA: says so, exits 0
	$(GPU_PYTHON) scripts/gpu_check.py

clean: ## Remove caches (keeps .venv and results)
	rm -rf .pytest_cache .ruff_cache outputs multirun
