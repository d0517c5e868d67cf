"""``evaluate`` and ``tune`` read playlists and tags from one database snapshot."""

from __future__ import annotations

from sqlalchemy import insert, select

from recsys import cli_train
from recsys.db.models import Playlist, PlaylistItem, Song, SongTag, Tag
from recsys.jobs import data


def test_tags_tagged_after_the_playlists_were_read_are_not_mixed_in(engine, monkeypatch):
    with engine.begin() as conn:
        conn.execute(insert(Song), [{"source": "s", "external_id": str(i), "title": "t",
                                     "artist": "a", "search_key": "t a"} for i in range(3)])
        conn.execute(insert(Tag), [{"name": "rock"}, {"name": "jazz"}])
        conn.execute(insert(Playlist), [{"source": "s", "external_id": "p"}])
        songs = conn.scalars(select(Song.id).order_by(Song.id)).all()
        tags = dict(conn.execute(select(Tag.name, Tag.id)).all())
        playlist = conn.scalar(select(Playlist.id))
        conn.execute(insert(PlaylistItem), [{"playlist_id": playlist, "position": k,
                                             "song_id": s} for k, s in enumerate(songs)])
        conn.execute(insert(SongTag), [{"song_id": songs[0], "tag_id": tags["rock"]}])
    read_playlists = data.load_playlists

    def then_an_import_commits(*args, **kwargs):
        playlists = read_playlists(*args, **kwargs)
        with engine.begin() as conn:  # another connection, between the two reads
            conn.execute(insert(SongTag), [{"song_id": songs[1], "tag_id": tags["jazz"]}])
        return playlists

    monkeypatch.setattr(data, "load_playlists", then_an_import_commits)
    playlists, got = cli_train._read(engine, None)
    assert playlists == [songs]
    assert got == {songs[0]: frozenset({tags["rock"]})}
    assert data.load_tags(engine)[songs[1]] == frozenset({tags["jazz"]})  # it did commit
