"""Benchmark: two processes discovering two projects at once against one Palette that enforces its limits.

The simulator (a child process) enforces Palette's 10 req/s on /v1/dashboard per source address (a bucket of
half a second of traffic: no burst hides a second client). Two
discovery processes start together, each with its own database and project (both pointing at the same
Palette project), and the one rate budget in Redis. Reported: the wall time against the floor (all pages of
both ÷ 10 req/s) and the 429s the simulator answered; side by side, the baseline of the same two processes
each with a budget of its own (what a per-process limiter does: Palette sees twice its limit).
Targets: zero 429 and at most 1.3x the floor with the shared budget.

    scripts/with-services.sh .venv/bin/python bench/shared_budget.py [--hosts 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.palette_client import start_simulator  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def child(url: str, key: str, project_uid: str, ca: str, shared: bool) -> None:
    """One process: a fresh database and project, then one discovery once the parent says go."""
    from bench import django_env

    django_env.setup(keep_redis=shared)  # without Redis, the process keeps a budget of its own
    from compute.discovery import run_discovery
    from compute.models import DiscoveryRun

    project = django_env.connected_project(url, key, project_uid, Path(ca).read_text())
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.perf_counter()
    run = run_discovery(DiscoveryRun.objects.create(project=project))
    print(json.dumps({"status": run.status, "pages": run.pages, "seconds": time.perf_counter() - started}))


def race(url: str, key: str, project_uid: str, ca: str, *, shared: bool) -> tuple[float, int, int]:
    """Both processes at once: (wall seconds, pages in all, 429s answered)."""
    before = _stats(url, key, ca)
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", url, key, project_uid, ca, "shared" if shared else "own"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for proc in procs:
        line = proc.stdout.readline().strip()
        if line != "ready":
            raise SystemExit(f"a discovery process did not start: {line!r}")
    started = time.perf_counter()
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = [json.loads(proc.communicate(timeout=600)[0].strip().splitlines()[-1]) for proc in procs]
    wall = time.perf_counter() - started
    assert all(r["status"] == "succeeded" for r in results), results
    return wall, sum(r["pages"] for r in results), _stats(url, key, ca) - before


def _stats(url: str, key: str, ca: str) -> int:
    stats = requests.get(url + "/__sim__/stats", headers={"ApiKey": key}, verify=ca, timeout=10).json()
    return int(stats.get("byStatus", {}).get("429", 0))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "--child":
        child(*args[1:5], shared=args[5] == "shared")
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=2000)
    options = parser.parse_args(args)
    if not os.environ.get("REDIS_URL"):
        raise SystemExit(
            "REDIS_URL is not set: run it with scripts/with-services.sh (the budget lives in Redis)."
        )
    with tempfile.TemporaryDirectory(prefix="palette-bench-") as tls_dir:
        proc, url, key, project_uid = start_simulator(options.hosts, tls_dir, rate_limit=True, rate_burst=0.5)
        ca = os.path.join(tls_dir, "ca.crt")
        try:
            own = race(url, key, project_uid, ca, shared=False)
            time.sleep(2)  # the simulator's bucket fills again
            shared = race(url, key, project_uid, ca, shared=True)
        finally:
            proc.terminate()
            proc.wait(10)
    floor = shared[1] / 10
    ratio = shared[0] / floor
    print(f"2 processes x {options.hosts} hosts, {shared[1]} pages in all, Palette enforcing 10 req/s")
    print(f"  floor (pages / 10 req/s)     : {floor:7.2f} s")
    print(
        f"  one budget per process (base): {own[0]:7.2f} s  {own[0] / floor:5.2f}x floor, "
        f"429 responses: {own[2]}"
    )
    ok = ratio <= 1.3 and shared[2] == 0
    print(
        f"  one shared budget (Redis)    : {shared[0]:7.2f} s  {ratio:5.2f}x floor, "
        f"429 responses: {shared[2]}  "
        f"target <= 1.30x and 0: {'OK' if ok else 'OVER TARGET'}"
    )
    print(
        f"  load average                 : {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} CPUs"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
