"""Deleting a source's playlists (library on SQLite and PostgreSQL, then the
``playlists delete`` command): one transaction after the importers' lock, recorded as an
import run, songs and other sources untouched, unknown sources and playlists refused."""

from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import insert, text

from recsys.db.models import Playlist
from recsys.ingest import IngestError, delete_playlists_of, import_csv
from recsys.ingest.writer import IMPORT_LOCK_KEY
from recsys.jobs.data import load_playlists
from tests.ingest.conftest import write_csv

RADIO = {f"p{i}": [f"s{i}", f"s{i + 1}", f"s{i + 2}"] for i in range(10)}
OTHER = {"o1": ["s1", "s2"], "p1": ["s3", "s4"]}




def _playlists(engine, source: str) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT external_id FROM playlists WHERE source = :s ORDER BY external_id"),
            {"s": source}).scalars())


def _scalar(engine, sql: str):
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


def _runs(engine) -> list[tuple[str, str, dict]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT kind, source, changes FROM import_runs ORDER BY id"))
        return [(k, s, c if isinstance(c, dict) else json.loads(c)) for k, s, c in rows]


def _everything(engine) -> tuple:
    with engine.connect() as conn:
        return tuple(conn.execute(text(f"SELECT * FROM {table} ORDER BY 1")).all()
                     for table in ("songs", "tags", "song_tags", "playlists",
                                   "playlist_items", "import_runs"))


@pytest.fixture
def stored(engine, tmp_path):
    """Source 'radio' (10 playlists, 30 items, 12 songs) beside source 'other'."""
    import_csv(engine, write_csv(tmp_path, "radio.csv", RADIO), "radio", progress=False)
    import_csv(engine, write_csv(tmp_path, "other.csv", OTHER), "other", progress=False)
    return engine


def test_deletes_every_playlist_of_the_source_and_records_a_run(stored):
    removal = delete_playlists_of(stored, "radio")
    assert (removal.playlists_deleted, removal.items_deleted) == (10, 30)
    assert removal.deleted == sorted(RADIO) and removal.run_id is not None
    assert (removal.songs, removal.songs_without_playlists) == (12, 12)
    assert removal.summary().startswith(
        "deleted all 10 playlists of source 'radio' ('p0', 'p1', 'p2', ...) and their 30 items")
    assert "12 of the source's 12 songs are now in no playlist" in removal.summary()
    assert _playlists(stored, "radio") == []
    assert _playlists(stored, "other") == ["o1", "p1"]  # same external id 'p1', other source
    assert _scalar(stored, "SELECT COUNT(*) FROM songs WHERE source = 'radio'") == 12
    assert _scalar(stored, "SELECT COUNT(*) FROM playlist_items") == 4  # other's only
    assert _runs(stored)[-1] == ("delete", "radio",
                                 {"playlists_deleted": 10, "items_deleted": 30})
    with stored.connect() as conn:
        run = conn.execute(text("SELECT id, path, finished_at, playlists_added FROM import_runs "
                                "ORDER BY id DESC")).first()
    assert run.id == removal.run_id and run.path is None and run.finished_at is not None
    assert run.playlists_added == 0
    assert len(load_playlists(stored)) == len(OTHER)  # training reads what is left


def test_again_deletes_nothing_and_records_nothing(stored):
    delete_playlists_of(stored, "radio")
    before = _everything(stored)
    again = delete_playlists_of(stored, "radio")  # the source still has its songs: known
    assert (again.playlists_deleted, again.run_id) == (0, None)
    assert again.summary() == "source 'radio' has no playlists: nothing deleted (its 12 songs stay)"
    assert _everything(stored) == before


def test_named_playlists_only(stored):
    removal = delete_playlists_of(stored, " radio ", [" p3", "p7", "p3"])
    assert (removal.source, removal.deleted, removal.items_deleted) == ("radio", ["p3", "p7"], 6)
    assert removal.summary().startswith("deleted 2 playlists of source 'radio' ('p3', 'p7')")
    # s3..s9 are still in other playlists: every song of the source keeps one
    assert removal.songs_without_playlists == 0
    assert _playlists(stored, "radio") == sorted(set(RADIO) - {"p3", "p7"})
    assert _playlists(stored, "other") == ["o1", "p1"]


def test_an_unknown_playlist_is_refused_whole(stored):
    before = _everything(stored)
    with pytest.raises(IngestError, match=r"^--playlist: source 'radio' has no playlist 'o1' "
                                          r"\(1 of the 2 named\); nothing deleted$"):
        delete_playlists_of(stored, "radio", ["p3", "o1"])
    with pytest.raises(IngestError, match="must not be empty"):
        delete_playlists_of(stored, "radio", ["p3", "  "])
    assert _everything(stored) == before


def test_an_unknown_source_is_refused_listing_the_known_ones(stored):
    before = _everything(stored)
    with pytest.raises(IngestError) as err:
        delete_playlists_of(stored, "custom")
    assert str(err.value) == ("--source: unknown source 'custom'; known sources: 'other' "
                              "(2 playlists), 'radio' (10 playlists); nothing deleted")
    with pytest.raises(IngestError, match=r"did you mean 'radio'\?"):
        delete_playlists_of(stored, "Radio")
    with pytest.raises(IngestError, match="source must be 1..64 characters"):
        delete_playlists_of(stored, " ")
    assert _everything(stored) == before


def test_an_empty_database_has_no_sources(engine):
    with pytest.raises(IngestError, match=r"known sources: none \(empty database\)"):
        delete_playlists_of(engine, "custom")


def test_a_dry_run_counts_everything_and_writes_nothing(stored):
    before = _everything(stored)
    preview = delete_playlists_of(stored, "radio", dry_run=True)
    assert (preview.playlists_deleted, preview.items_deleted, preview.run_id) == (10, 30, None)
    assert preview.summary().startswith("DRY RUN, rolled back, nothing written: would delete "
                                        "all 10 playlists of source 'radio'")
    assert "songs would be in no playlist" in preview.summary()
    assert _everything(stored) == before


def test_a_failure_rolls_everything_back(stored, monkeypatch):
    from recsys.ingest import remove

    real = remove.delete_playlists

    def delete_then_fail(conn, plan):
        real(conn, plan)
        raise RuntimeError("disk full")

    monkeypatch.setattr(remove, "delete_playlists", delete_then_fail)
    before = _everything(stored)
    with pytest.raises(RuntimeError, match="disk full"):
        delete_playlists_of(stored, "radio")
    assert _everything(stored) == before


def test_many_playlists_cross_the_chunk_size(engine, tmp_path, monkeypatch):
    from recsys.ingest import updates

    monkeypatch.setattr(updates, "SQLITE_CHUNK", 7)
    monkeypatch.setattr(updates, "PG_CHUNK", 7)
    many = {f"m{i:02d}": [f"s{i % 13}", f"s{(i + 1) % 13}"] for i in range(40)}
    import_csv(engine, write_csv(tmp_path, "many.csv", many), "bulk", progress=False)
    removal = delete_playlists_of(engine, "bulk")
    assert (removal.playlists_deleted, removal.items_deleted) == (40, 80)
    assert _scalar(engine, "SELECT COUNT(*) FROM playlist_items") == 0


def test_it_waits_for_a_running_import_and_sees_what_it_committed(stored):
    """An import holding the lock (PostgreSQL: the imports' advisory lock; SQLite: the write
    lock) adds a playlist; the deletion waits for its commit, then deletes that one too."""
    holder = stored.connect()
    if stored.dialect.name == "postgresql":
        holder.exec_driver_sql("SELECT pg_advisory_xact_lock(%(k)s)", {"k": IMPORT_LOCK_KEY})
    else:
        holder.exec_driver_sql("BEGIN IMMEDIATE")
    holder.execute(insert(Playlist.__table__).values(source="radio", external_id="late"))
    done: list = []
    worker = threading.Thread(target=lambda: done.append(delete_playlists_of(stored, "radio")))
    worker.start()
    try:
        time.sleep(1.0)
        assert worker.is_alive() and not done, "the deletion did not wait for the import"
    finally:
        holder.commit()
        holder.close()
    worker.join(30)
    assert done and done[0].playlists_deleted == 11 and "late" in done[0].deleted
    assert _playlists(stored, "radio") == []


# --- the command (the app fixture's SQLite database) ----------------------------------------


@pytest.fixture
def cli_db(runner, app_engine, fixtures):
    """The fixture's 3 playlists (7 items) imported without --source: source 'custom'."""
    result = runner.invoke(args=["import", "csv", str(fixtures / "playlists.csv")])
    assert result.exit_code == 0, result.output
    return app_engine


def test_cli_refuses_without_yes_when_stdin_is_no_terminal(runner, cli_db):
    result = runner.invoke(args=["playlists", "delete", "--source", "custom"])
    assert result.exit_code == 1
    assert result.output == ("Error: refusing to delete playlists of source 'custom' without "
                             "confirmation: stdin is not a terminal; pass --yes (or preview "
                             "with --dry-run)\n")
    assert len(_playlists(cli_db, "custom")) == 3


def test_cli_dry_run_needs_no_confirmation(runner, cli_db):
    before = _everything(cli_db)
    result = runner.invoke(args=["playlists", "delete", "--source", "custom", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("DRY RUN, rolled back, nothing written: would delete all 3 "
                                    "playlists of source 'custom'")
    assert _everything(cli_db) == before


def test_cli_asks_on_a_terminal(runner, cli_db, monkeypatch):
    from recsys import cli_playlists

    monkeypatch.setattr(cli_playlists, "_interactive", lambda: True)
    args = ["playlists", "delete", "--source", "custom", "--playlist", "road-trip"]
    refused = runner.invoke(args=args, input="n\n")
    assert refused.exit_code == 1
    assert "Delete 1 playlists (3 items) of source 'custom'? Songs are kept [y/N]: n" \
        in refused.output
    assert refused.output.endswith("Error: not confirmed: nothing deleted\n")
    assert len(_playlists(cli_db, "custom")) == 3
    accepted = runner.invoke(args=args, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "deleted 1 playlists of source 'custom' ('road-trip') and their 3 items" \
        in accepted.output
    assert _playlists(cli_db, "custom") == ["just-one", "lazy-sunday"]


def test_cli_deletes_nothing_when_an_import_changed_the_source_after_the_preview(
        runner, cli_db, monkeypatch, tmp_path):
    """What was confirmed is what gets deleted: a playlist imported into the source while the
    prompt waited stops the deletion instead of going unseen."""
    from recsys import cli_playlists

    monkeypatch.setattr(cli_playlists, "_interactive", lambda: True)
    late = tmp_path / "late.csv"
    late.write_text("playlist_id,position,song_id,title,artist\nlate-night,0,s1,S,A\n")

    def confirm_while_an_import_runs(*args, **kwargs):
        assert runner.invoke(args=["import", "csv", str(late)]).exit_code == 0
        return True

    monkeypatch.setattr(cli_playlists.click, "confirm", confirm_while_an_import_runs)
    result = runner.invoke(args=["playlists", "delete", "--source", "custom"])
    assert result.exit_code == 1
    assert ("the playlists of source 'custom' are not the previewed ones any more (new "
            "'late-night': another import or deletion ran meanwhile); nothing deleted"
            ) in result.output
    assert len(_playlists(cli_db, "custom")) == 4


def test_cli_moves_a_wrongly_sourced_import(runner, cli_db, fixtures):
    """The operator's case: delete source 'custom' and import the file as 'radio'; the
    dashboard's imports table shows the deletion."""
    result = runner.invoke(args=["playlists", "delete", "--source", "custom", "--yes"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("deleted all 3 playlists of source 'custom' ('just-one', "
                                    "'lazy-sunday', 'road-trip') and their 7 items in ")
    assert "songs are kept: 6 of the source's 6 songs are now in no playlist" in result.output
    again = runner.invoke(args=["import", "csv", str(fixtures / "playlists.csv"),
                                "--source", "radio"])
    assert again.exit_code == 0, again.output
    assert _playlists(cli_db, "custom") == [] and len(_playlists(cli_db, "radio")) == 3
    assert [run[:2] for run in _runs(cli_db)] == [("csv", "custom"), ("delete", "custom"),
                                                  ("csv", "radio")]
    from tests.admin.conftest import login

    dashboard = runner.app.test_client()
    runner.app.config.update(ADMIN_PASSWORD="correct horse battery staple",
                             ADMIN_LOGIN_DELAY=0)
    assert login(dashboard).status_code == 302
    html = dashboard.get("/admin/").get_data(as_text=True)
    assert '<td data-label="kind">delete</td><td data-label="source">custom</td>' in html
    assert "3 playlists deleted, 7 items deleted" in html


@pytest.mark.parametrize("args, message", [
    (["--source", "nope", "--yes"], "Error: --source: unknown source 'nope'; known sources: "
                                    "'custom' (3 playlists); nothing deleted\n"),
    (["--source", "custom", "--playlist", "x", "--yes"],
     "Error: --playlist: source 'custom' has no playlist 'x' (1 of the 1 named); "
     "nothing deleted\n"),
    (["--source", "", "--yes"], "Error: --source: source must be 1..64 characters\n"),
])
def test_cli_bad_input_is_one_line(runner, cli_db, args, message):
    result = runner.invoke(args=["playlists", "delete", *args])
    assert (result.exit_code, result.output) == (1, message)
    assert len(_playlists(cli_db, "custom")) == 3


def test_cli_source_is_required(runner, cli_db):
    result = runner.invoke(args=["playlists", "delete", "--yes"])
    assert result.exit_code == 2 and "Missing option '--source'" in result.output
