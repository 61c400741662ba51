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

# Chromium, and fonts for the phone's scripts (Chinese, Devanagari, Bengali) so that browser
# tests and screenshots show text rather than boxes.
PHONE_FONTS = fonts-wqy-microhei fonts-lohit-deva fonts-lohit-beng-bengali

chromium:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list :lang=zh | grep -q . || ! fc-list :lang=bn | grep -q .; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium $(PHONE_FONTS); \
	  else echo "chromium or fonts missing: install Debian's chromium $(PHONE_FONTS) (needs root)"; exit 1; fi; \
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
