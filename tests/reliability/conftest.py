"""Fixtures for the faults suite: real processes (Celery worker and beat, a private Redis), a restartable
simulator.

Every test here prints one line (see `report`) saying what was injected and what was checked; the
lines are collected from the test reports and printed at the end of the run (tests/conftest.py).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import CeleryProcess, require_services


@pytest.fixture
def report(request):
    """`report("...")`: the test's one line for the run's summary."""

    def add(line: str) -> None:
        request.node.user_properties.append(("reliability", f"{request.node.name}: {line}"))

    return add


@pytest.fixture
def services(settings):
    """PostgreSQL and Redis, as `make test` / `make test-reliability` start them (skipped by hand without
    them)."""
    require_services()
    return settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def processes(services, tmp_path):
    """Start workers and beats with `processes.start(kind, ...)`; every one still running is stopped at the
    end."""

    class Processes:
        def __init__(self):
            self.started: list[CeleryProcess] = []

        def start(
            self, kind: str, *, broker_url: str | None = None, env: dict | None = None, concurrency: int = 2
        ) -> CeleryProcess:
            n = len(self.started) + 1
            proc = CeleryProcess(
                kind, tmp_path / f"{kind}-{n}.log", broker_url or services.REDIS_URL, env, concurrency
            )
            self.started.append(proc)
            return proc

    procs = Processes()
    yield procs
    for proc in procs.started:
        proc.stop()


class PrivateRedis:
    """A Redis server of the test's own (launched like scripts/services.sh does), so restarting it disturbs no
    other test."""

    def __init__(self, folder: Path):
        self.folder, self.port = folder, free_port()
        folder.mkdir(parents=True, exist_ok=True)
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        path = self.folder / "redis.pid"
        return int(path.read_text().strip()) if path.exists() and path.read_text().strip() else None

    def cli(self, *args: str) -> str:
        return subprocess.run(
            ["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True, timeout=10
        ).stdout.strip()

    def start(self) -> PrivateRedis:
        # No persistence, like the suite's Redis: a restart loses every queued message.
        subprocess.run(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--daemonize",
                "yes",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
                "--pidfile",
                str(self.folder / "redis.pid"),
                "--logfile",
                str(self.folder / "redis.log"),
            ],
            check=True,
            timeout=10,
        )
        deadline = time.monotonic() + 10
        while self.cli("ping") != "PONG":
            if time.monotonic() > deadline:
                pytest.fail(f"Redis did not start on port {self.port}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        pid = self.pid
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)

    def queued(self, queue: str = "celery") -> int:
        return int(self.cli("llen", queue) or 0)


@pytest.fixture
def private_redis(services, tmp_path):
    redis = PrivateRedis(tmp_path / "redis").start()
    yield redis
    redis.stop()


@contextmanager
def broker(url: str):
    """Point this process's Celery app (what `delay` publishes to) at `url` for the block."""
    from paletteai_admin.celery import app

    before = app.conf.broker_url
    app.conf.broker_url = url
    app._pool, app.amqp._producer_pool = None, None
    try:
        yield app
    finally:
        app.conf.broker_url = before
        app._pool, app.amqp._producer_pool = None, None


@pytest.fixture
def palette(tmp_path):
    """A Palette simulator with a CA kept in tmp_path, so `restart(sim)` serves the same certificate on the
    same port."""
    from palette.sim import Simulator

    made: list[Simulator] = []

    def make(**kwargs) -> Simulator:
        sim = Simulator(tls_dir=tmp_path / f"sim-{len(made)}", **kwargs).start()
        made.append(sim)
        return sim

    yield make
    for sim in made:
        sim.stop()


def restart(sim, port: int) -> None:
    """Start a stopped simulator again on `port` (Palette coming back at the same address, same CA)."""
    sim._bind = (sim._bind[0], port)  # start() binds _bind; port 0 would pick a new one
    sim.start()


class Hold:
    """Hold the simulator's answer to one operation, once (after `skip` calls): Palette did the work, its
    answer is late.

    `entered` is set when the held call has been handled; the answer goes out when `release` is set
    (or after `limit` seconds). The route table is the simulator's own (`sim.api.routes`).
    """

    def __init__(self, sim, method: str, template: str, limit: float = 60.0, skip: int = 0):
        self.sim, self.key, self.limit, self.skip = sim, (method, template), limit, skip
        self.original = sim.api.routes[self.key]
        self.entered, self.release = threading.Event(), threading.Event()
        self._lock = threading.Lock()
        self._armed = True
        sim.api.routes[self.key] = self

    def __call__(self, call):
        reply = self.original(call)
        with self._lock:
            if self.skip:  # let the first `skip` calls through
                self.skip -= 1
                return reply
            armed, self._armed = self._armed, False
        if armed:
            self.entered.set()
            self.release.wait(self.limit)
        return reply

    def remove(self) -> None:
        self.sim.api.routes[self.key] = self.original
        self.release.set()

    def kill_inside(self, worker, timeout: float) -> bool:
        """SIGKILL `worker` while the held call waits for its answer; False if no call came within `timeout`.

        The hold is removed either way, so the next worker's calls are answered normally.
        """
        try:
            reached = self.entered.wait(timeout)
            if reached:
                worker.kill()
        finally:
            self.remove()
        return reached


def configure(owner, sim) -> None:
    """Settings for a tenant or project pointing at `sim`'s first project, trusting its CA."""
    from tests.integrations.conftest import configure_palette, palette_values

    configure_palette(
        owner, palette_values(sim), ca_pem=sim.ca_pem, name=f"{getattr(owner, 'name', 'x')}-settings"
    )
