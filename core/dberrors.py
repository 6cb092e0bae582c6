"""Which database errors are worth another try, and how to go on after one.

A transient error says nothing about the work itself: SQLite was busy (another writer held the
lock past the busy timeout), the PostgreSQL connection dropped or was refused, or PostgreSQL
rolled the transaction back to resolve a serialization failure or a deadlock. Background work
meets them under load and must retry, never fail, on them. Anything else (a missing table, a
constraint, bad SQL) is a bug or a broken deployment that retrying cannot fix.
"""

from __future__ import annotations

from django.db import InterfaceError, OperationalError, connection

# SQLSTATE classes: 08 connection exception, 40 transaction rollback (40001 serialization failure,
# 40P01 deadlock detected). Codes: lock not available (lock_timeout), administrator/crash shutdown,
# cannot connect now (starting up), too many connections.
TRANSIENT_SQLSTATE_CLASSES = ("08", "40")
TRANSIENT_SQLSTATES = frozenset({"55P03", "57P01", "57P02", "57P03", "53300"})
SQLITE_TRANSIENT = ("database is locked", "database table is locked", "database schema is locked")


def is_transient(exc: BaseException) -> bool:
    """True for a database error another try may not meet (busy, locked, connection lost, serialization
    failure, deadlock); False for every other exception."""
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return False
    cause = exc.__cause__ or exc
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate:
        return sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES or sqlstate in TRANSIENT_SQLSTATES
    if type(cause).__module__.startswith("sqlite3"):
        # SQLite reports bad SQL and missing tables as OperationalError too; only "busy" is transient.
        return any(text in str(cause).lower() for text in SQLITE_TRANSIENT)
    # psycopg has no SQLSTATE when the connection itself failed or was lost; Django's own
    # InterfaceError means "connection already closed".
    return True


def describe(exc: BaseException) -> str:
    """A short, one-line account of a database error for a step's record (no SQL, no parameters)."""
    cause = exc.__cause__ or exc
    first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    return f"{type(exc).__name__}: {first[:160]}"


def recover_connection() -> None:
    """After a transient error outside a transaction: close this thread's connection if it is broken, so
    the next query opens a new one. Inside `atomic` the block's owner decides (closing would end it)."""
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()
