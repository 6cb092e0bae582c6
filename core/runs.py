"""The kinds of rows that pile up: background runs (every concrete TaskRun model) and histories.

Each app registers its own kinds in `AppConfig.ready()`, so `core` never names a model of an app
above it. The run watchdog (core.watchdog) re-sends and fails the runs of every run kind; the daily
prune (core.retention) deletes the rows of every kind older than the days its retention setting says.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.db import models


@dataclass(frozen=True)
class Kind:
    """One registered kind.

    `label` names the model ("compute.DiscoveryRun"); `name` is how prune reports it ("discovery
    runs"); `retention` is the setting holding the days to keep its rows ("" keeps them: pruned
    elsewhere, like heartbeats). Run kinds also have `task`, the Celery task performing one row (its
    only argument is the pk), and `targets`, the fields naming what a run is for: the newest run of
    each target in each state is never pruned, so "last successful scan" and the status badges stay.
    """

    label: str
    name: str
    retention: str = ""
    task: str = ""
    targets: tuple[str, ...] = ()

    @property
    def model(self) -> type[models.Model]:
        return apps.get_model(self.label)


_kinds: dict[str, Kind] = {}


def register_run_kind(
    label: str, *, task: str, name: str, retention: str = "", targets: tuple[str, ...] = ()
) -> None:
    """Register a concrete TaskRun model: the task that performs a row, and how long finished rows are
    kept."""
    _kinds[label] = Kind(label, name, retention, task, targets)


def register_history(label: str, *, name: str, retention: str) -> None:
    """Register a history model (rows with a `created` time) whose rows are kept `retention` days."""
    _kinds[label] = Kind(label, name, retention)


def kinds() -> list[Kind]:
    """Every registered kind, in registration order."""
    return list(_kinds.values())


def run_kinds() -> list[Kind]:
    """The registered run kinds (those with a task)."""
    return [kind for kind in _kinds.values() if kind.task]


def task_for(model: type[models.Model]) -> str:
    """The Celery task that performs one row of the registered run model `model`."""
    return _kinds[model._meta.label].task
