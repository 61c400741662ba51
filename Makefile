PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench fuzz clean chromium coturn

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/virtual-audit demo

# Chromium, and fonts for the phone's scripts (Chinese, Devanagari, Bengali) so that browser
# tests and screenshots show text rather than boxes; iproute2 (ip, tc) for the network tests
# that put the phone in its own network namespace (tests/netbed.py).
PHONE_FONTS = fonts-wqy-microhei fonts-lohit-deva fonts-lohit-beng-bengali

chromium:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list :lang=zh | grep -q . || ! fc-list :lang=bn | grep -q . \
	    || ! command -v ip >/dev/null || ! command -v tc >/dev/null; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium iproute2 $(PHONE_FONTS); \
	  else echo "chromium or fonts missing: install Debian's chromium iproute2 $(PHONE_FONTS) (needs root)"; exit 1; fi; \
	fi

# Debian's coturn: the TURN relay the relay-only tests start on loopback (tests/coturn.py);
# libnss3-tools' certutil: the TURN-over-TLS test makes the browser trust coturn's test CA.
coturn:
	@if [ ! -x /usr/sbin/turnserver ] && ! command -v turnserver >/dev/null; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq coturn && \
	    { systemctl disable --now coturn >/dev/null 2>&1 || true; }; \
	  else echo "coturn missing: install Debian's coturn (needs root)"; exit 1; fi; \
	fi
	@if ! command -v certutil >/dev/null; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libnss3-tools; \
	  else echo "certutil missing: install Debian's libnss3-tools (needs root)"; exit 1; fi; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# Three test processes (whole files each, so a module's server and browser are set up once):
# most tests wait on browsers, sockets and timers, so 3 keep 2 cores busy.
test: $(STAMP) chromium coturn lint
	$(BIN)/pytest -q -p no:cacheprovider -n 3 --dist loadfile

fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=long $(BIN)/pytest -q -p no:cacheprovider tests/fuzz

bench: $(STAMP)
	$(BIN)/python bench/sessions.py --sessions 1

clean:
	rm -rf $(VENV) build *.egg-info
