# make demo: install what is needed and run the sandbox walk-through.
# make test: install and run every test (with throwaway PostgreSQL and Redis servers, and Chromium for the console).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench bench-scale lock readme clean

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@# byte-compile the sources as a wheel install would (an editable install does not)
	$(BIN)/python -m compileall -q hub connectors
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/hub demo

# One test process per CPU (pytest-xdist), a test file per process at a time; PYTEST_ARGS
# adds to or overrides it (e.g. PYTEST_ARGS="-n 0 -x" runs in one process and stops early).
test: install
	PATH="$(abspath $(BIN)):$$PATH" scripts/with-postgres.sh scripts/with-redis.sh scripts/with-chromium.sh \
	  $(BIN)/python -m pytest -q -p no:cacheprovider -n auto --dist loadfile $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check hub connectors tests
	$(BIN)/mypy hub connectors

# Regenerate the README's settings table from the settings models.
readme: install
	HUB_CONFIG_FILE=/dev/null $(BIN)/python scripts/update_readme_settings.py

bench: install
	$(BIN)/python bench/run.py

# scale-out: webhook intake, event processing by 1/2/4 workers, psa-to-docs in parts (bench/scale.py)
bench-scale: install
	PATH="$(abspath $(BIN)):$$PATH" scripts/with-postgres.sh scripts/with-redis.sh $(BIN)/python bench/scale.py

# Re-pin every dependency (run by a developer when pyproject.toml's dependencies change).
lock:
	$(BIN)/pip-compile --quiet --extra dev --extra postgres --strip-extras --allow-unsafe --no-emit-index-url \
	  --no-emit-find-links --output-file requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) build dist *.egg-info
