"""The small world every test shares: an owner of tenant A, a read-only member of A, an outsider in B.

Also: Playwright on Debian's Chromium, and a real Celery worker process for integration tests.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# Sync Playwright runs an event loop in the test thread; Django's ORM in live_server tests would
# otherwise refuse to run (SynchronousOnlyOperation). Only in the test process.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PASSWORD = "correct-horse-battery-9"


def require_services(*, redis: bool = True, postgres: bool = True, chromium: bool = False) -> None:
    """Skip the calling test when a service it needs is missing; under `make test` fail it instead.

    scripts/test.sh (make test) starts Redis and PostgreSQL and sets REQUIRE_SERVICES=1, so there a
    missing service is a broken run, never a silent skip. A developer running pytest by hand may skip.
    """
    from django.conf import settings
    from django.db import connection

    missing = [
        name
        for name, needed, present in (
            ("Redis (REDIS_URL)", redis, bool(settings.REDIS_URL)),
            ("PostgreSQL (DATABASE_URL)", postgres, connection.vendor == "postgresql"),
            (f"Chromium ({CHROMIUM})", chromium, os.path.exists(CHROMIUM)),
        )
        if needed and not present
    ]
    if not missing:
        return
    message = f"needs {' and '.join(missing)}: run it with make test (scripts/test.sh), which starts them"
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message}. REQUIRE_SERVICES=1 is set (make test), so a missing service fails the run.")
    pytest.skip(message)


@pytest.fixture(scope="session", autouse=True)
def _required_services():
    # Under make test the whole run needs both services, whichever tests it selects: fail every test at once.
    if os.environ.get("REQUIRE_SERVICES") == "1":
        require_services()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    require_services(redis=False, postgres=False, chromium=True)
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(autouse=True)
def _no_login_throttling(settings):
    # Tests log in many times from one address; the throttling test turns it back on.
    settings.AXES_ENABLED = False
    # PBKDF2's 1,000,000 iterations cost ~0.4 s per user created; tests need no real hashing cost.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class World:
    """Tenant A (with project A1) owned by `owner`, read by `viewer`; tenant B (project B1) with
    `outsider`."""

    def __init__(self):
        from django.contrib.auth import get_user_model

        from tenancy.models import Membership, Project, Tenant

        User = get_user_model()
        self.tenant_a = Tenant.objects.create(name="acme", display_name="Acme")
        self.tenant_b = Tenant.objects.create(name="globex", display_name="Globex")
        self.project_a = Project.objects.create(
            tenant=self.tenant_a, name="research", display_name="Research", namespace="acme-research"
        )
        self.project_b = Project.objects.create(
            tenant=self.tenant_b, name="ops", display_name="Ops", namespace="globex-ops"
        )
        self.owner = User.objects.create_user("owner", password=PASSWORD)
        self.viewer = User.objects.create_user("viewer", password=PASSWORD)
        self.editor = User.objects.create_user("editor", password=PASSWORD)
        self.outsider = User.objects.create_user("outsider", password=PASSWORD)
        self.superuser = User.objects.create_superuser("root", password=PASSWORD)
        Membership.objects.create(user=self.owner, tenant=self.tenant_a, role=Membership.TENANT_ADMIN)
        Membership.objects.create(user=self.viewer, tenant=self.tenant_a, role=Membership.VIEWER)
        Membership.objects.create(user=self.editor, project=self.project_a, role=Membership.EDITOR)
        Membership.objects.create(user=self.outsider, tenant=self.tenant_b, role=Membership.TENANT_ADMIN)

    def client_for(self, user):
        from django.test import Client

        client = Client()
        client.force_login(user)
        return client


@pytest.fixture
def world(db):
    return World()


def worker_database_url() -> str:
    """The test database as a DATABASE_URL, for the worker and beat processes a test starts."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3") and not connection.is_in_memory_db():
        return (
            f"sqlite://{db['NAME']}"  # a SQLite file (the embedded default) the test shares with its workers
        )
    if not db["ENGINE"].endswith("postgresql"):
        pytest.fail(
            "The worker tests need PostgreSQL (a worker process cannot share an in-memory SQLite database)."
        )
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


