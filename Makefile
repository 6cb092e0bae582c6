# PaletteAI Admin — the two commands a new user needs: `make run` and `make test`.
.PHONY: run test install test-browser bench

run:
	scripts/run.sh

test:
	scripts/test.sh

install:
	scripts/install.sh test

# Only the Playwright browser tests.
test-browser:
	scripts/test.sh -m browser

# Benchmarks (bench/): ratios against a baseline measured side by side, on PostgreSQL.
bench:
	scripts/bench.sh
