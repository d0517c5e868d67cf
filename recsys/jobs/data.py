"""Reading training data out of the database: playlists in batches, tags, metadata, holdout.

The holdout is a *stable* split: a playlist is held out when the CRC32 of
``"source:external_id"`` falls below ``frac``. It does not depend on database ids or import
order, so every nightly run, and every model trained by the pipeline, leaves the same
playlists out; production and candidate models are compared on playlists neither has seen.

Every reader takes an engine (a connection per query batch) or a connection: the training
job passes one of :func:`recsys.db.session.read_snapshot`, so that all it reads (counts,
corpus, holdout, tags, metadata) is one committed state of the database.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from recsys.db.models import Playlist, PlaylistItem, Song, SongTag
from recsys.ml.evaluate import stable_sample

HOLDOUT_BUCKETS = 10_000
#: The most held-out transitions the training job and the gate score (every distinct seed is
#: scored against every song, several times over: unbounded, a 250,000-song catalog's
#: evaluation took hours). yes_big's 10% holdout has ≈14,000.
EVAL_MAX_TRANSITIONS = 20_000
#: The most songs whose ``similar`` tag coherence they score (yes_big has ≈7,300 tagged).
EVAL_MAX_TAG_SEEDS = 10_000

#: What the readers read from: an engine (a connection per query batch) or a connection.
Bind = Engine | Connection


def _connect(bind: Bind) -> Any:
    """A context giving a connection: ``bind`` itself, or a new one of the engine."""
    return nullcontext(bind) if isinstance(bind, Connection) else bind.connect()


def _bucket(source: str, external_id: str) -> int:
    return zlib.crc32(f"{source}:{external_id}".encode()) % HOLDOUT_BUCKETS


def _held_out(bucket: int, frac: float) -> bool:
    return frac > 0 and bucket < frac * HOLDOUT_BUCKETS


def is_holdout(source: str, external_id: str, frac: float) -> bool:
    """Whether a playlist belongs to the stable holdout of size ``frac``."""
    return _held_out(_bucket(source, external_id), frac)


def iter_batches(
    engine: Bind, *, batch_size: int = 5000, source: str | None = None,
    holdout_frac: float = 0.0, part: str = "train",
) -> Iterator[list[list[int]]]:
    """Playlists (song ids in order) in batches of ``batch_size`` playlists, by keyset.

    Args:
        part: ``train`` (holdout excluded), ``holdout`` (only the holdout) or ``all``.
    """
    for batch in _iter_bucketed(engine, batch_size=batch_size, source=source,
                                holdout_frac=holdout_frac, part=part):
        yield [songs for _, songs in batch]


def _iter_bucketed(engine: Bind, *, batch_size: int, source: str | None,
                   holdout_frac: float, part: str) -> Iterator[list[tuple[int, list[int]]]]:
    """:func:`iter_batches` with each playlist's holdout bucket."""
    if part not in {"train", "holdout", "all"}:
        raise ValueError(f"part must be train, holdout or all, got {part!r}")
    last = 0
    while True:
        with _connect(engine) as conn:
            query = select(Playlist.id, Playlist.source, Playlist.external_id).where(
                Playlist.id > last).order_by(Playlist.id).limit(batch_size)
            if source:
                query = query.where(Playlist.source == source)
            heads = conn.execute(query).all()
            if not heads:
                return
            last = heads[-1][0]
            buckets = {pid: _bucket(src, ext) for pid, src, ext in heads}
            wanted = [pid for pid, bucket in buckets.items()
                      if part == "all" or _held_out(bucket, holdout_frac) == (part == "holdout")]
            if not wanted:
                continue
            # a few of the batch (the holdout): only theirs, not every item in their range
            # (at 1M playlists the holdout's read took 9.7 s, 19 of 20 rows thrown away)
            within = (PlaylistItem.playlist_id.in_(wanted) if len(wanted) * 4 < len(heads)
                      else PlaylistItem.playlist_id.between(min(wanted), max(wanted)))
            items = conn.execute(
                select(PlaylistItem.playlist_id, PlaylistItem.song_id).where(within)
                .order_by(PlaylistItem.playlist_id, PlaylistItem.position)
            ).all()
        keep = set(wanted)
        batch: dict[int, list[int]] = {}
        for pid, song_id in items:
            if pid in keep:
                batch.setdefault(pid, []).append(song_id)
        yield [(buckets[pid], batch[pid]) for pid in wanted if pid in batch]


