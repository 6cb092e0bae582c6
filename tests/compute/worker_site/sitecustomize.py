"""Loaded (through PYTHONPATH) by the worker processes of tests/compute/test_pool_concurrency_worker.py only.

A long moment between choosing a pool's hosts and saving them (SLOW_ALLOCATION_SECONDS), so that two
pools validated at the same moment overlap there every time, not by chance, unless something
serializes them.
"""

from __future__ import annotations

import os
import time

from celery.signals import worker_ready


@worker_ready.connect
def _slow_allocation(**kwargs) -> None:
    import compute.readiness as readiness

    real = readiness.report_for_pool

    def slow(pool, **options):
        report = real(pool, **options)
        time.sleep(float(os.environ["SLOW_ALLOCATION_SECONDS"]))
        return report

    readiness.report_for_pool = slow