class CeleryProcess:
    """A real `celery worker` or `celery beat` process on the test database and `broker_url`; stopped or
    killed by its PID.

    Started and ready when constructed (the test fails with the log if it does not start).
    """

    def __init__(
        self,
        kind: str,
        log_path: Path,
        broker_url: str,
        env: dict[str, str] | None = None,
        concurrency: int = 2,
        schedule: Path | None = None,
    ):
        self.kind, self.log_path = kind, log_path
        full_env = {
            **os.environ,
            "REDIS_URL": broker_url,
            "DATABASE_URL": worker_database_url(),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        full_env.pop("PYTEST_XDIST_WORKER", None)  # the URL already names this test process's Redis database
        if kind == "worker":
            args = [
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                str(concurrency),
                "--loglevel",
                "INFO",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
                "-n",
                f"test-{os.getpid()}-{time.time_ns()}@%h",
            ]
            ready = "ready."
        else:
            args = [
                "beat",
                "--loglevel",
                "INFO",
                "-s",
                str(schedule or log_path.with_suffix(".schedule")),
                "--pidfile",
                str(log_path.with_suffix(".pid")),
            ]
            ready = "beat: Starting"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "paletteai_admin", *args],
            cwd=ROOT,
            env=full_env,
            stdout=log_path.open("w"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while ready not in self.log_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                pytest.fail(f"celery {kind} did not start:\n{self.log_text()[-3000:]}")
            time.sleep(0.2)

    def log_text(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no acknowledgement, nothing cleaned up."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def celery_worker_process(transactional_db, settings, tmp_path):
    """A real `celery worker` process on the test's Redis and the test database. Stops by PID."""
    require_services()
    worker = CeleryProcess("worker", tmp_path / "celery.log", settings.REDIS_URL)
    yield worker
    worker.stop()


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.2, message: str = "condition"):
    """Poll `predicate` until it returns something truthy, or fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"Timed out after {timeout}s waiting for {message}.")


@pytest.fixture
def sim():
    """A Palette simulator over HTTPS with a realistic inventory (120 hosts, seed 7)."""
    from palette.sim import Simulator

    simulator = Simulator(hosts=120, seed=7).start()
    yield simulator
    simulator.stop()


@pytest.fixture
def connected_project(world, sim):
    """world.project_a, with tenant Settings pointing at the simulator's first project (CA trusted)."""
    from tests.integrations.conftest import configure_palette, palette_values

    configure_palette(world.tenant_a, palette_values(sim), ca_pem=sim.ca_pem)
    return world.project_a


@pytest.fixture
def fake_kube():
    """The project's fake Kubernetes API server (tests/fakes/kube.py), for the real `kubernetes` client."""
    from tests.fakes.kube import FakeKube

    with FakeKube() as fake:
        yield fake


@pytest.fixture
def kube_on(settings, fake_kube):
    """Sync on, pointed at the fake through KUBERNETES_API_URL."""
    settings.KUBERNETES_API_URL = fake_kube.url
    settings.KUBECONFIG = ""
    settings.KUBERNETES_IN_CLUSTER = False
    return fake_kube


@pytest.fixture
def queued(monkeypatch):
    """Run the Secret sync tasks that `.delay()` would send to the broker in-process, and keep their
    arguments.

    Only for this test: nothing is made eager globally.
    """
    from integrations import tasks

    calls: list[tuple[str, tuple]] = []

    def runner(task):
        def delay(*args):
            calls.append((task.name, args))
            return task(*args)

        return delay

    monkeypatch.setattr(tasks.sync_secret_task, "delay", runner(tasks.sync_secret_task))
    monkeypatch.setattr(tasks.delete_kube_secret_task, "delay", runner(tasks.delete_kube_secret_task))
    return calls


def pytest_terminal_summary(terminalreporter):
    """Print the one-line results tests attach as user property "reliability" (the faults suite), also under
    xdist."""
    lines = [
        value
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", "") == "call"
        for name, value in getattr(report, "user_properties", ())
        if name == "reliability"
    ]
    if lines:
        terminalreporter.section("reliability: what was injected, what was checked")
        for line in sorted(lines):
            terminalreporter.write_line(line)
