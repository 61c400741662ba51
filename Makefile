PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench fuzz clean chromium

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/virtual-audit demo

chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "chromium missing: install Debian's chromium package (needs root)"; exit 1; fi; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

test: $(STAMP) chromium lint
	$(BIN)/pytest -q -p no:cacheprovider

fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=long $(BIN)/pytest -q -p no:cacheprovider tests/fuzz

bench: $(STAMP)
	$(BIN)/python bench/sessions.py --sessions 1

clean:
	rm -rf $(VENV) build *.egg-info
