from __future__ import annotations

from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "tenancy"
    verbose_name = "Tenancy"

    def ready(self) -> None:
        from core.audit import register_actor_context

        from .effective_access import actor_via

        # The audit log records the provider's subject and the groups that granted the role used.
        register_actor_context(actor_via)
