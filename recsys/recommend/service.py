"""The recommendation service: the one place the API and the dashboard both call.

``similar`` and ``recommend`` return plain dicts ready for JSON. Seeds are never returned;
``exclude`` and ``max_per_artist`` filter results without returning fewer than ``k`` items
while enough candidates exist. A seed the model has not seen gets a fallback — co-occurrence in
the database, then songs by the same artist, then popularity — and the response names it.
Hidden songs (``songs.available`` false, :mod:`recsys.recommend.hidden`) are never returned,
by the model or by a fallback, but work as seeds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

from recsys.db.models import ID_MAX
from recsys.recommend.catalog import Catalog, seed_artists
from recsys.recommend.model import MODES, ServingModel
from recsys.recommend.sources import popular_of, same_source

MAX_K = 500


class UnknownSongError(LookupError):
    """A song id that is neither in the model nor in the catalog."""

    def __init__(self, ids: Sequence[int]) -> None:
        super().__init__(f"unknown song id(s): {', '.join(str(i) for i in ids)}")
        self.ids = list(ids)


class UnknownExternalIdError(LookupError):
    """External ids of a source that name no song (neither in the model nor in the catalog)."""

    def __init__(self, source: str, external_ids: Sequence[str]) -> None:
        super().__init__(f"unknown external id(s) of source {source!r}: "  # each quoted:
                         f"{', '.join(map(repr, external_ids))}")  # ids may hold ", "
        self.source = source
        self.external_ids = list(external_ids)


def check_k(k: int) -> int:
    """Validate the number of results."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise ValueError(f"k must be an integer between 1 and {MAX_K}")
    return k


