"""integrations.effective.run_with_palette: the frame of discovery, profile sync and tag edits, on real runs
and the simulator."""

from __future__ import annotations

import sqlite3

import pytest
from django.db import OperationalError, connection

from compute.models import DiscoveryRun
from integrations.effective import RUN_DB_ATTEMPTS, RUN_DB_BACKOFF, run_with_palette
from integrations.models import Settings


def test_it_gives_work_a_client_for_the_projects_palette_and_ends_the_run(connected_project, sim):
    seen = []
    run = run_with_palette(
        DiscoveryRun.objects.create(project=connected_project),
        connected_project,
        lambda client, palette: seen.append(client.whoami().org_name),
        name="t",
        what="Discovery",
    )
    assert run.status == DiscoveryRun.SUCCEEDED and seen == [sim.state.org_name]
    run.refresh_from_db()
    assert run.status == DiscoveryRun.SUCCEEDED and run.finished


def test_it_fails_the_run_with_the_reason_and_never_leaves_it_running(connected_project, sim, caplog):
    def broken(client, palette):
        raise ValueError("a bug")

    run = run_with_palette(
        DiscoveryRun.objects.create(project=connected_project),
        connected_project,
        broken,
        name="t",
        what="Discovery",
    )
    assert (run.status, run.first_error) == (
        "failed",
        "Discovery stopped unexpectedly (ValueError); see the worker log.",
    )
    assert "a bug" in caplog.text  # the traceback goes to the worker log, not to the page

    sim.state.keys.clear()
    run = run_with_palette(
        DiscoveryRun.objects.create(project=connected_project),
        connected_project,
        lambda client, palette: client.whoami(),
        name="t",
        what="Discovery",
    )
    assert (
        run.status == "failed"
        and run.first_error.startswith("Palette unreachable: ")
        and "API key" in run.first_error
    )

    Settings.objects.all().delete()
    run = run_with_palette(
        DiscoveryRun.objects.create(project=connected_project),
        connected_project,
        lambda client, palette: None,
        name="t",
        what="Discovery",
    )
    assert (
        run.status == "failed"
        and run.first_error == "No Palette integration: add Settings to this project or its tenant."
    )


def test_a_run_claimed_elsewhere_is_left_alone(connected_project, sim):
    run = DiscoveryRun.objects.create(project=connected_project)
    assert run.claim()
    called = []
    same = run_with_palette(
        DiscoveryRun.objects.get(pk=run.pk),
        connected_project,
        lambda c, p: called.append(1),
        name="t",
        what="Discovery",
    )
    assert called == [] and same.status == DiscoveryRun.RUNNING


def _database_locked_once(statement: str | tuple[str, ...]):
    """An execute wrapper failing the first statement starting with `statement` (or one of them) as a busy
    SQLite would."""
    state = {"failed": False}

    def wrapper(execute, sql, params, many, context):
        if not state["failed"] and sql.startswith(statement):
            state["failed"] = True
            error = OperationalError("database is locked")
            error.__cause__ = sqlite3.OperationalError("database is locked")
            raise error
        return execute(sql, params, many, context)

    return wrapper


@pytest.fixture
def sent(monkeypatch):
    """The tasks re-sent to the broker (the edge: no broker in this test), with their countdowns."""
    calls = []
    monkeypatch.setattr(
        "core.tasks.send", lambda name, *args, countdown=0: calls.append((name, list(args), countdown))
    )
    return calls


@pytest.mark.django_db(transaction=True)  # the error ends the step's own transaction, as it would in a worker
def test_a_transient_database_error_sends_the_run_again_instead_of_failing_it(connected_project, sim, sent):
    from compute.discovery import run_discovery
    from compute.models import EdgeHost
    from compute.tasks import discovery_task

    run = DiscoveryRun.objects.create(project=connected_project)
    # The scan's first write: on PostgreSQL it reserves the hosts' ids (then COPYs them), elsewhere INSERTs.
    first_write = (
        'INSERT INTO "compute_edgehost"',
        "SELECT nextval(pg_get_serial_sequence('compute_edgehost'",
    )
    with connection.execute_wrapper(_database_locked_once(first_write)):
        run = run_discovery(run)
    run.refresh_from_db()
    assert run.status == DiscoveryRun.PENDING and not run.first_error and run.started is None
    assert (
        "The database was busy or unreachable (OperationalError: database is locked); trying again in 2 s"
        in run.log
    )
    assert sent == [("compute.discovery", [run.pk], 2)] and EdgeHost.objects.count() == 0
    discovery_task(*sent[0][1])  # what the worker does with the re-sent message
    run.refresh_from_db()
    assert run.status == DiscoveryRun.SUCCEEDED and EdgeHost.objects.count() == sum(
        h.project_uid == sim.project_uids[0] for h in sim.state.hosts.values()
    )


def test_a_run_fails_once_its_database_retries_are_used_up(connected_project, sim, sent):
    def locked(client, palette):
        error = OperationalError("database is locked")
        error.__cause__ = sqlite3.OperationalError("database is locked")
        raise error

    run = DiscoveryRun.objects.create(project=connected_project)
    for _ in range(RUN_DB_ATTEMPTS):
        run = run_with_palette(
            DiscoveryRun.objects.get(pk=run.pk), connected_project, locked, name="t", what="Discovery"
        )
    assert [countdown for _, _, countdown in sent] == list(RUN_DB_BACKOFF)
    assert (
        run.status == DiscoveryRun.FAILED
        and run.first_error == "Discovery stopped unexpectedly (OperationalError); see the worker log."
    )


def test_a_database_error_that_is_not_transient_fails_the_run_at_once(connected_project, sim, sent):
    def missing_table(client, palette):
        error = OperationalError("no such table: compute_edgehost")
        error.__cause__ = sqlite3.OperationalError("no such table: compute_edgehost")
        raise error

    run = run_with_palette(
        DiscoveryRun.objects.create(project=connected_project),
        connected_project,
        missing_table,
        name="t",
        what="Discovery",
    )
    assert run.status == DiscoveryRun.FAILED and sent == []
