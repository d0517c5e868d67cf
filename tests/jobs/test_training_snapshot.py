"""A training run reads the database in one snapshot, and holds none while gensim trains.

A concurrent import, ``--update`` import and playlist deletion are committed from other
connections *between* two of the run's reads (injected by wrapping a reader of
:mod:`recsys.jobs.data`); the run must still train on, count, score and record exactly the
data of the moment it started reading.
"""

from __future__ import annotations

import sqlite3
from collections import Counter

import pytest
from sqlalchemy import select, text

from recsys.db.models import TrainingRun
from recsys.db.session import make_engine, read_snapshot, session_scope
from recsys.ingest.importers import import_csv
from recsys.ingest.remove import delete_playlists_of
from recsys.jobs import data, training
from recsys.jobs.training import train_and_bundle

HOLDOUT = 0.2
HEADER = "playlist_id,position,song_id,title,artist\n"


def _sample_picks(engine) -> dict[str, str]:
    """Two train and two held-out sample playlists, and a song of the first train one."""
    with engine.connect() as conn:
        ids = conn.execute(text("SELECT external_id FROM playlists WHERE source = 'sample' "
                                "ORDER BY id")).scalars().all()
        train = [x for x in ids if not data.is_holdout("sample", x, HOLDOUT)]
        held = [x for x in ids if data.is_holdout("sample", x, HOLDOUT)]
        song_id, song_ext, title = conn.execute(text(
            "SELECT s.id, s.external_id, s.title FROM playlist_items i "
            "JOIN playlists p ON p.id = i.playlist_id JOIN songs s ON s.id = i.song_id "
            "WHERE p.source = 'sample' AND p.external_id = :p ORDER BY i.position LIMIT 1"),
            {"p": train[0]}).one()
    return {"train": train[0], "train2": train[1], "held": held[0], "held2": held[1],
            "song_id": song_id, "song": song_ext, "title": title}


def _concurrent_changes(url: str, tmp_path, picks: dict) -> None:
    """What other processes commit meanwhile: an import of new playlists (some held out), an
    ``--update`` import re-titling a song and rewriting a train and a held-out playlist, and
    the deletion of another train and held-out playlist. Each its own transaction."""
    other = make_engine(url)
    try:
        late = tmp_path / "late.csv"
        late.write_text(HEADER + "".join(
            f"late-{p},{i},l{(p + i) % 7},Late {(p + i) % 7},Latecomers\n"
            for p in range(30) for i in range(4)))
        import_csv(other, late, source="late", progress=False)
        fix = tmp_path / "fix.csv"
        fix.write_text(HEADER + f"{picks['train']},0,{picks['song']},Retitled,Someone\n"
                       f"{picks['train']},1,l1,,\n"
                       f"{picks['held']},0,l2,,\n{picks['held']},1,{picks['song']},,\n")
        import_csv(other, fix, source="sample", update=True, progress=False)
        delete_playlists_of(other, "sample", [picks["train2"], picks["held2"]])
    finally:
        other.dispose()


def _inject(monkeypatch, where: str, change) -> list[bool]:
    """Run ``change`` once at ``where`` in the run's reading; returns the 'it ran' flag."""
    fired: list[bool] = []

    def fire() -> None:
        if not fired:
            fired.append(True)
            change()

    if where == "after_counts":
        real_snapshot = data.snapshot

        def snapshot(bind):
            result = real_snapshot(bind)
            fire()
            return result

        monkeypatch.setattr(data, "snapshot", snapshot)
    elif where == "mid_corpus":
        real_batches = data.iter_batches

        def iter_batches(bind, **kwargs):
            for batch in real_batches(bind, **{**kwargs, "batch_size": 100}):
                yield batch
                fire()  # between two batches of the corpus

        monkeypatch.setattr(data, "iter_batches", iter_batches)
    else:
        real_holdout = data.load_holdout

        def load_holdout(bind, **kwargs):
            fire()
            return real_holdout(bind, **kwargs)

        monkeypatch.setattr(data, "load_holdout", load_holdout)
    return fired


