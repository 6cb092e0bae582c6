"""Benchmark: the Palette client against a bare ``requests`` loop, fetching 10,000 edge hosts.

Runs the simulator in a child process (so client and server do not share one interpreter lock),
with 10,000 hosts in one project and no rate limits, then lists every host with
``PaletteClient.search_edge_hosts`` (limiter off, typed results) and with a plain ``requests``
loop over the same 200 pages (same body, same continue tokens, JSON decoded), alternating the two
several times in the same run. Prints median wall and CPU times and the median of the per-round
ratios; exits 1 above the target.

    .venv/bin/python bench/palette_client.py [--hosts 10000] [--rounds 5] [--target 1.15]
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from palette import PaletteClient  # noqa: E402


def start_simulator(
    hosts: int, tls_dir: str, *, rate_limit: bool = False, rate_burst: float | None = None
) -> tuple[subprocess.Popen, str, str, str]:
    """Start ``palette.sim.cli`` in a child process; return it with its URL, API key and project uid."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "palette.sim.cli",
            "--port",
            "0",
            "--hosts",
            str(hosts),
            "--projects",
            "1",
            "--seed",
            "1",
            "--tls-dir",
            tls_dir,
            *([] if rate_limit else ["--no-rate-limit"]),
            *(["--rate-burst", str(rate_burst)] if rate_burst else []),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("Admin endpoint"):
            break
    text = "".join(lines)
    url = re.search(r"listening on (\S+)", text)
    key = re.search(r"API key: (\S+)", text)
    project = re.search(r"^  ([0-9a-f]{24})  ", text, re.MULTILINE)
    if not (url and key and project):
        proc.kill()
        raise SystemExit(f"the simulator did not start:\n{text}")
    return proc, url.group(1), key.group(1), project.group(1)


def bare_loop(url: str, key: str, project: str, ca: str) -> int:
    """The same pages with nothing but requests: POST, decode JSON, follow listmeta.continue."""
    session = requests.Session()
    headers = {"ApiKey": key, "ProjectUid": project, "Accept": "application/json"}
    items: list = []
    token = None
    while True:
        params = {"limit": 50}
        if token:
            params["continue"] = token
        resp = session.post(
            url + "/v1/dashboard/edgehosts/search",
            params=params,
            json={},
            headers=headers,
            timeout=(5, 30),
            verify=ca,
        )
        resp.raise_for_status()
        page = resp.json()
        items.extend(page["items"])
        token = page["listmeta"].get("continue")
        if not token:
            break
    session.close()
    return len(items)


def client_loop(url: str, key: str, project: str, ca_pem: str) -> int:
    """The same listing through PaletteClient (typed EdgeHost results, limiter off)."""
    with PaletteClient(url, key, project_uid=project, ca_pem=ca_pem, rate_limiter=False) as client:
        return len(client.search_edge_hosts())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--target", type=float, default=1.15)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="palette-bench-") as tls_dir:
        proc, url, key, project = start_simulator(args.hosts, tls_dir)
        ca = os.path.join(tls_dir, "ca.crt")
        ca_pem = Path(ca).read_text()
        try:
            # Warm-up (server-side search cache, imports, TLS session) for both contenders.
            assert bare_loop(url, key, project, ca) == client_loop(url, key, project, ca_pem) == args.hosts
            times: dict[str, list[float]] = {"client": [], "bare": []}
            cpu: dict[str, list[float]] = {"client": [], "bare": []}
            for i in range(args.rounds):
                # Each round runs both back to back, in alternating order, so a burst of load from
                # elsewhere on the machine hits both contenders of that round alike.
                order = ("client", "bare") if i % 2 == 0 else ("bare", "client")
                for name in order:
                    # Same starting heap for each contender: what the previous run left behind is
                    # collected now, not during the next run's timing.
                    gc.collect()
                    started, started_cpu = time.perf_counter(), time.process_time()
                    count = (
                        client_loop(url, key, project, ca_pem)
                        if name == "client"
                        else bare_loop(url, key, project, ca)
                    )
                    times[name].append(time.perf_counter() - started)
                    cpu[name].append(time.process_time() - started_cpu)
                    assert count == args.hosts, f"{name} fetched {count} hosts"
        finally:
            proc.terminate()
            proc.wait(10)

    client_t, bare_t = statistics.median(times["client"]), statistics.median(times["bare"])
    ratio = statistics.median(c / b for c, b in zip(times["client"], times["bare"], strict=True))
    pages = -(-args.hosts // 50)
    print(
        f"{args.hosts} edge hosts, {pages} pages of 50, {args.rounds} rounds, limiter off "
        f"(simulator in a child process)"
    )
    for name, label in (("bare", "bare requests loop"), ("client", "PaletteClient     ")):
        print(
            f"  {label} : {statistics.median(times[name]):7.3f} s wall, "
            f"{statistics.median(cpu[name]):6.3f} s CPU in this process   "
            f"(rounds: {', '.join(f'{t:.3f}' for t in times[name])})"
        )
    cpu_ratio = statistics.median(cpu["client"]) / statistics.median(cpu["bare"])
    print(
        f"  ratio client/bare  : {ratio:7.3f}x wall (median of per-round ratios; medians alone: "
        f"{client_t / bare_t:.3f}x), target <= {args.target:.2f}x: "
        f"{'OK' if ratio <= args.target else 'OVER TARGET'}"
    )
    print(f"  client-side CPU    : {cpu_ratio:7.3f}x (typed results, validation of the request body, paging)")
    # Wall times swing with other work on the machine; the load average says how much to trust them.
    print(f"  load average       : {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    return 0 if ratio <= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
