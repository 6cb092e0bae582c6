#!/usr/bin/env bash
# Lint, run by `make test` before pytest (and alone by `make lint`): ruff's rules and formatting
# (pyproject.toml), the import layers and no-cycles contracts (import-linter, pyproject.toml), and
# function / template line lengths (scripts/check_lengths.py). Any finding fails.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
.venv/bin/ruff check --quiet . || status=1
.venv/bin/ruff format --check --quiet . || status=1
.venv/bin/lint-imports --no-cache >/tmp/lint-imports.$$ 2>&1 || { cat /tmp/lint-imports.$$; status=1; }
rm -f /tmp/lint-imports.$$
.venv/bin/python scripts/check_lengths.py || status=1
if [ "$status" -ne 0 ]; then
    echo "lint: fix the findings above (ruff format . fixes formatting; ruff check --fix . some of the rest)" >&2
fi
exit "$status"
