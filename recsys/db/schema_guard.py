"""A server whose database schema changed under it (``db downgrade``, or an upgrade by newer
code, while it runs): what it tells its clients instead of a 500 with a traceback per request.

Nothing is checked on the happy path. Only a database error about a missing column or table
(SQLite "no such column/table", PostgreSQL UndefinedColumn/UndefinedTable) makes
:class:`SchemaGuard` read the revision Alembic recorded (one small query) and compare it with
the code's; the verdict is kept a few seconds, so a flood of failing requests costs one query
per worker every few seconds. A server whose schema is back (``db upgrade`` again) answers
again without a restart: nothing is refused in advance, requests simply stop failing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, exc

log = logging.getLogger("recsys.db")

#: PostgreSQL SQLSTATEs of a statement naming what the schema lacks: undefined_column,
#: undefined_table.
MISSING_SQLSTATES = ("42703", "42P01")
#: SQLite's messages for the same (reads, and writes naming a dropped column).
MISSING_SQLITE = ("no such column", "no such table", "has no column named")


def is_schema_error(error: BaseException) -> bool:
    """Whether ``error`` is a database error about a missing column or table."""
    if not isinstance(error, exc.DBAPIError):
        return False
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate:
        return sqlstate in MISSING_SQLSTATES
    message = str(error.orig).lower()
    return any(m in message for m in MISSING_SQLITE)


@dataclass(frozen=True)
class SchemaMismatch:
    """The database's recorded revision (None: none) and the one this code expects."""

    found: str | None
    expected: str

    @property
    def message(self) -> str:
        """What clients and the log are told."""
        return (f"the database schema is not the one this server expects (database at "
                f"{self.found or 'no revision'}, code expects {self.expected}): restart the "
                "servers after db upgrade/downgrade")


class SchemaGuard:
    """The schema verdict of one engine in one process (a server worker).

    Args:
        engine: the server's engine (the check uses one of its pooled connections).
        expected: the revision this code expects (read once, on the first check).
        mismatch_ttl: seconds a mismatch is believed before it is checked again.
        ok_ttl: seconds a matching revision is believed (short: a downgrade in progress on
            SQLite drops columns before it records its revision).
    """

    def __init__(self, engine: Engine, expected: Callable[[], str] | None = None,
                 mismatch_ttl: float = 5.0, ok_ttl: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.mismatch_ttl, self.ok_ttl, self.clock = mismatch_ttl, ok_ttl, clock
        self._expected_source = expected
        self._expected: str | None = None
        self._lock = threading.Lock()
        self._verdict: SchemaMismatch | None = None
        self._checked_at: float | None = None

    def explain(self, error: BaseException) -> SchemaMismatch | None:
        """The mismatch behind ``error``, or None (not a schema error, or the schema is this
        code's: a real bug, reported as such by the caller)."""
        return self.check() if is_schema_error(error) else None

    def current(self) -> SchemaMismatch | None:
        """The known mismatch, checked again once stale; None without a query when none is
        known (readiness: a drained worker learns that the schema is back)."""
        if self._verdict is None:
            return None
        return self.check()

    def check(self) -> SchemaMismatch | None:
        """The verdict: the cached one while fresh, else read from the database now."""
        with self._lock:
            now = self.clock()
            ttl = self.ok_ttl if self._verdict is None else self.mismatch_ttl
            if self._checked_at is not None and now - self._checked_at < ttl:
                return self._verdict
            self._checked_at = now
            try:
                verdict = self._read()
            except Exception as error:  # database unavailable meanwhile: keep what is known
                log.warning("reading the database's schema revision failed: %s",
                            str(error).splitlines()[0][:300] if str(error) else repr(error))
                return self._verdict
            self._note(verdict)
            self._verdict = verdict
            return verdict

    def _read(self) -> SchemaMismatch | None:
        from recsys.db import migrate

        if self._expected is None:
            self._expected = (self._expected_source or migrate.head)()
        with self.engine.connect() as conn:
            found = migrate.revision_on(conn)
        return None if found == self._expected else SchemaMismatch(found, self._expected)

    def _note(self, verdict: SchemaMismatch | None) -> None:
        """One log line per change of state."""
        if verdict == self._verdict:
            return
        if verdict is not None:
            log.error("%s; requests that read the database get 503 until then", verdict.message)
        else:
            log.info("the database schema is at %s again, as this code expects: requests "
                     "that read the database work again", self._expected)
