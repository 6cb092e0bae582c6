"""manage.py pool_wait NAME -n NS [--timeout S]: wait until a pool is Ready (exit 0) or Failed (exit 1)."""

from __future__ import annotations

import time
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from compute.management.lookup import pool_for
from compute.models import ComputePool


class Command(BaseCommand):
    help = (
        "Wait for compute pool NAME in namespace NS to become Ready (exit 0) or Failed (exit 1, with the "
        "first error), printing each change of state. Exit 1 also after --timeout seconds or when the pool "
        "is deleted."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("-n", "--namespace", required=True)
        parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait (default 3600)")
        parser.add_argument("--interval", type=float, default=2.0, help="seconds between checks (default 2)")

    def handle(self, *args, name: str, namespace: str, timeout: float, interval: float, **options):
        pool = pool_for(name, namespace)
        deadline = time.monotonic() + timeout
        shown: tuple = ()
        hinted = False
        while True:
            pool.refresh_from_db()
            now = (pool.status, pool.step, pool.wait_reason)
            if now != shown:
                stamp = timezone.localtime().strftime("%H:%M:%S")
                self.stdout.write(
                    f"{stamp} {pool.get_status_display()}"
                    + (f" · {pool.step}" if pool.step and pool.step != "done" else "")
                    + (f" — {pool.wait_reason}" if pool.wait_reason else "")
                )
                shown = now
            if pool.status == ComputePool.READY:
                self.stdout.write(f"Ready: cluster {pool.cluster_name} ({pool.cluster_uid}).")
                return
            if pool.status == ComputePool.FAILED:
                self.stderr.write(
                    f"Failed ({pool.get_failure_class_display() or 'unknown'}): {pool.failure_message}"
                )
                raise SystemExit(1)
            if (
                pool.status in (ComputePool.DELETING, ComputePool.DELETED)
                or pool.operation == ComputePool.DELETION
            ):
                self.stderr.write(
                    f"The pool is {pool.get_status_display().lower()}; it will not become Ready."
                )
                raise SystemExit(1)
            if (
                not hinted
                and pool.status == ComputePool.PENDING
                and timezone.now() - pool.created > timedelta(seconds=60)
            ):
                from tenancy.overview import worker_status

                if not worker_status()["workers_healthy"]:
                    self.stderr.write(
                        "Still pending and no background worker answered a heartbeat recently: is a Celery "
                        "worker running?"
                    )
                hinted = True
            if time.monotonic() >= deadline:
                self.stderr.write(
                    f"Timed out after {timeout:g}s: the pool is {pool.get_status_display()}"
                    + (f" — {pool.wait_reason}" if pool.wait_reason else ".")
                )
                raise SystemExit(1)
            time.sleep(max(0.05, min(interval, deadline - time.monotonic())))
