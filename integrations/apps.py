from __future__ import annotations

from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from tenancy.overview import register_step

        from .overview import palette_step

        register_step(10, palette_step)
