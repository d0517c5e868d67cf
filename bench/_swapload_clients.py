"""Client side of ``swap_under_load.py``: expected answers per model, client processes.

Every answer of a known song is checked against what the model version it names would answer
(computed here, in the benchmark's process, with the project's own service over the same
bundles): a response whose items are another version's, or whose ``ETag`` names another
version, is a mixed-model response.
"""

from __future__ import annotations

import http.client
import json
import random
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

K = 10
#: requests per keep-alive connection
RECONNECT_EVERY = 20
#: request kinds and their share of the traffic
KINDS = (("similar", 4), ("next", 3), ("revalidate", 2), ("several", 3), ("external", 2),
         ("explain", 1), ("song", 1), ("search", 1))


class _NoCatalog:
    """The service's catalog for known songs only (never asked)."""

    def __getattr__(self, name):
        raise AssertionError(f"the catalog was asked ({name}) for a known song")


def expected_answers(model_dir: Path, versions: list[str], n_songs: int = 60, seed: int = 0
                     ) -> tuple[dict, list[int], dict[int, tuple[str, str]], list[list[int]]]:
    """``{version: {query key: [song ids]}}`` for the sampled queries, the sampled songs, their
    ``(source, external_id)`` and the multi-seed queries."""
    from recsys.index.store import ModelStore
    from recsys.recommend import RecommendationService, ServingModel

    store = ModelStore(model_dir)
    models = {v: ServingModel.open(store.path(v)) for v in versions}
    common = set.intersection(*(set(m.song_ids.tolist()) for m in models.values()))
    rng = random.Random(seed)
    songs = sorted(rng.sample(sorted(common), n_songs))
    first = next(iter(models.values()))
    ext = {s: (first.song(first.row_of(s))["source"], first.song(first.row_of(s))["external_id"])
           for s in songs}
    groups = [sorted(rng.sample(songs, rng.randint(2, 5))) for _ in range(n_songs)]
    expected: dict[str, dict] = {}
    for version, model in models.items():
        svc = RecommendationService(model, _NoCatalog())
        answers = {}
        for s in songs:
            for mode in ("similar", "next"):
                body = svc.similar(s, k=K, mode=mode)
                answers[(mode, s)] = [i["song"]["id"] for i in body["items"]]
        for g in groups:
            body = svc.recommend(g, k=K)
            answers[("several", tuple(g))] = [i["song"]["id"] for i in body["items"]]
        expected[version] = answers
    return expected, songs, ext, groups


@dataclass
class Tally:
    """What one client saw."""

    records: list[tuple[float, float, str, int]] = field(default_factory=list)  # t, s, kind, st
    mixed: list[str] = field(default_factory=list)  # descriptions of inconsistent answers
    versions: list[tuple[float, float, str]] = field(default_factory=list)  # t0, t1, version
    errors: dict[str, int] = field(default_factory=dict)  # connection errors by type
    not_modified: int = 0


def client(port: int, stop, expected: dict, songs: list[int], ext: dict,
           groups: list[list[int]], seed: int, out) -> None:
    """Send requests until the event ``stop`` is set; put a :class:`Tally` on ``out``."""
    rng = random.Random(seed)
    kinds = [k for k, w in KINDS for _ in range(w)]
    tally, etags = Tally(), {}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    sent = 0
    while not stop.is_set():
        sent += 1
        if sent % RECONNECT_EVERY == 0:  # new connections reach every worker, old and new
            conn.close()
        kind = rng.choice(kinds)
        s = rng.choice(songs)
        method, url, body, headers, key = "GET", "", None, {}, None
        if kind in ("similar", "revalidate"):
            url, key = f"/api/songs/{s}/similar?k={K}", ("similar", s)
            if kind == "revalidate" and url in etags:
                headers["If-None-Match"] = etags[url]
        elif kind == "next":
            url, key = f"/api/songs/{s}/similar?k={K}&mode=next", ("next", s)
        elif kind == "external":
            source, eid = ext[s]
            url = "/api/similar?" + urllib.parse.urlencode(
                {"source": source, "external_id": eid, "k": K, "mode": "next"})
            key = ("next", s)
        elif kind in ("several", "explain"):
            g = rng.choice(groups)
            method, url, key = "POST", "/api/recommendations", ("several", tuple(g))
            body = json.dumps({"song_ids": g, "k": K, "explain": kind == "explain"})
            headers["Content-Type"] = "application/json"
        elif kind == "song":
            url = f"/api/songs/{s}"
        else:
            url = "/api/songs?" + urllib.parse.urlencode({"q": rng.choice("aeiou"), "limit": 5})
        t0 = time.time()
        try:
            conn.request(method, url, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            name = type(exc).__name__
            tally.errors[name] = tally.errors.get(name, 0) + 1
            tally.records.append((t0, time.time() - t0, kind, 0))  # status 0: no answer
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        t1 = time.time()
        tally.records.append((t0, t1 - t0, kind, resp.status))
        _check(tally, kind, key, url, headers, resp, data, expected, etags, t0, t1)
    conn.close()
    out.put(tally)


def _check(tally: Tally, kind, key, url, headers, resp, data, expected, etags, t0, t1) -> None:
    etag = resp.getheader("ETag")
    if resp.status == 304:
        tally.not_modified += 1
        if etag != headers.get("If-None-Match"):
            tally.mixed.append(f"304 for {url} with ETag {etag}, sent {headers}")
        else:  # the server still served the version of the cached copy
            tally.versions.append((t0, t1, etag[3:-1].split(".")[0]))
        return
    if resp.status != 200 or kind == "search":
        return
    doc = json.loads(data)
    version = doc.get("model_version")
    tally.versions.append((t0, t1, version))
    if key is None:
        return
    if version not in expected:
        tally.mixed.append(f"{url}: unknown model version {version}")
        return
    got = [i["song"]["id"] for i in doc["items"]]
    if got != expected[version][key]:
        tally.mixed.append(f"{url}: items are not those of {version}")
    if etag is not None:
        if not etag.startswith(f'W/"{version}'):
            tally.mixed.append(f"{url}: ETag {etag} but body of {version}")
        etags[url] = etag
