from __future__ import annotations

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from django.db.models import Q

        from core import events, retention
        from core.runs import register_history
        from tenancy import deletion

        from . import tasks  # noqa: F401  (registers the tasks: domain code sends them by name, core.tasks.send)
        from .dispatch import on_event, remove_rules
        from .models import Notification

        events.register_listener(on_event)
        deletion.register_cleanup(5, remove_rules)
        # The delivery log is bounded like the other histories (manage.py prune); one still on its way
        # (pending, sending, held back) stays until it is delivered or given up on.
        register_history(
            "notifications.Notification", name="notifications", retention="RETENTION_NOTIFICATIONS_DAYS"
        )
        retention.keep(
            "notifications.Notification", Q(status__in=(Notification.PENDING, Notification.SENDING))
        )
