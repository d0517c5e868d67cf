"""The Hands-On LLM book's recommender served over HTTP: the baseline of ``http_bench.py``.

The book trains gensim word2vec on playlists and recommends with
``model.wv.most_similar(positive=str(song_id), topn=k)``: an exact cosine scan over every
song vector on each call. This app does exactly that per request, loading the vectors the
book's way (a full in-memory copy per process, at import time) from ``BOOK_MODEL`` (a gensim
``KeyedVectors`` or ``Word2Vec`` file). Serve it like the API::

    BOOK_MODEL=var/bench/book.kv gunicorn -k gthread -w 4 --threads 4 bench.book_app:app
"""

from __future__ import annotations

import os

from flask import Flask, jsonify, request
from gensim.utils import SaveLoad

_loaded = SaveLoad.load(os.environ["BOOK_MODEL"])
wv = getattr(_loaded, "wv", _loaded)  # Word2Vec -> model.wv; KeyedVectors as is
wv.fill_norms()

app = Flask(__name__)


@app.get("/health")
def health():
    return jsonify({"status": "ok", "songs": len(wv)})


@app.get("/api/songs/<song_id>/similar")
def similar(song_id: str):
    k = request.args.get("k", default=10, type=int)
    try:
        pairs = wv.most_similar(positive=str(song_id), topn=k)
    except KeyError:
        return jsonify({"error": {"status": 404, "message": "unknown song"}}), 404
    return jsonify({"items": [{"song_id": int(s), "score": float(v)} for s, v in pairs]})
