"""Engine and session helpers (plain SQLAlchemy, usable from Flask, CLI and jobs)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for bare ``postgresql://`` URLs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - exercised via engine
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine; SQLite files get their directory, WAL and foreign keys."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    # bounded waits for an unreachable server: connecting, and noticing a dead peer
    kwargs["connect_args"] = {**PG_CONNECT_ARGS, **kwargs.get("connect_args", {})}
    return create_engine(url, **kwargs)


#: libpq settings of every PostgreSQL connection: give up connecting after 10 s; TCP
#: keepalives find a vanished server (network partition, host down) in about a minute while
#: idle, and ``tcp_user_timeout`` drops a connection whose sent data stays unacknowledged 60 s.
PG_CONNECT_ARGS = {"connect_timeout": 10, "keepalives": 1, "keepalives_idle": 30,
                   "keepalives_interval": 10, "keepalives_count": 3,
                   "tcp_user_timeout": 60_000}


def bound_statements(engine: Engine, timeout_ms: int, active: Callable[[], bool]) -> None:
    """On PostgreSQL, limit every statement of transactions begun while ``active()`` (e.g.
    during a web request) to ``timeout_ms``, lock waits included; jobs are not limited.

    A request that would wait for an import's locks or run away then fails fast (see
    :func:`is_unavailable`) instead of holding a server thread. The server enforces this; a
    server too frozen to do so is cut off by the client (:mod:`recsys.db.deadline`).
    """
    if engine.dialect.name != "postgresql" or timeout_ms <= 0:
        return

    def _begin(conn) -> None:
        if active():
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout_ms)}")

    event.listen(engine, "begin", _begin)


#: PostgreSQL error classes / codes worth a retry: connection problems (08), insufficient
#: resources (53), shutdown or start-up (57P01-57P03), statement timeout (57014),
#: serialization failure and deadlock (40001, 40P01), lock not available (55P03).
TRANSIENT_SQLSTATES = ("08", "53", "57P01", "57P02", "57P03", "57014", "40001", "40P01",
                       "55P03")
#: SQLite messages worth a retry (another connection holds the write lock).
TRANSIENT_SQLITE = ("database is locked", "database table is locked", "database is busy")


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the database is down, unreachable, busy or timed out (worth a
    retry), rather than a bug or a schema problem (those stay 500s with a traceback)."""
    if isinstance(error, exc.TimeoutError):  # no pooled connection became free
        return True
    if not isinstance(error, exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    orig = error.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate:
        return sqlstate.startswith(TRANSIENT_SQLSTATES)
    if type(orig).__module__.startswith("psycopg"):
        # client-side, without a server error code: connecting failed or the link broke
        return isinstance(error, exc.OperationalError)
    return isinstance(error, exc.OperationalError) and any(
        m in str(orig).lower() for m in TRANSIENT_SQLITE)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Session factory bound to ``engine``."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    session = make_session_factory(engine)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def read_snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection whose reads all see one committed state of the database, rolled back on exit.

    PostgreSQL: a ``REPEATABLE READ, READ ONLY`` transaction. SQLite: an explicit deferred
    ``BEGIN`` (the driver opens none before a read, so every statement was its own snapshot);
    in WAL mode writers still commit meanwhile, unseen. The snapshot is taken on entry. Keep the
    block short: an open snapshot holds back PostgreSQL's vacuum and SQLite's WAL checkpoints.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            conn.exec_driver_sql("SELECT 1")  # the first statement takes the snapshot
        else:
            conn.exec_driver_sql("BEGIN")
            conn.exec_driver_sql("SELECT count(*) FROM sqlite_master")  # the first read does
        try:
            yield conn
        finally:
            conn.rollback()
