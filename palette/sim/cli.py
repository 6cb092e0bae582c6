"""``palette_sim``: run the simulator from the command line until interrupted.

Prints its URL, API key, CA certificate path and project UIDs, then serves. The same flags work
through ``python manage.py palette_sim`` and ``python -m palette.sim.cli``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from typing import TextIO

from .faults import Faults
from .server import Simulator
from .state import parse_license


def build_parser(prog: str = "palette_sim") -> argparse.ArgumentParser:
    """The argument parser (shared with the Django management command)."""
    parser = argparse.ArgumentParser(prog=prog, description="Run the Palette API simulator.")
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the simulator's flags to a parser."""
    parser.add_argument(
        "--port", type=int, default=8443, help="port to listen on (0 = any free port; default 8443)"
    )
    parser.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--hosts", type=int, default=60, help="number of edge hosts to seed (default 60)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated inventory (default 1)")
    parser.add_argument("--projects", type=int, default=3, help="number of projects (default 3)")
    parser.add_argument("--api-key", default=None, help="the API key to accept (random if omitted)")
    parser.add_argument(
        "--tls-dir",
        default=None,
        help="directory for ca.crt/server.crt (kept and reused; a temporary one if omitted)",
    )
    parser.add_argument("--no-tls", action="store_true", help="serve plain HTTP instead of HTTPS")
    parser.add_argument(
        "--faults",
        default="",
        help='fault injection, e.g. "429:0.2,500:0.05,reset:0.02,lost:0.1,latency:50ms"',
    )
    parser.add_argument(
        "--no-rate-limit", action="store_true", help="do not answer 429 above Palette's rate limits"
    )
    parser.add_argument(
        "--rate-burst",
        type=float,
        default=None,
        help="seconds of traffic at the limit that the per-address bucket holds before 429 (default 5)",
    )
    parser.add_argument(
        "--license",
        default="active",
        type=_license,
        help="self-hosted activation state: active, pending (a fresh 30-day trial), pending:<N>d (N days of "
        "the trial left), inactive (trial over: no new clusters, no day-2 operations) or saas (no "
        "activation: /v1/activations/system answers 404); default active",
    )
    parser.add_argument(
        "--registries",
        default=None,
        help='pack registries, comma-separated (default "Public Repo,Palette Registry"; a name may '
        'end in :private or :public; "none" for none)',
    )


def _license(text: str) -> str:
    """The ``--license`` value, checked (argparse shows the ValueError's message)."""
    try:
        parse_license(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text.strip().lower()


def argv_from_options(options: dict) -> list[str]:
    """Turn parsed options (e.g. a Django command's) back into argv for ``main``."""
    argv: list[str] = []
    for flag in (
        "port",
        "bind",
        "hosts",
        "seed",
        "projects",
        "api_key",
        "tls_dir",
        "faults",
        "rate_burst",
        "license",
        "registries",
    ):
        value = options.get(flag)
        if value not in (None, ""):
            argv += [f"--{flag.replace('_', '-')}", str(value)]
    for flag in ("no_tls", "no_rate_limit"):
        if options.get(flag):
            argv.append(f"--{flag.replace('_', '-')}")
    return argv


def options_to_simulator(options: dict) -> Simulator:
    """Build (not start) a Simulator from parsed options (argparse namespace vars)."""
    Faults.parse(options.get("faults") or "")  # fail early with a clear message
    registries = options.get("registries")
    if registries is not None:
        registries = (
            [] if registries.strip().lower() == "none" else [r for r in registries.split(",") if r.strip()]
        )
    return Simulator(
        hosts=options["hosts"],
        seed=options["seed"],
        projects=options.get("projects", 3),
        api_key=options.get("api_key"),
        host=options.get("bind", "127.0.0.1"),
        port=options["port"],
        tls=not options.get("no_tls"),
        tls_dir=options.get("tls_dir"),
        faults=options.get("faults") or None,
        rate_limit=not options.get("no_rate_limit"),
        **({"rate_burst_seconds": options["rate_burst"]} if options.get("rate_burst") else {}),
        license_state=options.get("license") or "active",
        registries=registries,
    )


def banner(sim: Simulator) -> str:
    """What the command prints on start."""
    lines = [f"Palette simulator listening on {sim.url}", f"API key: {sim.api_key}"]
    if sim.ca_path:
        lines.append(f"CA certificate: {sim.ca_path}")
    lines.append("Projects:")
    lines += [f"  {p.uid}  {p.name}" for p in sim.state.projects.values()]
    summary = sim.state.summary()
    lines.append(
        f"Edge hosts: {summary['hosts']} {summary['hostsByState']}, "
        f"unhealthy: {summary['unhealthyHosts']}, clusters: {len(summary['clusters'])}"
    )
    if sim.faults.faults.active:
        lines.append(f"Faults: {sim.faults.faults.spec}")
    lines.append(
        f"License: {sim.state.license_state}"
        + (f" (expires {sim.state.license_expires})" if sim.state.license_expires else "")
    )
    lines.append("Pack registries: " + (", ".join(r.name for r in sim.state.registries) or "none"))
    lines.append(f"Admin endpoint: {sim.url}/__sim__/state (header ApiKey)")
    return "\n".join(lines)


def serve(sim: Simulator, out: TextIO = sys.stdout, stop: threading.Event | None = None) -> None:
    """Start ``sim``, print the banner and serve until ``stop`` is set or SIGINT/SIGTERM."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    sim.start()
    try:
        print(banner(sim), file=out, flush=True)
        stop.wait()
    finally:
        sim.stop()


def main(
    argv: Sequence[str] | None = None, *, out: TextIO = sys.stdout, stop: threading.Event | None = None
) -> int:
    """Entry point: parse ``argv``, run until interrupted; returns the exit code (0 ok, 1 invalid)."""
    parser = build_parser()
    options = vars(parser.parse_args(argv))
    try:
        sim = options_to_simulator(options)
    except ValueError as exc:
        print(f"palette_sim: {exc}", file=sys.stderr)
        return 1
    try:
        serve(sim, out=out, stop=stop)
    except OSError as exc:
        print(f"palette_sim: cannot listen on {options['bind']}:{options['port']}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
