# The course's commands. `make lab` for learners, `make test` for CI and contributors.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LOCK := requirements-lock.txt
STAMP := $(VENV)/.installed
NOT_COMPILED := /(tests|testing/_internal)/|/transformers/models/(?!(auto|bert|distilbert|gpt2|roberta)/)[^/]+/
KERNEL := fine-tuning-course
# Parallel test workers; setup() gives each worker its share of the CPUs.
WORKERS ?= 2
LAB_ARGS ?=
# Jupyter refuses to run as root unless told; containers and CI often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: help install kernel lab test run benchmark results results-gpu models data lock clean

help:
	@echo "make lab      install (first time), register the kernel, open JupyterLab on notebooks/"
	@echo "make test     unit tests and every notebook in the smoke profile (offline)"
	@echo "make run      execute every lesson headless in the detected profile; print a summary"
	@echo "make benchmark  every lesson in every profile this machine can run, with wall times"
	@echo "make results  copy build/results to course_utils/snapshot/, regenerate the README's results and docs/cheatsheet.md"
	@echo "make results-gpu  on a CUDA machine with Hub access: every lesson in the gpu profile, kept in course_utils/snapshot/gpu/"
	@echo "                  and shown in the README beside the smoke results (COURSE_PRECISION=fp16: the T4's path, in gpu-fp16/)"
	@echo "make models   rebuild the tiny pretrained models (deterministic, up to an hour on 2 cores; times in the model cards)"
	@echo "make data     rebuild the bundled data and its card from data_src/ (deterministic)"

# A virtual environment with the exact versions of the lock file; redone when either changes.
# __init__.py holds the version: a bump reinstalls, so the installed metadata agrees with it.
$(STAMP): $(LOCK) pyproject.toml course_utils/__init__.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile -r $(LOCK)
	# pip compiles every installed file one by one; compileall on all cores does the same work in half the time,
	# and skips what the course never imports: test suites, and the hundreds of model architectures other than
	# the ones the course names (a learner's own model compiles on its first import).
	$(BIN)/python -m compileall -q -j 0 -x '$(NOT_COMPILED)' "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" > /dev/null || true
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

kernel: install
	$(BIN)/python -m ipykernel install --user --name $(KERNEL) --display-name "Python 3 (fine-tuning course)"

lab: kernel
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" $(ROOT_FLAG) $(LAB_ARGS) notebooks/00_setup_check.ipynb

# Unit tests and notebooks first (each notebook runs once), then the claims about their results (which read
# JSON: they need neither the notebook plugin nor the workers).
# Offline from the first import: huggingface_hub reads HF_HUB_OFFLINE once, when it is imported.
TEST_ENV := COURSE_PROFILE=smoke HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 COURSE_RESULTS_DIR="$(CURDIR)/build/test-results" \
	COURSE_CACHE_DIR="$(CURDIR)/build/test-cache"
test: install
	rm -rf build/test-results build/test-cache
	$(TEST_ENV) $(BIN)/python -m pytest -n $(WORKERS) --dist loadfile --ignore=tests/claims \
		--nbval-lax --nbval-current-env course_utils tests notebooks
	$(TEST_ENV) $(BIN)/python -m pytest -p no:nbval -p no:xdist tests/claims

run: install
	$(BIN)/python tools/run_lessons.py

benchmark: install
	$(BIN)/python tools/benchmark_lessons.py

# The committed results ship inside the package (course_utils/snapshot), so lesson 07 reads them on
# Colab too; the README's results section is made from them.
SNAPSHOT := course_utils/snapshot
results:
	mkdir -p $(SNAPSHOT) && find $(SNAPSHOT) -maxdepth 1 -name '*.json' -delete && cp build/results/*.json $(SNAPSHOT)/
	$(BIN)/python -m course_utils.results readme --results $(SNAPSHOT) --readme README.md
	$(BIN)/python -m course_utils.cheatsheet --results $(SNAPSHOT) --out docs/cheatsheet.md

# Every lesson in the gpu profile, stored as a GPU snapshot beside the smoke one and shown in the README.
# run_lessons.py stops before any notebook when torch sees no CUDA device. A run with COURSE_PRECISION
# (make results-gpu COURSE_PRECISION=fp16: on a bf16-capable GPU, the fp16 path Colab's T4 takes) is an
# experiment on top of the GPU's own choice, so it is kept in gpu-<precision>/ and both stay in the README.
# The build folder is cleared first so a lesson that no longer records cannot leave an older JSON behind;
# a failing lesson stops make before the snapshot, leaving its results in build/results-gpu*/.
GPU_RUN = gpu$(if $(strip $(COURSE_PRECISION)),-$(strip $(COURSE_PRECISION)),)
results-gpu: install
	@test -z "$$COURSE_ENCODER$$COURSE_CAUSAL_LM" || { echo "error: unset COURSE_ENCODER and COURSE_CAUSAL_LM: \
the GPU snapshot is of the profile's models (a run with yours records under build/results-$(GPU_RUN)/own-models/)"; exit 2; }
	rm -rf build/results-$(GPU_RUN)
	$(BIN)/python tools/run_lessons.py --profile gpu --results build/results-$(GPU_RUN) --out build/notebooks-$(GPU_RUN)
	rm -rf $(SNAPSHOT)/$(GPU_RUN) && mkdir -p $(SNAPSHOT)/$(GPU_RUN) && cp build/results-$(GPU_RUN)/*.json $(SNAPSHOT)/$(GPU_RUN)/
	$(BIN)/python -m course_utils.results readme --results $(SNAPSHOT) --readme README.md

models: install
	$(BIN)/python -m course_utils.tiny_models build

data: install
	$(BIN)/python tools/build_data.py

# Regenerate the lock from the current environment (after changing a version on purpose).
# jsonschema stays below 4.24, whose format extra imports rfc3987-syntax: it builds a parser on import, 0.7 s
# in every process that reads a notebook (the grader starts one per submission). tests/test_packaging.py checks.
lock:
	@echo "# Exact versions for make, CI and environment.yml; made with Python 3.11 by make lock." > $(LOCK)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v -i '^course-utils' | sed 's/+cpu$$//' >> $(LOCK)

clean:
	rm -rf build .pytest_cache