class RecommendationService:
    """Answers "similar to X" and "what comes next" for one loaded model."""

    def __init__(self, model: ServingModel, catalog: Catalog) -> None:
        self.model = model
        self.catalog = catalog

    # -- public -----------------------------------------------------------------------------
    def similar(self, song_id: int, k: int = 10, mode: str = "similar",
                max_per_artist: int | None = None, exclude: Collection[int] = (),
                explain: bool = False) -> dict[str, Any]:
        """Songs similar to (``similar``) or following (``next``) one song."""
        body = self._run([song_id], k, mode, max_per_artist, exclude, explain)
        body["song"] = body.pop("seeds")[0]
        return body

    def similar_json(self, song_id: int, k: int = 10, mode: str = "similar",
                     max_per_artist: int | None = None, exclude: Collection[int] = (),
                     explain: bool = False) -> str | None:
        """:meth:`similar` as JSON text (``jsonify``'s format, no trailing newline), joined
        from the model's pre-serialised songs; None when that does not apply (no
        ``song_json``, ``explain``, a song the model has not seen, a non-finite score): the
        caller then uses :meth:`similar`."""
        m = self.model
        js = m.song_json
        if js is None or explain:
            return None
        _check(k, mode, max_per_artist)
        row = m.row_of(song_id)
        if row is None:
            return None
        rows, scores = self._select(mode, np.array([row], dtype=np.int64), k, max_per_artist,
                                    set(exclude))
        scores = [round(s, 6) for s in scores.tolist()]
        if not all(map(math.isfinite, scores)):
            return None
        texts = m.songs_json([*rows.tolist(), row])
        items = ",".join([f'{{"score":{s!r},"song":{t}}}'
                          for t, s in zip(texts[:-1], scores, strict=True)])
        return (f'{{"fallback":null,"items":[{items}],"mode":{json.dumps(mode)},'
                f'"model_version":{json.dumps(m.version)},"song":{texts[-1]}}}')

    def recommend(self, song_ids: Sequence[int], k: int = 10, exclude: Collection[int] = (),
                  max_per_artist: int | None = None, explain: bool = False,
                  mode: str = "next") -> dict[str, Any]:
        """Continuation from several seed songs (seeds are never returned)."""
        if not song_ids:
            raise ValueError("song_ids must name at least one song")
        return self._run(list(dict.fromkeys(song_ids)), k, mode, max_per_artist, exclude,
                         explain)

    def resolve(self, source: str, seeds: Sequence[str], exclude: Sequence[str] = (),
                known_seed: bool = False) -> tuple[list[int], list[int]]:
        """Catalog ids of the external ids ``seeds`` and ``exclude`` of ``source``, in order.

        The model's look-up answers the songs it knows; one catalog query the rest (seeds
        the model has not seen, and excluded songs when no seed is in the model: only then
        can the answer, a fallback, come from the database). ``known_seed``: other seeds
        (catalog ids) are in the model. Excluded ids that name no song are dropped; seeds
        that name none raise :class:`UnknownExternalIdError`.
        """
        look_up = self.model.external_ids()
        seed_ids, exclude_ids = look_up.get(source, seeds), look_up.get(source, exclude)
        ask = [e for e, i in zip(seeds, seed_ids, strict=True) if i is None]
        if not known_seed and not any(i is not None for i in seed_ids):
            ask += [e for e, i in zip(exclude, exclude_ids, strict=True) if i is None]
        found = self.catalog.songs_by_external(source, ask) if ask else {}

        def ids(names: Sequence[str], from_model: list[int | None]) -> list[int | None]:
            return [i if i is not None else found[e]["id"] if e in found else None
                    for e, i in zip(names, from_model, strict=True)]

        seed_ids = ids(seeds, seed_ids)
        unknown = [e for e, i in zip(seeds, seed_ids, strict=True) if i is None]
        if unknown:
            raise UnknownExternalIdError(source, list(dict.fromkeys(unknown)))
        return ([i for i in seed_ids if i is not None],
                [i for i in ids(exclude, exclude_ids) if i is not None])

    # -- internals --------------------------------------------------------------------------
    def _run(self, ids: list[int], k: int, mode: str, max_per_artist: int | None,
             exclude: Collection[int], explain: bool) -> dict[str, Any]:
        _check(k, mode, max_per_artist)
        m = self.model
        rows = {i: m.row_of(i) for i in ids}
        unseen = [i for i, r in rows.items() if r is None]
        # ids above any the database holds are unknown without asking it
        lookup = [i for i in unseen if i <= ID_MAX]
        db_songs = self.catalog.songs(lookup) if lookup else {}
        missing = [i for i in unseen if i not in db_songs]
        if missing:
            raise UnknownSongError(missing)
        seeds = [m.song(rows[i]) if rows[i] is not None else db_songs[i] for i in ids]
        known = np.array([r for r in rows.values() if r is not None], dtype=np.int64)
        body: dict[str, Any] = {"seeds": seeds, "model_version": m.version, "mode": mode}
        if len(known):
            items = self._from_model(mode, known, k, max_per_artist, set(exclude), explain)
            body.update(items=items, fallback=None)
        else:
            items, fallback = self._fallback(ids, seeds, k, max_per_artist, set(exclude),
                                             explain)
            body.update(items=items, fallback=fallback)
        return body

    def _from_model(self, mode: str, seeds: np.ndarray, k: int, max_per_artist: int | None,
                    exclude: set[int], explain: bool) -> list[dict[str, Any]]:
        m = self.model
        rows, scores = self._select(mode, seeds, k, max_per_artist, exclude)
        items = [{"song": song, "score": round(s, 6)}
                 for song, s in zip(m.songs(rows), scores.tolist(), strict=True)]
        if explain:
            rows = np.asarray(rows, dtype=np.int64)
            # mode next: also what each term of the blend contributed
            for item, why in zip(items, m.explain(seeds, rows, mode == "next"), strict=True):
                item["why"] = why
        return items

    def _select(self, mode: str, seeds: np.ndarray, k: int, max_per_artist: int | None,
                exclude: set[int]) -> tuple[np.ndarray, np.ndarray]:
        """Best ``k`` rows and scores for known ``seeds`` (filters applied)."""
        m = self.model
        hidden = m.hidden  # one set for the whole request
        banned = {r for r in (m.row_of(i) for i in exclude) if r is not None}
        n = min(len(m), k * 3 if max_per_artist else k)
        while True:
            found = m.candidates(mode, seeds, n, banned)
            rows, scores = found.rows, found.scores
            visible = hidden.visible(rows)
            if visible is not None:
                rows, scores = rows[visible], scores[visible]
            if (mine := same_source(m, seeds, rows)) is not None:
                rows, scores = rows[mine], scores[mine]
            rows, scores = _cap_artists(m, rows, scores, max_per_artist, k)
            if len(rows) >= k or n >= len(m):
                return rows, scores
            n = min(len(m), n * 4)

    def _fallback(self, ids: list[int], seeds: list[dict[str, Any]], k: int,
                  max_per_artist: int | None, exclude: set[int],
                  explain: bool) -> tuple[list[dict[str, Any]], str]:
        m = self.model
        hidden = m.hidden
        banned = set(ids) | exclude
        chosen: list[tuple[int, float, str, int]] = []  # (song_id, score, via, n_playlists)
        for song_id, n in self.catalog.cooccurring(ids, limit=k * 5, exclude=banned):
            chosen.append((song_id, float(n), "cooccurrence", n))
        sources = frozenset(s["source"] for s in seeds if s.get("source"))  # their catalogs
        for song_id in self.catalog.same_artist(seed_artists(seeds), limit=k * 5,
                                                exclude=banned, sources=sources):
            chosen.append((song_id, 0.0, "same_artist", 0))
        popular = popular_of(m, sources)
        if (visible := hidden.visible(popular)) is not None:
            popular = popular[visible]
        for row in popular[: k * 5 + len(banned)]:
            chosen.append((int(m.song_ids[row]), float(m.counts[row]), "popularity", 0))
        seen: set[int] = set()
        unique = []
        for entry in chosen:  # the database's queries skip hidden songs too (live)
            if entry[0] not in seen and entry[0] not in banned and entry[0] not in hidden.ids:
                seen.add(entry[0])
                unique.append(entry)
        items, per_artist = [], {}
        step, meta = k * 5, {}
        for i, (song_id, score, via, n) in enumerate(unique):
            if i % step == 0:  # metadata batch by batch: max_per_artist may skip many
                meta = self._metadata([e[0] for e in unique[i: i + step]])
            song = meta.get(song_id)
            if song is None:
                continue
            artist = song["artist"].casefold()
            if max_per_artist and per_artist.get(artist, 0) >= max_per_artist:
                continue
            per_artist[artist] = per_artist.get(artist, 0) + 1
            item = {"song": song, "score": round(score, 6)}
            if explain:
                item["why"] = {"via": via, "playlists_with_seeds": n}
            items.append(item)
            if len(items) == k:
                break
        return items, unique[0][2] if unique else "popularity"

    def _metadata(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        """Song dicts from the bundle, and one batched query for the rest."""
        out, rest = {}, []
        for song_id in ids:
            row = self.model.row_of(song_id)
            if row is None:
                rest.append(song_id)
            else:
                out[song_id] = self.model.song(row)
        out.update(self.catalog.songs(rest))
        return out


def _check(k: int, mode: str, max_per_artist: int | None) -> None:
    check_k(k)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    if max_per_artist is not None and max_per_artist < 1:
        raise ValueError("max_per_artist must be a positive integer")


def _cap_artists(model: ServingModel, rows: np.ndarray, scores: np.ndarray,
                 max_per_artist: int | None, k: int) -> tuple[np.ndarray, np.ndarray]:
    if not max_per_artist:
        return rows[:k], scores[:k]
    keep, per_artist = [], {}
    for i, row in enumerate(rows):
        artist = model.artist(int(row)).casefold()
        if per_artist.get(artist, 0) < max_per_artist:
            per_artist[artist] = per_artist.get(artist, 0) + 1
            keep.append(i)
            if len(keep) == k:
                break
    return rows[keep], scores[keep]
