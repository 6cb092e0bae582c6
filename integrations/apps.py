from __future__ import annotations

from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from core.runs import register_run_kind
        from tenancy import deletion
        from tenancy.home import register_column
        from tenancy.overview import register_step

        from . import tasks  # noqa: F401  (registers the tasks: domain code sends them by name, core.tasks.send)
        from .deletion import remove_settings_and_secrets
        from .overview import check_failures_column, connection_column, palette_step

        register_step(10, palette_step)
        register_column(10, "Palette connection", connection_column)
        register_column(41, "Recent failures (7 days)", check_failures_column)
        deletion.register_cleanup(20, remove_settings_and_secrets)
        # A check belongs to a tenant or to a project (the other is NULL): the newest of each is kept.
        register_run_kind(
            "integrations.PaletteCheck",
            task="integrations.palette_check",
            name="connection checks",
            retention="RETENTION_CONNECTION_CHECKS_DAYS",
            targets=("tenant", "project"),
        )
