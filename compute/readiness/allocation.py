"""Host allocation, one pool at a time per Palette project.

A pool's hosts are chosen from the inventory minus what other pools have saved (`gather`'s
reservations). Two pools choosing at the same moment would both see the same free hosts, so
choosing and saving happen in one transaction that holds the allocation lock of the Palette
project whose hosts they are: the second pool chooses after the first has saved, and sees its
hosts reserved.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction


def allocation_key(project, palette=None) -> str:
    """What names the hosts a pool of `project` can get: its Palette (host URL) and Palette project (UID).

    Two of our projects on one Palette project share the lock. `palette` is the project's effective
    Palette integration when the caller has it at hand; without an integration, the project itself.
    """
    if palette is None:
        from integrations.effective import resolve

        palette = resolve(project).palette
    uid = str(palette.value("defaultProjectID") or "") if palette is not None else ""
    if not uid:
        return f"project:{project.pk}"
    return f"palette:{str(palette.value('hostUrl') or '').rstrip('/').lower()}#{uid}"


def _lock_id(key: str) -> int:
    # pg_advisory_xact_lock takes a signed 64-bit key.
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


@contextmanager
def allocating(key: str) -> Iterator[None]:
    """A transaction during which no other allocation for `key` runs; keep it short (no Palette calls).

    PostgreSQL: a transaction-scoped advisory lock on a hash of the key, released at commit or
    rollback, so allocations for other Palette projects go on in parallel. SQLite allows one writer
    at a time: the transaction holds the database's write lock from its start (settings begin every
    transaction IMMEDIATE; a no-op write takes the lock if this one began deferred), so every
    allocation waits for the one before it, and other writers wait within their busy timeout.
    A lock that cannot be had in time is a transient database error: the caller's step is retried.
    """
    with transaction.atomic():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_id(key)])
            else:
                from ..models import ComputePool

                table = connection.ops.quote_name(ComputePool._meta.db_table)
                cursor.execute(f"UPDATE {table} SET tick = tick WHERE 0 = 1")
        yield