def _capture(monkeypatch) -> dict:
    """What the run passes to the bundle builder and to the holdout scoring."""
    seen: dict = {}
    real_build, real_metrics = training.build_bundle, training.recommender_metrics

    def build_bundle(store, model, playlists, songs, **kwargs):
        seen.update(model=model, playlists=[list(p) for p in playlists], songs=songs,
                    manifest_snapshot=kwargs["data_snapshot"])
        return real_build(store, model, playlists, songs, **kwargs)

    def recommender_metrics(similar, nxt, holdout, tags, **kwargs):
        seen.update(holdout=[list(p) for p in holdout])
        return real_metrics(similar, nxt, holdout, tags, **kwargs)

    monkeypatch.setattr(training, "build_bundle", build_bundle)
    monkeypatch.setattr(training, "recommender_metrics", recommender_metrics)
    return seen


@pytest.mark.parametrize("where,corpus_file", [
    ("after_counts", True), ("mid_corpus", True), ("mid_corpus", False),
    ("before_holdout", True)])
def test_changes_committed_during_the_reads_are_not_in_the_run(
        sample_engine, store, quick_settings, db_url, tmp_path, monkeypatch, where,
        corpus_file):
    engine = sample_engine
    picks = _sample_picks(engine)
    counts = data.snapshot(engine).as_dict()
    train = data.load_playlists(engine, part="train", holdout_frac=HOLDOUT)
    holdout, _ = data.load_holdout(engine, holdout_frac=HOLDOUT)
    fired = _inject(monkeypatch, where, lambda: _concurrent_changes(db_url, tmp_path, picks))
    seen = _capture(monkeypatch)

    settings = quick_settings.replace(use_corpus_file=corpus_file)
    outcome = train_and_bundle(engine, store, settings, holdout_frac=HOLDOUT,
                               backend="exact")

    monkeypatch.undo()
    assert fired and data.load_playlists(engine, part="train", holdout_frac=HOLDOUT) != train
    # the corpus the vectors were trained on
    model = seen["model"]
    words = Counter(s for p in train if len(p) >= 2 for s in p)
    assert dict(zip(model.song_ids.tolist(), model.counts.tolist(), strict=True)) == words
    # the count tables' playlists, the scored holdout, the bundle's titles
    assert seen["playlists"] == train
    assert seen["holdout"] == holdout
    assert seen["songs"][picks["song_id"]]["title"] == picks["title"]
    # the recorded counts: of that same moment, in the run and in the bundle
    with session_scope(engine) as session:
        run = session.scalars(select(TrainingRun)).one()
        assert run.status == "succeeded" and run.model_version == outcome.version
        recorded = run.data_snapshot
    assert recorded == seen["manifest_snapshot"]
    assert recorded == {**counts, "train_playlists": len(train), "holdout_frac": HOLDOUT,
                        "source": None}


def _open_transactions(url: str) -> list:
    """Transactions or snapshots held by other sessions of the database (PostgreSQL), or
    whether a reader keeps SQLite's WAL from being checkpointed after a new commit."""
    if url.startswith("sqlite"):
        con = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30)
        try:
            con.execute("CREATE TABLE IF NOT EXISTS probe (x INTEGER)")
            con.execute("INSERT INTO probe VALUES (1)")
            con.commit()
            _busy, log, done = con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            con.close()
        assert log > 0  # the commit went to the WAL: the probe can see a reader
        return [] if done == log else [f"WAL checkpointed {done} of {log} frames"]
    probe = make_engine(url)
    try:
        with probe.connect() as conn:
            return conn.execute(text(
                "SELECT pid, state, xact_start, backend_xmin FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend' "
                "AND (xact_start IS NOT NULL OR backend_xmin IS NOT NULL)")).all()
    finally:
        probe.dispose()


def test_no_snapshot_is_held_while_gensim_trains(sample_engine, store, quick_settings,
                                                 db_url):
    found: list = []

    def progress(epoch: int, _epochs: int, _elapsed: float) -> None:
        if epoch == 1:  # inside gensim's training
            found.append(_open_transactions(db_url))

    train_and_bundle(sample_engine, store, quick_settings, holdout_frac=HOLDOUT,
                     backend="exact", progress=progress)
    assert found == [[]]


def test_readers_on_a_snapshot_connection_do_not_see_later_commits(sample_engine, db_url):
    other = make_engine(db_url)
    try:
        with read_snapshot(sample_engine) as conn:
            before = data.snapshot(conn)
            playlists = data.load_playlists(conn, part="all")
            delete_playlists_of(other, "sample")  # committed by another connection
            assert data.snapshot(conn) == before
            assert data.load_playlists(conn, part="all") == playlists
        assert data.snapshot(sample_engine).playlists == 0
    finally:
        other.dispose()
