# AudioText — `make serve` runs the whole service on this machine; `make test` proves it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SPEAKER_MODEL := $(VENV)/share/audiotext/speaker-encoder-resemblyzer-0.1.4.pt
EXTRAS ?= engine,models-base,operator,dev
FAST_MARKERS := not slow and not browser and not k8s and not helm and not images and not postgres and not redis and not s3

.PHONY: install serve test test-prereqs test-fast lint format bench clean help docs

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

install: $(STAMP) $(SPEAKER_MODEL) ## create .venv/ with the project installed

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[$(EXTRAS)]'
	@touch $(STAMP)

# The speaker network's weights for diarization, out of the resemblyzer wheel (its
# dependencies, torch among them, are never installed); the wheel is cached.
$(SPEAKER_MODEL): $(STAMP)
	$(BIN)/python -m audiotext.diarization.fetch install --target $@ \
		--wheels $(HOME)/.cache/audiotext/wheels

serve: install ## run everything on http://127.0.0.1:3203 (SQLite, local storage, local executor)
	$(BIN)/audiotext serve

test: install test-prereqs ## the whole suite (starts its own PostgreSQL, Redis, MinIO and test cluster)
	$(BIN)/pytest --durations=40

# What the suite's servers are made of, built once and cached (the first run takes a while;
# later runs build nothing), so no test waits on a build.
test-prereqs:
	bash hack/cluster/prepare.sh >/dev/null
	bash hack/minio/build.sh >/dev/null
	$(MAKE) images-dev

test-fast: install ## the quick part: no servers, no cluster, no model runs
	$(BIN)/pytest -m "$(FAST_MARKERS)"

lint: install ## ruff (format + check) and mypy (strict on src/)
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

format: install ## apply ruff's formatting and fixes
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: install ## benchmarks (not part of make test); results in bench/RESULTS.md
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean: ## remove the virtual environment and local data
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache

-include hack/*.mk

docs: install ## regenerate the README's configuration table from the Settings
	$(BIN)/python -c "import re,pathlib; from audiotext.config import settings_table as t; p=pathlib.Path('README.md'); s=p.read_text(); a='<!-- settings:start -->'; b='<!-- settings:end -->'; i=s.index(a)+len(a); p.write_text(s[:i]+chr(10)+t()+chr(10)+s[s.index(b):])"
