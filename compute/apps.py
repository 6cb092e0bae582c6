from __future__ import annotations

from django.apps import AppConfig


class ComputeConfig(AppConfig):
    name = "compute"
    verbose_name = "Compute"

    def ready(self) -> None:
        from tenancy.overview import register_step

        from .overview import hosts_step, pools_step

        register_step(20, hosts_step)
        register_step(30, pools_step)
