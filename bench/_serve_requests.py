"""The requests of ``scale_serve.py``: seeds picked from the served model, then every
model-dependent dashboard page and API request (name, path, JSON body or None for a GET)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text


def pick_ids(app, model) -> dict[str, Any]:
    """Seeds of every kind: most, median and least played songs, one without a precomputed
    list, one the model lacks, random and most-played seed lists; written to
    ``$SCALE_SERVE_IDS`` for the HTTP walk."""
    from recsys.extensions import db

    counts = np.asarray(model.counts)
    order = np.argsort(-counts, kind="stable")
    ids = model.song_ids
    rng = np.random.default_rng(0)
    listed = set() if model.listed_seeds is None else set(model.listed_seeds.tolist())
    unlisted = [int(r) for r in order[len(order) // 4:] if int(r) not in listed][:1] \
        if listed else []
    with app.app_context():
        known = set(int(i) for i in ids)
        newest = db.session.scalars(text("SELECT id FROM songs ORDER BY id DESC LIMIT 50000"))
        cold = next((int(i) for i in newest if int(i) not in known), int(ids[order[-1]]))
        top = int(ids[order[0]])
        source, external = db.session.execute(
            text("SELECT source, external_id FROM songs WHERE id = :i"), {"i": top}).one()
        random10 = [int(ids[r]) for r in rng.choice(len(ids), 10, replace=False)]
        ext10 = [e for (e,) in db.session.execute(
            text(f"SELECT external_id FROM songs WHERE id IN ({','.join(map(str, random10))})"))]
    out = {
        "top": top, "median": int(ids[order[len(order) // 2]]), "tail": int(ids[order[-1]]),
        "unlisted": int(ids[unlisted[0]]) if unlisted else int(ids[order[-1]]),
        "cold": cold, "source": source, "external_id": external,
        "run_id": model.manifest.get("training_run_id") or 1,
        "random10": random10,
        "random50": [int(ids[r]) for r in rng.choice(len(ids), 50, replace=False)],
        "top50": [int(ids[r]) for r in order[:50]],
        "top100": [int(ids[r]) for r in order[:100]],
        "exclude1000": [int(ids[r]) for r in order[100:1100]],
        "ext10": ext10,
    }
    target = os.environ.get("SCALE_SERVE_IDS")
    if target:
        Path(target).write_text(json.dumps(out))
    return out


def requests(ids: dict[str, Any], model=None) -> list[tuple[str, str, Any]]:
    """(name, path, body) of every request walked."""
    top, med, tail, unl, cold = (ids[k] for k in ("top", "median", "tail", "unlisted", "cold"))
    src, ext = ids["source"], ids["external_id"]
    ex200 = ",".join(map(str, ids["exclude1000"][:200]))
    ex1000 = ",".join(map(str, ids["exclude1000"]))
    rec = "/api/recommendations"
    walk: list[tuple[str, str, Any]] = [
        ("overview", "/admin/", None),
        ("models", "/admin/models", None),
        ("training runs", "/admin/runs", None),
        ("training run (the model's)", f"/admin/runs/{ids['run_id']}", None),
        ("song page (most played)", f"/admin/songs/{top}", None),
        ("song page (median)", f"/admin/songs/{med}", None),
        ("song page (least played)", f"/admin/songs/{tail}", None),
        ("song page (not in model)", f"/admin/songs/{cold}", None),
        ("map", "/admin/map", None),
        ("map.json", "/admin/map.json", None),
        ("api ready", "/api/ready", None),
        ("metrics", "/metrics", None),
        ("api song (in_model)", f"/api/songs/{top}", None),
        ("similar (top)", f"/api/songs/{top}/similar?k=10", None),
        ("next (top)", f"/api/songs/{top}/similar?k=10&mode=next", None),
        ("similar explain (top)", f"/api/songs/{top}/similar?k=10&explain=true", None),
        ("next explain (top)", f"/api/songs/{top}/similar?k=10&mode=next&explain=true", None),
        ("similar (no list)", f"/api/songs/{unl}/similar?k=10", None),
        ("next (no list)", f"/api/songs/{unl}/similar?k=10&mode=next", None),
        ("next explain (no list)", f"/api/songs/{unl}/similar?k=10&mode=next&explain=true",
         None),
        ("similar k=100 (top)", f"/api/songs/{top}/similar?k=100", None),
        ("next k=500 explain (top)", f"/api/songs/{top}/similar?k=500&mode=next&explain=true",
         None),
        ("similar max_per_artist=1 (top)", f"/api/songs/{top}/similar?k=10&max_per_artist=1",
         None),
        ("next max_per_artist=1 (top)",
         f"/api/songs/{top}/similar?k=10&mode=next&max_per_artist=1", None),
        ("similar exclude 200 (top)", f"/api/songs/{top}/similar?k=10&exclude={ex200}", None),
        ("next exclude 1000 (top)", f"/api/songs/{top}/similar?k=10&mode=next&exclude={ex1000}",
         None),
        ("similar (cold: fallback)", f"/api/songs/{cold}/similar?k=10&explain=true", None),
        ("similar by external id", f"/api/similar?source={src}&external_id={ext}&k=10", None),
        ("next by external id, explain",
         f"/api/similar?source={src}&external_id={ext}&k=10&mode=next&explain=true", None),
        ("recommend 1 seed", rec, {"song_ids": [top], "k": 10}),
        ("recommend 1 seed, explain", rec, {"song_ids": [top], "k": 10, "explain": True}),
        ("recommend 10 random", rec, {"song_ids": ids["random10"], "k": 10}),
        ("recommend 10 random, explain", rec,
         {"song_ids": ids["random10"], "k": 10, "explain": True}),
        ("recommend 10, max_per_artist=1", rec,
         {"song_ids": ids["random10"], "k": 10, "max_per_artist": 1}),
        ("recommend 10, exclude 1000", rec,
         {"song_ids": ids["random10"], "k": 10, "exclude": ids["exclude1000"]}),
        ("recommend 10 by external ids", rec,
         {"source": src, "external_ids": ids["ext10"], "k": 10}),
        ("recommend 50 random", rec, {"song_ids": ids["random50"], "k": 10}),
        ("recommend 50 random, explain", rec,
         {"song_ids": ids["random50"], "k": 10, "explain": True}),
        ("recommend 50 most played", rec, {"song_ids": ids["top50"], "k": 10}),
        ("recommend 50 most played, explain, k=100", rec,
         {"song_ids": ids["top50"], "k": 100, "explain": True}),
        ("recommend 100 most played, max_per_artist=1, exclude 1000", rec,
         {"song_ids": ids["top100"], "k": 50, "max_per_artist": 1,
          "exclude": ids["exclude1000"]}),
        ("recommend 50 random, mode similar", rec,
         {"song_ids": ids["random50"], "k": 10, "mode": "similar"}),
        ("recommend cold seed (fallback)", rec, {"song_ids": [cold], "k": 10, "explain": True}),
    ]
    return walk
