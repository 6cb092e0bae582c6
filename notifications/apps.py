from __future__ import annotations

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from core import events
        from tenancy import deletion

        from . import tasks  # noqa: F401  (registers the tasks: domain code sends them by name, core.tasks.send)
        from .dispatch import on_event, remove_rules

        events.register_listener(on_event)
        deletion.register_cleanup(5, remove_rules)
