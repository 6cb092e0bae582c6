#!/usr/bin/env bash
# make bench: every benchmark, on PostgreSQL, each printing its ratio against the baseline it
# measures side by side in the same run. Exit 1 when any is over its target.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh test
export DJANGO_SETTINGS_MODULE=paletteai_admin.settings
status=0
for bench in "bench/palette_client.py" "bench/discovery.py" "bench/discovery.py --limited" "bench/shared_budget.py" "bench/grid.py"; do
  echo "== $bench"
  # shellcheck disable=SC2086
  scripts/with-services.sh .venv/bin/python $bench || status=1
done
exit $status