def load_playlists(engine: Bind, **kwargs: Any) -> list[list[int]]:
    """All playlists of ``part`` in memory (see :func:`iter_batches`)."""
    return [p for batch in iter_batches(engine, **kwargs) for p in batch]


def load_holdout(engine: Bind, *, holdout_frac: float, source: str | None = None,
                 max_transitions: int | None = None) -> tuple[list[list[int]], float]:
    """The held-out playlists to score, and the holdout fraction they make up.

    The whole holdout, or, when it has more than ``max_transitions`` transitions, the
    holdout of the largest smaller fraction within that bound (its lowest buckets, at least
    up to one with a transition): stable from run to run and nested in the holdout, so the
    gate scores production and candidate on the same playlists, which neither trained on.
    ``max_transitions`` defaults to :data:`EVAL_MAX_TRANSITIONS`.
    """
    if max_transitions is None:
        max_transitions = EVAL_MAX_TRANSITIONS
    rows = [row for batch in _iter_bucketed(engine, batch_size=5000, source=source,
                                            holdout_frac=holdout_frac, part="holdout")
            for row in batch]
    per_bucket: dict[int, int] = {}
    for bucket, songs in rows:
        per_bucket[bucket] = per_bucket.get(bucket, 0) + max(len(songs) - 1, 0)
    if sum(per_bucket.values()) <= max_transitions:
        return [songs for _, songs in rows], holdout_frac
    total = 0
    for bucket in sorted(per_bucket):  # the lowest buckets, up to one holding a transition
        if total and total + per_bucket[bucket] > max_transitions:
            return [songs for b, songs in rows if b < bucket], bucket / HOLDOUT_BUCKETS
        total += per_bucket[bucket]
    return [songs for _, songs in rows], holdout_frac  # one bucket: cannot be cut


def tag_seeds(song_ids: Iterable[int], tags: Mapping[int, frozenset[int]]) -> set[int]:
    """The songs whose ``similar`` tag coherence the training job and the gate score: the
    tagged ones of ``song_ids``, at most :data:`EVAL_MAX_TAG_SEEDS` (a stable sample)."""
    return set(stable_sample([s for s in song_ids if tags.get(s)], EVAL_MAX_TAG_SEEDS))


def load_tags(engine: Bind) -> dict[int, frozenset[int]]:
    """Tag ids per song id (songs without tags are absent)."""
    tags: dict[int, set[int]] = {}
    with _connect(engine) as conn:
        for song_id, tag_id in conn.execute(select(SongTag.song_id, SongTag.tag_id)):
            tags.setdefault(song_id, set()).add(tag_id)
    return {k: frozenset(v) for k, v in tags.items()}


def song_metadata(engine: Bind, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """``source``, ``external_id``, ``title``, ``artist`` and ``available`` (never to be
    recommended when false: the bundle records it) per song id (5,000 ids a query)."""
    cols = (Song.id, Song.source, Song.external_id, Song.title, Song.artist, Song.available)
    wanted = sorted({int(i) for i in ids})
    out: dict[int, dict[str, Any]] = {}
    with _connect(engine) as conn:
        for start in range(0, len(wanted), 5000):
            chunk = wanted[start:start + 5000]
            for sid, src, ext, title, artist, available in conn.execute(select(*cols).where(
                    Song.id.in_(chunk))):
                out[sid] = {"source": src, "external_id": ext, "title": title, "artist": artist,
                            "available": bool(available)}
    return out


@dataclass
class Snapshot:
    """Counts describing the data a model was trained on."""

    songs: int = 0
    playlists: int = 0
    items: int = 0
    max_playlist_id: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"songs": self.songs, "playlists": self.playlists, "items": self.items,
                "max_playlist_id": self.max_playlist_id, **self.extra}


def snapshot(engine: Bind) -> Snapshot:
    """Current catalog counts (consistent with each other only on a snapshot connection)."""
    with _connect(engine) as conn:
        return Snapshot(
            songs=conn.scalar(select(func.count()).select_from(Song)) or 0,
            playlists=conn.scalar(select(func.count()).select_from(Playlist)) or 0,
            items=conn.scalar(select(func.count()).select_from(PlaylistItem)) or 0,
            max_playlist_id=conn.scalar(select(func.max(Playlist.id))) or 0,
        )
