"""Edge cases of the bounded holdout cut (:func:`recsys.jobs.data.load_holdout`): the part
scored always holds transitions, and a holdout that cannot be cut keeps its own fraction."""

from __future__ import annotations

from sqlalchemy import delete, select

from recsys.db.models import Playlist, PlaylistItem
from recsys.jobs import data


def _transitions(playlists):
    return sum(max(len(p) - 1, 0) for p in playlists)


def _single_song_playlist(engine) -> str:
    """Cut the first playlist down to its first song; returns its external id."""
    with engine.begin() as conn:
        pid, ext = conn.execute(select(Playlist.id, Playlist.external_id)
                                .order_by(Playlist.id).limit(1)).one()
        first = conn.scalar(select(PlaylistItem.position).where(
            PlaylistItem.playlist_id == pid).order_by(PlaylistItem.position).limit(1))
        conn.execute(delete(PlaylistItem).where(PlaylistItem.playlist_id == pid,
                                                PlaylistItem.position != first))
    return ext


def test_a_lowest_bucket_without_transitions_is_not_all_that_is_scored(sample_engine,
                                                                       monkeypatch):
    single = _single_song_playlist(sample_engine)
    # the one-song playlist alone in the lowest bucket, every other one in the next
    monkeypatch.setattr(data, "_bucket", lambda src, ext: 0 if ext == single else 1)
    whole = data.load_playlists(sample_engine, part="holdout", holdout_frac=0.3)
    assert _transitions(whole) > 10
    scored, frac = data.load_holdout(sample_engine, holdout_frac=0.3, max_transitions=10)
    assert _transitions(scored) > 0  # was the lone one-song playlist: nothing to score
    assert frac > 0 and scored == data.load_playlists(sample_engine, part="holdout",
                                                      holdout_frac=frac)


def test_a_holdout_in_one_bucket_keeps_its_fraction(sample_engine, monkeypatch):
    monkeypatch.setattr(data, "_bucket", lambda src, ext: 7)
    whole = data.load_playlists(sample_engine, part="holdout", holdout_frac=0.3)
    assert _transitions(whole) > 10
    scored, frac = data.load_holdout(sample_engine, holdout_frac=0.3, max_transitions=10)
    assert scored == whole
    assert frac == 0.3  # was 1.0: more than the holdout the playlists were kept from
