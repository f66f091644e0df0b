# mmkd_det set-up and main jobs. `make quickstart` and `make test` install
# everything they need first (once): a .venv with torch 2.13.0, mmcv 2.1.0
# with compiled ops, mmdet 3.3.0 and this package in editable mode.
PYTHON ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.mmkd_det-installed
# A prebuilt mmcv wheel (same torch build and Python) skips the ~10 min build.
WHEEL_CACHE ?= ../shared/wheels
FIND_LINKS := $(if $(wildcard $(WHEEL_CACHE)/*.whl),--find-links $(WHEEL_CACHE),)
PIP := $(VPY) -m pip install --disable-pip-version-check
TORCH_VERSION ?= 2.13.0
QUICKSTART_ARGS ?=
PYTEST_ARGS ?=
# One intra-op thread per test process: the models are tiny, and two threads
# on two cores that anything else also uses wait on each other (measured
# 10-20x slower steps, benchmarks/shapes/schedule_study.md). Override with
# `make test OMP_NUM_THREADS=2`.
OMP_NUM_THREADS ?= 1
TEST_ENV := OMP_NUM_THREADS=$(OMP_NUM_THREADS)
LINT_PATHS := mmkd_det tools tests configs benchmarks setup.py

.PHONY: install quickstart teacher benchmark tune lint test test-fast clean \
	gpu-wheelhouse

install: $(STAMP)

$(STAMP): setup.py Makefile
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip wheel "setuptools>=77,<81"
	$(PIP) torch==$(TORCH_VERSION)
	# mmcv needs torch at build time, hence no build isolation.
	MMCV_WITH_OPS=1 FORCE_CUDA=0 $(PIP) --no-build-isolation $(FIND_LINKS) mmcv==2.1.0
	$(PIP) $(FIND_LINKS) -e ".[tests,lint]"
	$(VPY) -c "import mmcv.ops, mmdet, mmkd_det; print('mmkd_det', mmkd_det.__version__, 'ready')"
	touch $(STAMP)

quickstart: $(STAMP)
	$(VPY) tools/quickstart.py $(QUICKSTART_ARGS)

# retrain the digits teacher the repository ships and rewrite its
# weights-only checkpoint and record (checkpoints/digits/)
teacher: $(STAMP)
	$(TEST_ENV) $(VPY) tools/ship_teacher.py

# the committed reference: the plain student and all nine methods taught by
# the shipped teacher, 3 seeds, on val (resumable: run it again after an
# interruption)
BENCHMARK_ARGS ?= --jobs 2
benchmark: $(STAMP)
	$(VPY) tools/analysis/compare_methods.py --seeds 0 1 2 $(BENCHMARK_ARGS)

# the tuning grid of the logit methods on the tune split (one seed)
tune: $(STAMP)
	$(VPY) tools/analysis/compare_methods.py --tune $(BENCHMARK_ARGS)

# mmdet's linters with the settings in setup.cfg; all three run, nothing
# is changed, and it fails if any of them finds something
lint: $(STAMP)
	status=0; \
	$(VPY) -m flake8 $(LINT_PATHS) || status=1; \
	$(VPY) -m isort --check-only --diff $(LINT_PATHS) || status=1; \
	$(VPY) -m yapf --diff --recursive $(LINT_PATHS) || status=1; \
	exit $$status

# everything: lint first, then all tests (slow subprocess and gloo ones too)
test: $(STAMP) lint
	$(TEST_ENV) $(VPY) -m pytest tests $(PYTEST_ARGS)

# the unit tests only: no tool subprocesses, no process groups
test-fast: $(STAMP)
	$(TEST_ENV) $(VPY) -m pytest tests -m "not slow and not dist" $(PYTEST_ARGS)

# the GPU machine's offline wheelhouse (git-ignored; carried with the checkout
# to the device: docs/gpu.md): cp312 wheels of what the device lacks, plus
# the CUDA mmcv wheel built in $(WHEEL_CACHE)/cuda
GPU_WHEELHOUSE ?= wheelhouse/gpu
gpu-wheelhouse: $(STAMP)
	$(VPY) tools/gpu/wheelhouse.py build --dest $(GPU_WHEELHOUSE) \
		--mmcv-wheel $(WHEEL_CACHE)/cuda/mmcv-2.1.0-cp312-cp312-linux_x86_64.whl

clean:
	rm -rf $(VENV) work_dirs data/digits data/shapes *.egg-info
