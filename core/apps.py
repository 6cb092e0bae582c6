from __future__ import annotations

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from . import palette_budget
        from .runs import register_history, register_run_kind

        # One Palette rate budget for every client of this process (in Redis: of the whole installation).
        palette_budget.install()

        # Heartbeats keep their last 100 rows themselves (core.tasks.heartbeat): no retention setting.
        register_run_kind("core.WorkerHeartbeat", task="core.heartbeat", name="worker heartbeats")
        register_history("core.AuditEntry", name="audit entries", retention="RETENTION_AUDIT_DAYS")
