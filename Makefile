# PaletteAI Admin — the two commands a new user needs: `make run` and `make test`.
.PHONY: run test lint install test-browser test-reliability bench load screenshots

run:
	scripts/run.sh

# Lint first (ruff, the import layers contract, function and template lengths), then the whole suite.
test:
	scripts/install.sh test
	scripts/lint.sh
	scripts/test.sh

install:
	scripts/install.sh test

# Only the lint that make test runs first: ruff, the import contracts, function and template lengths.
lint:
	scripts/install.sh test
	scripts/lint.sh

# Only the Playwright browser tests.
test-browser:
	scripts/test.sh -m browser

# Only the faults suite (tests/reliability): simulator faults, Redis restart, worker SIGKILL, database drop.
test-reliability:
	scripts/test.sh -m reliability

# Benchmarks (bench/): ratios against a baseline measured side by side, on PostgreSQL.
bench:
	scripts/bench.sh

# Load: gunicorn (2 workers) on PostgreSQL and Redis, 50 logged-in users on the inventory grid of 10,000
# hosts for 30 s, beside the same load on /healthz; numbers go in docs/performance.md.
load:
	scripts/install.sh test
	scripts/with-services.sh .venv/bin/python bench/load.py

# The README's screenshots (docs/screenshots/), taken in Chromium from the real pages.
screenshots:
	PYTEST_WORKERS=1 scripts/test.sh tests/browser/screenshots.py -p no:randomly
