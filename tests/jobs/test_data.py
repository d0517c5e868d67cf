"""Reading playlists out of the database; the stable holdout."""

from __future__ import annotations

from recsys.jobs import data


def test_holdout_is_stable_and_sized():
    ids = [str(i) for i in range(20_000)]
    chosen = [i for i in ids if data.is_holdout("src", i, 0.1)]
    assert 0.09 < len(chosen) / len(ids) < 0.11
    assert chosen == [i for i in ids if data.is_holdout("src", i, 0.1)]
    assert not any(data.is_holdout("src", i, 0.0) for i in ids[:100])
    # it depends on the source too
    assert chosen != [i for i in ids if data.is_holdout("other", i, 0.1)]


def test_batches_cover_every_playlist_in_order(sample_engine):
    everything = data.load_playlists(sample_engine, part="all")
    assert len(everything) == 800
    batches = list(data.iter_batches(sample_engine, batch_size=64, part="all"))
    assert max(len(b) for b in batches) <= 64
    assert [p for b in batches for p in b] == everything


def test_train_and_holdout_partition_the_playlists(sample_engine):
    train = data.load_playlists(sample_engine, part="train", holdout_frac=0.2)
    holdout = data.load_playlists(sample_engine, part="holdout", holdout_frac=0.2)
    assert len(train) + len(holdout) == 800
    assert 100 < len(holdout) < 220


def test_metadata_tags_and_snapshot(sample_engine):
    snap = data.snapshot(sample_engine)
    assert snap.playlists == 800 and snap.songs > 0 and snap.items >= 800
    first = data.load_playlists(sample_engine, part="all")[0]
    meta = data.song_metadata(sample_engine, first)
    assert set(meta) == set(first)
    assert {"source", "external_id", "title", "artist", "available"} == set(
        next(iter(meta.values())))
    assert all(m["available"] is True for m in meta.values())
    tags = data.load_tags(sample_engine)
    assert tags and all(isinstance(v, frozenset) and v for v in tags.values())
