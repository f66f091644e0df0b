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
	gpu-wheelhouse install-stack test-stack

install: $(STAMP)

$(STAMP): setup.py Makefile
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip wheel "setuptools>=77,<81"
	$(PIP) torch==$(TORCH_VERSION)
	# mmcv needs torch at build time, hence no build isolation.
	MMCV_WITH_OPS=1 FORCE_CUDA=0 $(PIP) --no-build-isolation $(FIND_LINKS) mmcv==2.1.0
	$(PIP) $(FIND_LINKS) -e ".[openmmlab,tests,lint]"
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

# ------------------------------------------------------------------------
# Other stacks (docs/installation.md): `make test-stack STACK=<name>` builds
# .venv-<name> from requirements/stacks/<name>.txt (pip constraints: the exact
# versions), checks that installing mmkd_det into it changes nothing there,
# and runs all tests in it. The default stack above (`make test`) is B.
#   mmdet33-torch21  A: Python 3.11, torch 2.1.2, mmcv 2.1.0, mmdet 3.3.0
#   onedl-torch210   C: Python 3.12, torch 2.10.0, OneDL's onedl-mmcv 2.3.6,
#                       onedl-mmdetection 3.5.1, onedl-mmengine 0.10.12
STACK ?= mmdet33-torch21
STACK_VENV := .venv-$(STACK)
SPY := $(STACK_VENV)/bin/python
STACK_CONSTRAINTS := requirements/stacks/$(STACK).txt
SPIP := $(SPY) -m pip install --disable-pip-version-check -c $(STACK_CONSTRAINTS)
PYENV_VERSIONS ?= $(shell pyenv root 2>/dev/null || echo $(HOME)/.pyenv)/versions
ifeq ($(STACK),mmdet33-torch21)
STACK_PYTHON ?= $(firstword $(wildcard $(PYENV_VERSIONS)/3.11*/bin/python3.11) python3.11)
STACK_MM := mmengine mmcv mmdet
STACK_WHEELS := $(WHEEL_CACHE)/torch2.1.2-cp311
STACK_EXTRA := openmmlab
else ifeq ($(STACK),onedl-torch210)
STACK_PYTHON ?= $(firstword $(wildcard $(PYENV_VERSIONS)/3.12*/bin/python3.12) python3.12)
STACK_MM := onedl-mmengine onedl-mmcv onedl-mmdetection
STACK_WHEELS := $(WHEEL_CACHE)/onedl-torch2.10.0-cp312
STACK_EXTRA := onedl
endif
STACK_FIND_LINKS := $(if $(wildcard $(STACK_WHEELS)/*.whl),--find-links $(STACK_WHEELS),)
STACK_STAMP := $(STACK_VENV)/.mmkd_det-installed

install-stack: $(STACK_STAMP)

$(STACK_STAMP): setup.py Makefile $(STACK_CONSTRAINTS)
	@test -n "$(STACK_MM)" || { echo "Unknown STACK=$(STACK): use one of" \
	  "$(basename $(notdir $(wildcard requirements/stacks/*.txt)))"; exit 2; }
	test -x $(SPY) || $(STACK_PYTHON) -m venv $(STACK_VENV)
	$(SPY) -m pip install --disable-pip-version-check --upgrade pip wheel \
	  "setuptools>=77,<81"
	$(SPIP) torch numpy
	# mmcv (either distribution) needs torch at build time: no isolation.
	MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=2 $(SPIP) --no-build-isolation \
	  $(STACK_FIND_LINKS) $(STACK_MM)
	# Installing mmkd_det must leave the stack as it is: with its stack's
	# extra (dry run: no torch/numpy/mm* to install) and without (pip
	# freeze before and after).
	$(SPIP) --dry-run -e ".[$(STACK_EXTRA)]" > $(STACK_VENV)/dry-run.txt
	cat $(STACK_VENV)/dry-run.txt
	! grep '^Would install' $(STACK_VENV)/dry-run.txt | tr ' ' '\n' \
	  | grep -i -E '^(torch|numpy|mmcv|mmdet|mmengine|onedl[-_][a-z_-]*)-[0-9]'
	$(SPY) -m pip freeze --all --exclude-editable > $(STACK_VENV)/before.txt
	$(SPIP) -e .
	$(SPY) -m pip freeze --all --exclude-editable > $(STACK_VENV)/after.txt
	# it may add packages (mlxtend, ...), never replace or remove one
	LC_ALL=C sort -o $(STACK_VENV)/before.txt $(STACK_VENV)/before.txt
	LC_ALL=C sort -o $(STACK_VENV)/after.txt $(STACK_VENV)/after.txt
	@changed=$$(LC_ALL=C comm -23 $(STACK_VENV)/before.txt $(STACK_VENV)/after.txt); \
	  echo "added by mmkd_det: $$(LC_ALL=C comm -13 $(STACK_VENV)/before.txt \
	  $(STACK_VENV)/after.txt | tr '\n' ' ')"; \
	  test -z "$$changed" || { echo "installing mmkd_det replaced or" \
	  "removed: $$changed"; exit 1; }
	$(SPIP) -e ".[tests,lint]"
	$(SPY) -c "import mmcv.ops, mmdet, mmkd_det; print('mmkd_det', \
	  mmkd_det.__version__, 'ready on $(STACK)')"
	touch $(STACK_STAMP)

# all tests (unit, end-to-end training/resume/evaluation, two-process gloo)
test-stack: $(STACK_STAMP)
	$(TEST_ENV) $(SPY) -m pytest tests $(PYTEST_ARGS)


# the GPU machine's offline wheelhouse (git-ignored; carried with the checkout
# to the device: docs/gpu.md): cp312 wheels of what the device lacks, plus
# the CUDA mmcv wheel built in $(WHEEL_CACHE)/cuda
GPU_WHEELHOUSE ?= wheelhouse/gpu
gpu-wheelhouse: $(STAMP)
	$(VPY) tools/gpu/wheelhouse.py build --dest $(GPU_WHEELHOUSE) \
		--mmcv-wheel $(WHEEL_CACHE)/cuda/mmcv-2.1.0-cp312-cp312-linux_x86_64.whl

clean:
	rm -rf $(VENV) .venv-* work_dirs data/digits data/shapes *.egg-info
