"""The run watchdog: no TaskRun row stays pending or running for ever.

A run row is written first and its message is sent on commit (core.tasks.start_once). The message
can be lost after that: Redis restarted without persistence, a queue was purged, a worker was killed
holding a prefetched message. Then the row stays `pending`, and because every "start" function
joins the active run of its target instead of starting a second one, that project's discovery,
profile sync or connection check would never run again. The same holds for a row left `running`
by a worker that was killed (SIGKILL, OOM) mid-run: its redelivered message cannot claim it.

`check_runs` (beat, every RUN_WATCHDOG_INTERVAL seconds, and once when a worker starts):
- re-sends the message of every run pending longer than RUN_RESEND_AFTER, again at most every
  RUN_RESEND_AFTER (harmless when the first message still exists, e.g. behind a backlog: the row
  is claimed pending → running once, the other message is a no-op);
- fails, with a reason a person can act on, every run pending longer than RUN_PENDING_TIMEOUT
  (no worker took it) or running longer than RUN_RUNNING_TIMEOUT (its worker died).
Both failures are compare-and-set on the status read, so a run a worker claims or finishes at
the same moment is left alone. Compute pools have their own watchdog (compute.provisioning).

Run models come from the run kinds each app registers (core.runs), so `core` stays below the apps that
define runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Case, F, TextField, Value, When
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .durations import human_duration
from .models import TaskRun
from .runs import run_kinds

log = logging.getLogger(__name__)

DEFAULTS = {"RUN_RESEND_AFTER": 300, "RUN_PENDING_TIMEOUT": 3600, "RUN_RUNNING_TIMEOUT": 1800}
RESENT_NOTE = "re-sent by the watchdog"
#: Keys the watchdog keeps in a pending run's `progress`: when it last re-sent the run, and how often.
RESENT_AT, RESENT_COUNT = "watchdogResentAt", "watchdogResent"


def _seconds(name: str) -> float:
    return float(getattr(settings, name, DEFAULTS[name]))


@dataclass
class WatchdogResult:
    """What one pass did: "label:pk" of the runs re-sent and of the runs failed."""

    resent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def run_models() -> list[tuple[type[TaskRun], str]]:
    """(model, task name) for every registered run kind."""
    return [(kind.model, kind.task) for kind in run_kinds()]


def _fail(model: type[TaskRun], pk: int, status: str, message: str, **match) -> bool:
    """Move one run from `status` to failed (compare-and-set), keeping an earlier first error."""
    now = timezone.now()
    return bool(
        model.objects.filter(pk=pk, status=status, **match).update(
            status=TaskRun.FAILED,
            finished=now,
            last_error=message,
            first_error=Case(
                When(first_error="", then=Value(message)), default=F("first_error"), output_field=TextField()
            ),
        )
    )


def check_runs(now=None, send=None) -> WatchdogResult:
    """One watchdog pass over every run model (see the module docstring).

    `send(task, pk)` defaults to Celery.
    """
    if send is None:
        from celery import current_app

        def send(task: str, pk: int) -> None:
            current_app.send_task(task, args=[pk])

    now = now or timezone.now()
    resend_after, pending_timeout, running_timeout = (
        _seconds("RUN_RESEND_AFTER"),
        _seconds("RUN_PENDING_TIMEOUT"),
        _seconds("RUN_RUNNING_TIMEOUT"),
    )
    result = WatchdogResult()
    for model, task in run_models():
        label = model._meta.label
        pending = model.objects.filter(
            status=TaskRun.PENDING, created__lt=now - timedelta(seconds=resend_after)
        )
        for pk, created, run_log, progress in pending.values_list("pk", "created", "log", "progress"):
            age = (now - created).total_seconds()
            if age >= pending_timeout:
                message = (
                    f"No worker took this run within {human_duration(age)}: check that a Celery worker is "
                    "running and can reach the broker (the overview shows when a worker last answered), "
                    "then start it again."
                )
                if _fail(model, pk, TaskRun.PENDING, message):
                    result.failed.append(f"{label}:{pk}")
                    log.warning("%s %s failed: pending for %s", label, pk, human_duration(age))
                continue
            progress = progress if isinstance(progress, dict) else {}
            last = parse_datetime(str(progress.get(RESENT_AT) or ""))
            if last is not None and (now - last).total_seconds() < resend_after:
                # re-sent recently: at most one extra message per RUN_RESEND_AFTER, even with a backlog
                continue
            send(task, pk)
            result.resent.append(f"{label}:{pk}")
            fields = {
                "progress": {
                    **progress,
                    RESENT_AT: now.isoformat(),
                    RESENT_COUNT: int(progress.get(RESENT_COUNT) or 0) + 1,
                }
            }
            if RESENT_NOTE not in run_log:
                # One line in the run's log says why it may start late; later re-sends add nothing.
                stamp = timezone.localtime(now).strftime("%H:%M:%S")
                fields["log"] = Concat(
                    F("log"),
                    Value(
                        f"{stamp} Still pending after {human_duration(age)}: {RESENT_NOTE} "
                        "(the broker may have lost the first message).\n"
                    ),
                    output_field=TextField(),
                )
            model.objects.filter(pk=pk, status=TaskRun.PENDING).update(**fields)
            log.info("%s %s re-sent after %s pending", label, pk, human_duration(age))
        running = model.objects.filter(
            status=TaskRun.RUNNING, started__lt=now - timedelta(seconds=running_timeout)
        )
        for pk, started in running.values_list("pk", "started"):
            age = (now - started).total_seconds()
            message = (
                "The worker running this stopped without finishing it "
                f"({human_duration(age)} since it started; it was probably killed or restarted). "
                "Start it again."
            )
            if _fail(model, pk, TaskRun.RUNNING, message, started=started):
                result.failed.append(f"{label}:{pk}")
                log.warning("%s %s failed: running for %s", label, pk, human_duration(age))
    return result
