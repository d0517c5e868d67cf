"""Fresh, migrated databases for the import benchmarks: SQLite files in a scratch directory,
PostgreSQL databases copied from a migrated template on a throw-away server."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from recsys.db import migrate
from recsys.db.session import make_engine


@contextmanager
def fresh_databases(tmp: Path, postgres: bool) -> Iterator[dict[str, Callable[[], str]]]:
    """Backend name -> a function returning the URL of a new empty, migrated database;
    ``postgresql`` only with ``postgres`` (its server stops on exit)."""

    def sqlite() -> str:
        url = f"sqlite:///{tmp}/{uuid.uuid4().hex[:8]}.db"
        migrate.upgrade(url)
        return url

    if not postgres:
        yield {"sqlite": sqlite}
        return
    from tests.pgserver import PostgresServer

    server = PostgresServer().start()
    admin = make_engine(server.url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE bench_template"))
        migrate.upgrade(server.url("bench_template"))

        def postgresql() -> str:
            name = f"b_{uuid.uuid4().hex[:8]}"
            with admin.connect() as conn:
                conn.execute(text(f"CREATE DATABASE {name} TEMPLATE bench_template"))
            return server.url(name)

        yield {"sqlite": sqlite, "postgresql": postgresql}
    finally:
        admin.dispose()
        server.stop()
