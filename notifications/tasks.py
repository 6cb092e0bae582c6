"""Notification delivery tasks (notifications.delivery)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="notifications.deliver", acks_late=True, ignore_result=True)
def deliver_task(notification_id: int) -> None:
    """One delivery attempt. Idempotent: claimed pending → sending once; a duplicate does nothing."""
    from .delivery import deliver

    deliver(notification_id)


@shared_task(name="notifications.sweep", acks_late=True, ignore_result=True)
def sweep_task() -> int:
    """Beat: re-send notifications whose message was lost or whose worker died (notifications.delivery)."""
    from .delivery import sweep

    return sweep()
