from __future__ import annotations

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from .runs import register_history, register_run_kind

        # Heartbeats keep their last 100 rows themselves (core.tasks.heartbeat): no retention setting.
        register_run_kind("core.WorkerHeartbeat", task="core.heartbeat", name="worker heartbeats")
        register_history("core.AuditEntry", name="audit entries", retention="RETENTION_AUDIT_DAYS")
