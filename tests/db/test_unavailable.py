"""Which database errors are transient (a retryable 503) and which are bugs (a 500)."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import create_engine, exc, text

from recsys.db.session import is_unavailable


class PgError(Exception):
    """Stands in for a psycopg server error (they carry ``sqlstate``)."""

    __module__ = "psycopg.errors"

    def __init__(self, sqlstate: str | None) -> None:
        super().__init__(f"server said {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize("sql", ["SELEC 1", "SELECT nosuchfn(1)", "SELECT * FROM nope"])
def test_sqlite_bugs_and_schema_problems_are_not_transient(sql):
    with pytest.raises(exc.DBAPIError) as info, create_engine("sqlite://").connect() as conn:
        conn.execute(text(sql))
    assert not is_unavailable(info.value)


def test_sqlite_lock_is_transient():
    assert is_unavailable(exc.OperationalError("x", {}, sqlite3.OperationalError(
        "database is locked")))


@pytest.mark.parametrize(("sqlstate", "transient"), [
    ("08006", True), ("57014", True), ("40P01", True), ("55P03", True), ("53300", True),
    ("57P01", True), ("42P01", False), ("42703", False), ("23505", False), ("22P02", False),
    (None, True),  # client-side: connecting failed, the connection broke
])
def test_postgresql_by_error_code(sqlstate, transient):
    cls = exc.ProgrammingError if sqlstate and sqlstate.startswith("42") else exc.OperationalError
    assert is_unavailable(cls("x", {}, PgError(sqlstate))) is transient


def test_pool_timeout_and_invalidated_connections_are_transient():
    assert is_unavailable(exc.TimeoutError("QueuePool limit reached"))
    assert is_unavailable(exc.DBAPIError("x", {}, PgError("XX000"),
                                         connection_invalidated=True))
    assert not is_unavailable(ValueError("not a database error"))


def test_postgresql_connections_have_bounded_waits(monkeypatch):
    import psycopg

    from recsys.db.session import make_engine

    seen = {}

    def fake_connect(*args, **kwargs):
        seen.update(kwargs)
        raise psycopg.OperationalError("no server here")

    monkeypatch.setattr(psycopg, "connect", fake_connect)
    engine = make_engine("postgresql://u@127.0.0.1:9/db")
    with pytest.raises(exc.OperationalError) as info:
        engine.connect()
    assert is_unavailable(info.value)
    assert seen["connect_timeout"] == 10 and seen["keepalives"] == 1
    assert seen["tcp_user_timeout"] == 60_000
