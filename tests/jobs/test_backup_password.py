"""``backup`` of a PostgreSQL database whose role logs in with a password (README "Backups and
restore": the password in ``DATABASE_URL`` goes to ``pg_dump`` through ``PGPASSWORD``)."""

from __future__ import annotations

import subprocess
import uuid
from urllib.parse import quote

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from recsys.db.session import make_engine
from recsys.jobs.backup import backup
from tests.pgserver import find_pg_bin


@pytest.fixture
def password_db(pg_server, pg_template):
    """A migrated database of a role that must log in with its password (scram): its URL."""
    role = f"pw_{uuid.uuid4().hex[:10]}"
    admin = make_engine(pg_server.url(), isolation_level="AUTOCOMMIT")
    hba = pg_server.data / "pg_hba.conf"
    original = hba.read_text()
    # the session's server trusts everyone: this role alone must give its password
    hba.write_text(f"host all {role} 127.0.0.1/32 scram-sha-256\n" + original)
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE {role} SUPERUSER LOGIN PASSWORD 's3cret:p@ss/w0rd'"))
        conn.execute(text(f"CREATE DATABASE {role} TEMPLATE {pg_template}"))
        conn.execute(text("SELECT pg_reload_conf()"))
    try:
        yield (f"postgresql+psycopg://{role}:{quote('s3cret:p@ss/w0rd', safe='')}"
               f"@127.0.0.1:{pg_server.port}/{role}")
    finally:
        hba.write_text(original)
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_reload_conf()"))
            conn.execute(text(f"DROP DATABASE IF EXISTS {role} WITH (FORCE)"))
            conn.execute(text(f"DROP ROLE IF EXISTS {role}"))
        admin.dispose()


@pytest.mark.postgres
def test_backup_of_a_database_whose_url_holds_a_password(password_db, store, tmp_path,
                                                         monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    wrong = make_engine(password_db.replace("s3cret", "wrong"))
    with pytest.raises(OperationalError, match="password authentication failed"):
        wrong.connect().close()  # the server does check this role's password
    wrong.dispose()
    store.root.mkdir(parents=True)
    engine = make_engine(password_db)
    try:
        report = backup(engine, store, tmp_path / "backup")
    finally:
        engine.dispose()
    dump = tmp_path / "backup" / "recsys.dump"
    assert report.database == "postgresql" and dump.stat().st_size > 0
    listing = subprocess.run([find_pg_bin("pg_restore"), "--list", str(dump)], check=True,
                             capture_output=True, text=True).stdout
    assert "TABLE public songs" in listing and "TABLE DATA public playlist_items" in listing
